//! nginx serving an output tree with `deploy/nginx/piw.conf`, as the README says to deploy it,
//! on a free loopback port, with an access log that says which file answered each request.
#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub struct Nginx {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Start nginx over `root`. Panics when nginx is not installed: the tests that need it must
    /// not pass without it (`.ci/run` installs it).
    pub fn serve(root: &Path) -> Nginx {
        let program = nginx_binary().unwrap_or_else(|| {
            panic!("nginx is not installed: install it (apt-get install nginx-light; .ci/run does) to run the serving tests")
        });
        let dir = tempfile::Builder::new().prefix("piw-nginx-").tempdir().expect("nginx dir");
        let port = super::secure::free_port();
        let snippet = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/piw.conf");
        let d = dir.path().display();
        // As root, the workers would run as nobody, who cannot read a private temporary tree.
        let user = if unsafe { libc::geteuid() } == 0 { "user root;" } else { "" };
        let config = format!(
            "{user}\ndaemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\n\
             http {{\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n\
             log_format piw '$status $request_method $uri accept=\"$http_accept\" type=\"$sent_http_content_type\"';\n\
             access_log {d}/access.log piw;\n\
             client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
             server {{\n    listen 127.0.0.1:{port};\n    root {root};\n    include {snippet};\n  }}\n}}\n",
            root = root.display(),
            snippet = snippet.display(),
        );
        std::fs::write(dir.path().join("nginx.conf"), config).expect("nginx.conf");
        let child = Command::new(program)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(dir.path().join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let nginx = Nginx { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen on {port}: {}", nginx.error_log());
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// One line per request: `STATUS METHOD URI accept="..." type="..."`, the URI being the file
    /// that answered (after `index`).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nginx` from PATH, or where Debian puts it.
fn nginx_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]).map(|dir| dir.join("nginx")).find(|candidate| candidate.is_file())
}
