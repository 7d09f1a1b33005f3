//! piw-rebuild: queue a rebuild of part of the website (piw.rebuild).
use std::process::ExitCode;

use crate::{
    admin::Part,
    cli::{request, CommonArgs, FutureExt, Request, WaitArgs},
};

/// Queue a rebuild of part of the website, e.g. after manual fixes to the database or the file
/// system. Parts: home (index.html), search (packages.json), project (project/PACKAGE/ pages),
/// index (simple/PACKAGE/index.html and the project pages). Without a package, project and index
/// mean every package, which asks first. Returns once queued (or, with --wait, done).
#[derive(Debug, clap::Parser)]
#[command(name = "piw-rebuild", version)]
pub struct Args {
    /// The part of the website to rebuild
    #[arg(value_enum)]
    pub part: Part,
    /// The package whose pages to rebuild (project and index only; omit for every package)
    pub package: Option<String>,
    /// Run non-interactively; never prompt during operation
    #[arg(short, long)]
    pub yes: bool,
    /// Print what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args) -> ExitCode {
    let every_package = args.part.takes_package() && args.package.is_none();
    let confirm =
        every_package.then(|| (format!("Rebuild the {} pages of every package? This can take a long time.", args.part.as_str()), args.yes));
    let (part, package) = (args.part, args.package.clone());
    Request {
        tool: "piw-rebuild",
        common: &args.common,
        output_path: None,
        confirm,
        preview: false,
        wait: args.wait.wait(),
        dry_run: args.dry_run,
    }
    .run(move |client, _| {
        let package = package.clone();
        async move {
            request(crate::admin::rebuild(client, part, package.as_deref())).await?;
            Ok(match package {
                Some(package) => format!("queued a rebuild of the {} pages of {package}", part.as_str()),
                None => format!("queued a rebuild of {}", part.as_str()),
            })
        }
        .boxed()
    })
}
