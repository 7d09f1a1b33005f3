//! piw-skip: skip or unskip a package or a version (piw.skip_package, piw.skip_version ...).
use std::process::ExitCode;

use clap::Parser;
use piw::cli::{connect, finish, wait_until_drained, CliError, CommonArgs};

/// Mark a package, or one version of it, so that it is never built again and its files are no
/// longer published; with --unskip, clear the mark. The pages are rebuilt either way.
#[derive(Debug, Parser)]
#[command(name = "piw-skip", version)]
struct Args {
    /// The package to skip
    package: String,
    /// The version to skip (omit to skip the whole package)
    #[arg(value_name = "VERSION")]
    package_version: Option<String>,
    /// Why it is skipped (shown on the project page)
    #[arg(long, value_name = "TEXT", default_value = "skipped by admin", conflicts_with = "unskip")]
    reason: String,
    /// Clear the skip mark instead
    #[arg(long)]
    unskip: bool,
    /// Wait until the listener has rebuilt the pages
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    finish("piw-skip", run(args).await)
}

async fn run(args: Args) -> Result<(), CliError> {
    args.common.init_logging()?;
    let client = connect(&args.common).await?;
    let (package, reason) = (args.package.as_str(), args.reason.as_str());
    match (&args.package_version, args.unskip) {
        (None, false) => piw::admin::skip_package(&client, package, reason).await.map_err(CliError::from_request)?,
        (None, true) => piw::admin::unskip_package(&client, package).await.map_err(CliError::from_request)?,
        (Some(version), false) => piw::admin::skip_version(&client, package, version, reason).await.map_err(CliError::from_request)?,
        (Some(version), true) => piw::admin::unskip_version(&client, package, version).await.map_err(CliError::from_request)?,
    }
    let what = match &args.package_version {
        Some(version) => format!("version {version} of package {package}"),
        None => format!("package {package}"),
    };
    tracing::info!("{} {what}", if args.unskip { "unskipped" } else { "skipped" });
    if args.wait {
        wait_until_drained(&client).await?;
    }
    Ok(())
}
