//! piw-remove: remove a version of a package (piw.remove_version).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::{confirm, connect, finish, wait_until_drained, CliError, CommonArgs};

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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    finish("piw-remove", run(args).await)
}

async fn run(args: Args) -> Result<(), CliError> {
    args.common.init_logging()?;
    confirm(&format!("Remove version {} of package {} (its builds, files and downloads)?", args.package_version, args.package), args.yes)?;
    let client = connect(&args.common).await?;
    piw::admin::remove_version(&client, &args.package, &args.package_version, args.skip).await.map_err(CliError::from_request)?;
    tracing::info!(
        "removed version {} of package {}{}",
        args.package_version,
        args.package,
        if args.skip { " and marked it skipped" } else { "" }
    );
    if args.wait {
        wait_until_drained(&client).await?;
    }
    Ok(())
}
