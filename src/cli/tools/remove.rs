//! piw-remove: remove a version of a package (piw.remove_version).

use std::process::ExitCode;

use crate::cli::{request, CommonArgs, FutureExt, Request};

/// Remove a version of a package: forget all its builds, delete its files and logged downloads,
/// and queue deletion of its wheels and rebuild of its pages. Without --skip the version may be
/// built again later; with --skip it never will be. Returns once the work is queued (or, with
/// --wait, done).
#[derive(Debug, clap::Parser)]
#[command(name = "piw-remove", version)]
pub struct Args {
    /// The name of the package to remove
    pub package: String,
    /// The version of the package to remove
    #[arg(value_name = "VERSION")]
    pub package_version: String,
    /// Mark the version to prevent future build attempts
    #[arg(short, long)]
    pub skip: bool,
    /// Run non-interactively; never prompt during operation
    #[arg(short, long)]
    pub yes: bool,
    /// Wait until the listener has deleted the files and rebuilt the pages
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args) -> ExitCode {
    let question = format!("Remove version {} of package {} (its builds, files and downloads)?", args.package_version, args.package);
    let (package, version, skip) = (args.package.clone(), args.package_version.clone(), args.skip);
    Request { tool: "piw-remove", common: &args.common, output_path: None, confirm: Some((question, args.yes)), wait: args.wait }.run(
        move |client, _| {
            async move {
                request(crate::admin::remove_version(client, &package, &version, skip)).await?;
                let skipped = if skip { " and marked it skipped" } else { "" };
                Ok(format!("removed version {version} of package {package}{skipped}"))
            }
            .boxed()
        },
    )
}
