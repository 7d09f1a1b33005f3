//! piw-yank: yank or unyank a version (piw.yank_version, piw.unyank_version).
use std::process::ExitCode;

use crate::cli::{request, CommonArgs, FutureExt, Request, WaitArgs};

/// Yank a version (PEP 592): its files stay published, marked yanked, so pip and uv skip them
/// unless the version is pinned (and then show the reason); with --undo, unyank it. The pages
/// are rebuilt either way.
#[derive(Debug, clap::Parser)]
#[command(name = "piw-yank", version)]
pub struct Args {
    /// The package
    pub package: String,
    /// The version to yank
    #[arg(value_name = "VERSION")]
    pub package_version: String,
    /// Why it is yanked (shown by installers and on the project page)
    #[arg(long, value_name = "TEXT", default_value = "", conflicts_with = "undo")]
    pub reason: String,
    /// Unyank the version instead
    #[arg(long)]
    pub undo: bool,
    /// Print what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args) -> ExitCode {
    let (package, version, reason, undo) = (args.package.clone(), args.package_version.clone(), args.reason.clone(), args.undo);
    Request {
        tool: "piw-yank",
        common: &args.common,
        output_path: None,
        confirm: None,
        preview: false,
        wait: args.wait.wait(),
        dry_run: args.dry_run,
    }
    .run(move |client, _| {
        let (package, version, reason) = (package.clone(), version.clone(), reason.clone());
        async move {
            if undo {
                request(crate::admin::unyank_version(client, &package, &version)).await?;
                Ok(format!("unyanked version {version} of package {package}"))
            } else {
                request(crate::admin::yank_version(client, &package, &version, &reason)).await?;
                Ok(format!("yanked version {version} of package {package}"))
            }
        }
        .boxed()
    })
}
