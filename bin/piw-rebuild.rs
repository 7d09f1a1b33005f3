//! piw-rebuild: queue a rebuild of part of the website (piw.rebuild).
use std::process::ExitCode;

use clap::Parser;
use piw::{
    admin::Part,
    cli::{confirm, connect, finish, wait_until_drained, CliError, CommonArgs},
};

/// Queue a rebuild of part of the website, e.g. after manual fixes to the database or the file
/// system. Parts: home (index.html), search (packages.json), project (project/PACKAGE/ pages),
/// index (simple/PACKAGE/index.html and the project pages). Without a package, project and index
/// mean every package, which asks first. Returns once queued (or, with --wait, done).
#[derive(Debug, Parser)]
#[command(name = "piw-rebuild", version)]
struct Args {
    /// The part of the website to rebuild
    #[arg(value_enum)]
    part: Part,
    /// The package whose pages to rebuild (project and index only; omit for every package)
    package: Option<String>,
    /// Run non-interactively; never prompt during operation
    #[arg(short, long)]
    yes: bool,
    /// Wait until the listener has rebuilt the pages
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    finish("piw-rebuild", run(args).await)
}

async fn run(args: Args) -> Result<(), CliError> {
    args.common.init_logging()?;
    if args.part.takes_package() && args.package.is_none() {
        confirm(&format!("Rebuild the {} pages of every package? This can take a long time.", args.part.as_str()), args.yes)?;
    }
    let client = connect(&args.common).await?;
    piw::admin::rebuild(&client, args.part, args.package.as_deref()).await?;
    match &args.package {
        Some(package) => tracing::info!("queued a rebuild of the {} pages of {package}", args.part.as_str()),
        None => tracing::info!("queued a rebuild of {}", args.part.as_str()),
    }
    if args.wait {
        wait_until_drained(&client).await?;
    }
    Ok(())
}
