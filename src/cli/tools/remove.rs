//! piw-remove: remove a version of a package (piw.remove_version), or the whole package
//! (piw.remove_package).
use std::process::ExitCode;

use crate::cli::{request, CommonArgs, FutureExt, Request, WaitArgs};

/// Remove a version of a package: forget all its builds, delete its files and logged downloads,
/// and queue deletion of its wheels and rebuild of its pages. With no version, remove every
/// version and the package itself (its pages and directories go too). Without --skip it may be
/// built again later; with --skip it never will be. Asks first, showing what would go. Returns
/// once the work is queued (or, with --wait, done).
#[derive(Debug, clap::Parser)]
#[command(name = "piw-remove", version)]
pub struct Args {
    /// The name of the package to remove
    pub package: String,
    /// The version of the package to remove (omit to remove the whole package)
    #[arg(value_name = "VERSION")]
    pub package_version: Option<String>,
    /// Mark the version (or package) to prevent future build attempts
    #[arg(short, long)]
    pub skip: bool,
    /// Run non-interactively; never prompt during operation
    #[arg(short, long)]
    pub yes: bool,
    /// Print what would be removed and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args) -> ExitCode {
    let question = match &args.package_version {
        Some(version) => format!("Remove version {version} of package {}?", args.package),
        None => format!("Remove package {} and every version of it?", args.package),
    };
    let (package, version, skip) = (args.package.clone(), args.package_version.clone(), args.skip);
    let run = Request {
        tool: "piw-remove",
        common: &args.common,
        output_path: None,
        confirm: Some((question, args.yes)),
        preview: true,
        wait: args.wait.wait(),
        dry_run: args.dry_run,
    };
    run.run(move |client, _| {
        let (package, version) = (package.clone(), version.clone());
        async move {
            let skipped = if skip { " and marked it skipped" } else { "" };
            match version {
                Some(version) => {
                    request(crate::admin::remove_version(client, &package, &version, skip)).await?;
                    Ok(format!("removed version {version} of package {package}{skipped}"))
                }
                None => {
                    request(crate::admin::remove_package(client, &package, skip)).await?;
                    Ok(format!("removed package {package}{skipped}"))
                }
            }
        }
        .boxed()
    })
}
