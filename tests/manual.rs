//! The man pages (`deploy/man/`) and shell completions (`deploy/completions/`) are made from the
//! tools' clap definitions, `piw::cli::tools::commands()`. This test makes them again in memory
//! and fails when a committed file differs, is missing, or is left over from a tool that is gone;
//! `PIW_BLESS=1 cargo test --test manual` writes them afresh.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use clap_complete::Shell;

/// Set to rewrite the committed files instead of comparing them.
const BLESS: &str = "PIW_BLESS";

/// The directories under `deploy/` this test owns: everything in them is generated.
const GENERATED_DIRS: [&str; 2] = ["man", "completions"];

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Every generated file, by its path under `deploy/`. Completions are laid out as their shells
/// look for them, so that each directory can be copied as it is (README, "Installing as a
/// service").
fn generated() -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for command in piw::cli::tools::commands() {
        let name = command.get_name().to_owned();
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone()).render(&mut page).expect("render the man page");
        // man1/ under man/, as in a MANPATH directory: `MANPATH=deploy/man man piw-listener`.
        files.insert(PathBuf::from(format!("man/man1/{name}.1")), page);
        for (shell, path) in [
            (Shell::Bash, format!("completions/bash/{name}")),
            (Shell::Zsh, format!("completions/zsh/_{name}")),
            (Shell::Fish, format!("completions/fish/{name}.fish")),
        ] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command.clone(), &name, &mut script);
            files.insert(PathBuf::from(path), script);
        }
    }
    files
}

/// The committed files under the generated directories, by their path under `deploy/`.
fn committed() -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.expect("read a directory entry").path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path.strip_prefix(root).expect("under deploy/").to_owned();
                files.insert(relative, std::fs::read(&path).expect("read a committed file"));
            }
        }
    }
    let mut files = BTreeMap::new();
    for dir in GENERATED_DIRS {
        walk(&deploy(), &deploy().join(dir), &mut files);
    }
    files
}

fn bless(files: &BTreeMap<PathBuf, Vec<u8>>) {
    for dir in GENERATED_DIRS {
        let _ = std::fs::remove_dir_all(deploy().join(dir));
    }
    for (path, bytes) in files {
        let path = deploy().join(path);
        std::fs::create_dir_all(path.parent().expect("a file under deploy/")).expect("create the directory");
        std::fs::write(&path, bytes).expect("write a generated file");
    }
}

#[test]
fn man_pages_and_completions_are_up_to_date() {
    let generated = generated();
    if std::env::var_os(BLESS).is_some_and(|value| !value.is_empty()) {
        bless(&generated);
    }
    let committed = committed();
    let stale: Vec<_> = generated.iter().filter(|(path, bytes)| committed.get(*path) != Some(bytes)).map(|(path, _)| path).collect();
    let left_over: Vec<_> = committed.keys().filter(|path| !generated.contains_key(*path)).collect();
    assert!(
        stale.is_empty() && left_over.is_empty(),
        "deploy/ is out of step with the tools' clap definitions: missing or stale {stale:?}, left over {left_over:?}; \
         run `{BLESS}=1 cargo test --test manual` and commit what it writes"
    );
}

/// clap's own checks of a definition (conflicting short flags, bad defaults ...), which it
/// otherwise makes only in a debug build of the tool when that tool runs.
#[test]
fn every_tool_definition_passes_clap_checks() {
    for command in piw::cli::tools::commands() {
        command.debug_assert();
    }
}

/// A tool the list forgets would ship without a man page; the bins in Cargo.toml are the tools.
#[test]
fn every_binary_is_in_the_list_of_tools() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).expect("Cargo.toml");
    let mut bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|table| table.lines().find_map(|line| line.trim().strip_prefix("name = ")))
        .map(|name| name.trim_matches('"'))
        .collect();
    bins.sort_unstable();
    let tools: Vec<String> = piw::cli::tools::commands().iter().map(|command| command.get_name().to_owned()).collect();
    assert_eq!(bins, tools);
}
