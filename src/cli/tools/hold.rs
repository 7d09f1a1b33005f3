//! piw-hold: hold or release a version (piw.hold_version, piw.release_version).
use std::process::ExitCode;

use crate::cli::{request, CommonArgs, FutureExt, Request, WaitArgs};

/// Hold a version: its wheels stay on disk but are withheld (moved out of the served tree, gone
/// from the simple and project pages' links) until it is released; wheels imported into it
/// meanwhile are withheld too. With --release, publish them again. Operators may do either.
#[derive(Debug, clap::Parser)]
#[command(name = "piw-hold", version)]
pub struct Args {
    /// The package
    pub package: String,
    /// The version to hold
    #[arg(value_name = "VERSION")]
    pub package_version: String,
    /// Why it is held (shown on the project page)
    #[arg(long, value_name = "TEXT", default_value = "held by admin", conflicts_with = "release")]
    pub reason: String,
    /// Release the version instead
    #[arg(long)]
    pub release: bool,
    /// Print what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args) -> ExitCode {
    let (package, version, reason, release) = (args.package.clone(), args.package_version.clone(), args.reason.clone(), args.release);
    Request {
        tool: "piw-hold",
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
            if release {
                request(crate::admin::release_version(client, &package, &version)).await?;
                Ok(format!("released version {version} of package {package}"))
            } else {
                request(crate::admin::hold_version(client, &package, &version, &reason)).await?;
                Ok(format!("held version {version} of package {package}"))
            }
        }
        .boxed()
    })
}
