//! A Python virtual environment with packages from PyPI, for the tests that run real clients and
//! validators (pypi-simple, the Nu HTML checker, Selenium). It lives under the target directory
//! (`target/tmp/piw-venv-NAME`) and is kept between runs: pip leaves what is installed alone,
//! so only the first run needs the network. Delete the directory to get the newest releases.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::Command,
};

pub struct Venv {
    dir: PathBuf,
}

impl Venv {
    /// The environment `name`, made if missing (or broken), with `packages` installed. Panics
    /// when python3 or PyPI cannot be had: the tests that need them must not pass without them.
    /// One process at a time per name: callers share one through a `OnceLock`.
    pub fn with(name: &str, packages: &[&str]) -> Venv {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("piw-venv-{name}"));
        let venv = Venv { dir };
        let works = Command::new(venv.python()).args(["-c", "pass"]).output().is_ok_and(|o| o.status.success());
        if !works {
            let _ = std::fs::remove_dir_all(&venv.dir);
            let made = Command::new("python3").args(["-m", "venv"]).arg(&venv.dir).output().expect("python3 -m venv");
            assert!(made.status.success(), "python3 -m venv: {}", String::from_utf8_lossy(&made.stderr));
        }
        let installed = Command::new(venv.python())
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .args(packages)
            .env("PIP_CONFIG_FILE", "/dev/null")
            .output()
            .expect("python -m pip install");
        assert!(installed.status.success(), "{packages:?} from PyPI: {}", String::from_utf8_lossy(&installed.stderr));
        venv
    }

    pub fn python(&self) -> PathBuf {
        self.dir.join("bin/python")
    }

    /// A command installed into the environment (`uv`).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    /// Run `script` (a file of tests/support/python/) with `args`; its stdout, parsed as JSON.
    /// Panics with its stderr when it fails.
    pub fn run_json(&self, flags: &[&str], script: &str, args: &[String]) -> serde_json::Value {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/python").join(script);
        let run = Command::new(self.python()).args(flags).arg(&path).args(args).output().unwrap_or_else(|e| panic!("{script}: {e}"));
        assert!(run.status.success(), "{script} failed:\n{}", String::from_utf8_lossy(&run.stderr));
        serde_json::from_slice(&run.stdout)
            .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}):\n{}", String::from_utf8_lossy(&run.stdout)))
    }
}
