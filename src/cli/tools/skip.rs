//! piw-skip: skip or unskip a package or a version (piw.skip_package, piw.skip_version ...).
use std::process::ExitCode;

use crate::cli::{request, CommonArgs, FutureExt, Request, WaitArgs};

/// Mark a package, or one version of it, so that it is never built again and its files are no
/// longer published; with --unskip, clear the mark. The pages are rebuilt either way.
#[derive(Debug, clap::Parser)]
#[command(name = "piw-skip", version)]
pub struct Args {
    /// The package to skip
    pub package: String,
    /// The version to skip (omit to skip the whole package)
    #[arg(value_name = "VERSION")]
    pub package_version: Option<String>,
    /// Why it is skipped (shown on the project page)
    #[arg(long, value_name = "TEXT", default_value = "skipped by admin", conflicts_with = "unskip")]
    pub reason: String,
    /// Clear the skip mark instead
    #[arg(long)]
    pub unskip: bool,
    /// Print what would change and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args) -> ExitCode {
    let (package, version, reason, unskip) = (args.package.clone(), args.package_version.clone(), args.reason.clone(), args.unskip);
    Request {
        tool: "piw-skip",
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
            match (&version, unskip) {
                (None, false) => request(crate::admin::skip_package(client, &package, &reason)).await?,
                (None, true) => request(crate::admin::unskip_package(client, &package)).await?,
                (Some(version), false) => request(crate::admin::skip_version(client, &package, version, &reason)).await?,
                (Some(version), true) => request(crate::admin::unskip_version(client, &package, version)).await?,
            }
            let what = match &version {
                Some(version) => format!("version {version} of package {package}"),
                None => format!("package {package}"),
            };
            Ok(format!("{} {what}", if unskip { "unskipped" } else { "skipped" }))
        }
        .boxed()
    })
}
