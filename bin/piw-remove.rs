//! piw-remove: remove a version of a package (piw.remove_version).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::{request, CommonArgs, FutureExt, Request};

/// Remove a version of a package: forget all its builds, delete its files and logged downloads,
/// and queue deletion of its wheels and rebuild of its pages. Without --skip the version may be
/// built again later; with --skip it never will be. Returns once the work is queued (or, with
/// --wait, done).
#[derive(Debug, Parser)]
#[command(name = "piw-remove", version)]
struct Args {
    /// The name of the package to remove
    package: String,
    /// The version of the package to remove
    #[arg(value_name = "VERSION")]
    package_version: String,
    /// Mark the version to prevent future build attempts
    #[arg(short, long)]
    skip: bool,
    /// Run non-interactively; never prompt during operation
    #[arg(short, long)]
    yes: bool,
    /// Wait until the listener has deleted the files and rebuilt the pages
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let question = format!("Remove version {} of package {} (its builds, files and downloads)?", args.package_version, args.package);
    let (package, version, skip) = (args.package.clone(), args.package_version.clone(), args.skip);
    Request { tool: "piw-remove", common: &args.common, output_path: None, confirm: Some((question, args.yes)), wait: args.wait }.run(
        move |client, _| {
            async move {
                request(piw::admin::remove_version(client, &package, &version, skip)).await?;
                let skipped = if skip { " and marked it skipped" } else { "" };
                Ok(format!("removed version {version} of package {package}{skipped}"))
            }
            .boxed()
        },
    )
}
