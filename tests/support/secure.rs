//! A second private cluster, started once per test binary, that accepts nothing but TLS with SCRAM
//! over TCP on 127.0.0.1 (and trust over its own socket for the superuser, to set things up). Its
//! certificates come from a CA made for the run; a second, unrelated CA is there for "wrong CA"
//! tests. Like `cluster()`, it is stopped and deleted by a reaper when the test process exits.
#![allow(dead_code)]

use std::{
    fs,
    net::TcpListener,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicUsize, Ordering},
        OnceLock,
    },
};

use piw::cluster::{Cluster, SUPERUSER};

use super::scratch::{scratch_parent, BoxError, ScratchCluster};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio_postgres::{Client, Config};

/// The role the TLS tests log in as: a member of piw_admin, which is all the tools and the listener
/// need.
pub const LOGIN_USER: &str = "piw_user";

const TEMPLATE: &str = "piw_template";

pub struct SecureCluster {
    /// Everything of this cluster lives below its root (PgBouncer's files too).
    scratch: ScratchCluster,
    port: u16,
    password: String,
    /// The account the server runs as, when it is not ours (we are root).
    run_as: Option<(u32, u32)>,
    tls: ClientFiles,
}

static SECURE: OnceLock<SecureCluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The TLS-only cluster of this test binary, started on first use.
pub fn secure_cluster() -> &'static SecureCluster {
    SECURE.get_or_init(|| start().unwrap_or_else(|e| panic!("cannot start the TLS test cluster: {e}")))
}

/// A TCP port on 127.0.0.1 that was free a moment ago. Another process may take it before we bind
/// it: PgBouncer then retries with another port; for the server (started once per binary) it is
/// rare enough to accept, and its start fails after `spawn_postmaster`'s deadline.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl SecureCluster {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// PEM of the CA that signed the server and client certificates.
    pub fn ca_cert(&self) -> &Path {
        &self.tls.ca_cert
    }

    /// PEM of a CA that signed nothing this server presents.
    pub fn other_ca_cert(&self) -> &Path {
        &self.tls.other_ca_cert
    }

    /// A client certificate for LOGIN_USER (CN = LOGIN_USER), signed by the CA.
    pub fn client_cert(&self) -> &Path {
        &self.tls.client_cert
    }

    /// The client certificate's key, mode 0600 as libpq demands.
    pub fn client_key(&self) -> &Path {
        &self.tls.client_key
    }

    /// LOGIN_USER's password, random for each run.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// A fresh database cloned from the migrated template, owned by the superuser.
    pub async fn new_database(&self) -> String {
        let name = format!("s_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::SeqCst));
        let admin = self.superuser("postgres").await;
        admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}")).await.expect("clone the template");
        name
    }

    /// A libpq DSN for LOGIN_USER without a password (tests pass it as they see fit).
    pub fn dsn(&self, dbname: &str) -> String {
        format!(
            "host=localhost port={} user={LOGIN_USER} dbname={dbname} sslmode=verify-full sslrootcert={}",
            self.port,
            self.ca_cert().display()
        )
    }

    /// A superuser connection over the Unix socket (trust), for setup and assertions.
    pub async fn superuser(&self, dbname: &str) -> Client {
        connect(&self.superuser_config(dbname)).await.unwrap_or_else(|e| panic!("superuser connection to {dbname}: {e}"))
    }

    /// Settings for the superuser over the socket. `Cluster::config` names the socket after the
    /// default port, but this server's port (which names its socket too) is the TCP one.
    pub fn superuser_config(&self, dbname: &str) -> Config {
        let mut config = Config::new();
        config.host_path(self.scratch.cluster.socket_dir()).port(self.port).user(SUPERUSER).dbname(dbname);
        config
    }

    /// Where a helper (PgBouncer) may put files of its own: deleted with the cluster.
    pub(super) fn scratch_root(&self) -> &Path {
        self.scratch.root()
    }

    /// The (uid, gid) that helpers refusing to run as root (PgBouncer) should run as.
    pub(super) fn run_as(&self) -> Option<(u32, u32)> {
        self.run_as
    }
}

/// The files a client needs, all PEM.
struct ClientFiles {
    ca_cert: PathBuf,
    other_ca_cert: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

/// The one place a test connection is opened: piw's connection code is changing (TLS, libpq
/// variables), and the superuser's socket connection needs none of it.
async fn connect(config: &Config) -> Result<Client, String> {
    piw::db::connect_with(config).await.map_err(|e| e.to_string())
}

fn start() -> Result<SecureCluster, BoxError> {
    let (scratch, (run_as, tls, port)) = ScratchCluster::start_prepared(&scratch_parent(), "piw-tls-", &[], |cluster, root| {
        // The data directory belongs to the account the server runs as: files for it go to that owner.
        let data = fs::metadata(cluster.data_dir())?;
        let run_as = is_root().then_some((data.uid(), data.gid()));
        let tls = write_certificates(cluster, &root.join("tls"), (data.uid(), data.gid()))?;
        let port = free_port();
        configure(cluster, port)?;
        Ok((run_as, tls, port))
    })?;
    let password: String = std::iter::repeat_with(fastrand::alphanumeric).take(24).collect();
    let secure = SecureCluster { scratch, port, password, run_as, tls };
    prepare_template(secure.superuser_config("postgres"), secure.password.clone())?;
    Ok(secure)
}

/// TLS on the loopback address with SCRAM, and nothing else: pg_hba.conf is replaced whole, so a
/// plaintext or password-less TCP connection is refused by the server itself.
fn configure(cluster: &Cluster, port: u16) -> std::io::Result<()> {
    let data = cluster.data_dir();
    let conf_path = data.join("postgresql.conf");
    let mut conf = fs::read_to_string(&conf_path)?;
    // Later settings win: these override the socket-only ones that `Cluster::initialize` wrote.
    conf.push_str(&format!(
        "\n# piw tests: TLS and SCRAM only\n\
         listen_addresses = '127.0.0.1'\n\
         port = {port}\n\
         ssl = on\n\
         ssl_cert_file = 'server.crt'\n\
         ssl_key_file = 'server.key'\n\
         ssl_ca_file = 'ca.crt'\n\
         password_encryption = 'scram-sha-256'\n"
    ));
    fs::write(&conf_path, conf)?;
    fs::write(
        data.join("pg_hba.conf"),
        format!(
            "local all {SUPERUSER} trust\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostssl all all ::1/128 scram-sha-256\n"
        ),
    )
}

/// A CA, a server certificate for `localhost` and 127.0.0.1, a client certificate for LOGIN_USER,
/// and an unrelated CA. The server's files go into its data directory, given to `owner` (the
/// server checks that its key is private to it); the client's files go into `client_dir`.
fn write_certificates(cluster: &Cluster, client_dir: &Path, owner: (u32, u32)) -> Result<ClientFiles, BoxError> {
    let (ca_pem, ca) = certificate_authority("piw test CA")?;
    let (other_ca_pem, _) = certificate_authority("piw unrelated CA")?;
    let (server_pem, server_key) =
        leaf(&ca, "localhost", vec!["localhost".to_owned(), "127.0.0.1".to_owned()], ExtendedKeyUsagePurpose::ServerAuth)?;
    let (client_pem, client_key) = leaf(&ca, LOGIN_USER, Vec::new(), ExtendedKeyUsagePurpose::ClientAuth)?;

    let data = cluster.data_dir();
    for (name, contents, mode) in [("server.crt", &server_pem, 0o644), ("server.key", &server_key, 0o600), ("ca.crt", &ca_pem, 0o644)] {
        let path = data.join(name);
        write_file(&path, contents, mode)?;
        std::os::unix::fs::chown(&path, Some(owner.0), Some(owner.1))?;
    }

    fs::create_dir(client_dir)?;
    // Open to all: PgBouncer, run as the postgres account, reads the CA from here.
    fs::set_permissions(client_dir, fs::Permissions::from_mode(0o755))?;
    let files = ClientFiles {
        ca_cert: client_dir.join("ca.crt"),
        other_ca_cert: client_dir.join("other-ca.crt"),
        client_cert: client_dir.join("client.crt"),
        client_key: client_dir.join("client.key"),
    };
    write_file(&files.ca_cert, &ca_pem, 0o644)?;
    write_file(&files.other_ca_cert, &other_ca_pem, 0o644)?;
    write_file(&files.client_cert, &client_pem, 0o644)?;
    // libpq refuses a client key that group or others may read.
    write_file(&files.client_key, &client_key, 0o600)?;
    Ok(files)
}

fn certificate_authority(name: &str) -> Result<(String, Issuer<'static, KeyPair>), rcgen::Error> {
    let mut params = CertificateParams::new(Vec::new())?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

/// A certificate signed by `ca`, and its key, both PEM.
fn leaf(
    ca: &Issuer<'static, KeyPair>,
    common_name: &str,
    alt_names: Vec<String>,
    usage: ExtendedKeyUsagePurpose,
) -> Result<(String, String), rcgen::Error> {
    let mut params = CertificateParams::new(alt_names)?;
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, ca)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Create the file with its final mode, so a key is never readable by others even for a moment.
fn write_file(path: &Path, contents: &str, mode: u32) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    file.write_all(contents.as_bytes())?;
    // The umask may have taken bits away from a public file.
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// Migrate the template once and create LOGIN_USER (roles belong to the cluster; piw_admin exists
/// once the template is migrated). On a runtime of its own: callers may be inside another runtime.
fn prepare_template(config: Config, password: String) -> Result<(), BoxError> {
    std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            let admin = connect(&config).await?;
            admin.batch_execute(&format!("CREATE DATABASE {TEMPLATE}")).await.map_err(|e| e.to_string())?;
            let mut template_config = config.clone();
            template_config.dbname(TEMPLATE);
            let mut client = connect(&template_config).await?;
            piw::schema::migrate(&mut client).await.map_err(|e| e.to_string())?;
            admin
                .batch_execute(&format!("CREATE ROLE {LOGIN_USER} LOGIN PASSWORD '{password}' IN ROLE piw_admin"))
                .await
                .map_err(|e| e.to_string())
        })
    })
    .join()
    .map_err(|_| "template migration panicked")??;
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
