//! TLS as libpq does it: what each `sslmode` verifies, where certificates come from, and a
//! rustls client configuration that does exactly that.

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    client::danger::ServerCertVerifier,
    crypto::CryptoProvider,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    ClientConfig, RootCertStore,
};

use super::{verify, DsnError};

/// libpq's `sslmode`, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(value: &str) -> Result<Self, DsnError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(DsnError::InvalidValue {
                    key: "sslmode".into(),
                    value: value.into(),
                    expected: "disable, allow, prefer, require, verify-ca or verify-full",
                })
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// What tokio-postgres is told: it knows only whether TLS is off, wanted or required. `allow`
    /// (plaintext first, TLS if the server insists) is taken as `prefer`: TLS whenever the server
    /// offers it, which is never weaker.
    pub fn for_driver(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => tokio_postgres::config::SslMode::Require,
        }
    }
}

/// Where trusted root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file (`sslrootcert`, or `~/.postgresql/root.crt`).
    File(PathBuf),
    /// The operating system's trust store (`sslrootcert=system`).
    System,
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Not at all: `prefer` and `require` without a root certificate file, as libpq does. The
    /// connection is encrypted, but a machine in the middle is not detected.
    None,
    /// Signed by a trusted root; any name (`verify-ca`, and `require` when a root file exists).
    Chain(RootCerts),
    /// Signed by a trusted root and valid for the host name connected to (`verify-full`).
    ChainAndName(RootCerts),
}

/// Everything TLS needs to know, resolved from the connection parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub verification: Verification,
    /// The client certificate and its private key, when there is one.
    pub client_identity: Option<(PathBuf, PathBuf)>,
    pub sni: bool,
    /// Only TLS 1.3, when `ssl_min_protocol_version=TLSv1.3`.
    pub tls13_only: bool,
    /// Only TLS 1.2, when `ssl_max_protocol_version=TLSv1.2`.
    pub tls12_only: bool,
}

/// The TLS-related connection parameters, as given (absent ones are `None`).
#[derive(Debug, Default, Clone)]
pub struct TlsParams<'a> {
    pub sslmode: Option<&'a str>,
    pub sslrootcert: Option<&'a str>,
    pub sslcert: Option<&'a str>,
    pub sslkey: Option<&'a str>,
    pub sslsni: Option<&'a str>,
    pub ssl_min_protocol_version: Option<&'a str>,
    pub ssl_max_protocol_version: Option<&'a str>,
}

impl TlsSettings {
    /// Resolve the parameters with libpq's defaults: files under `~/.postgresql/` when not named.
    pub fn resolve(params: &TlsParams<'_>, home: Option<&Path>) -> Result<Self, DsnError> {
        let default_file = |name: &str| home.map(|home| home.join(".postgresql").join(name));
        let rootcert = match params.sslrootcert {
            Some("system") => Some(RootCerts::System),
            Some(path) => Some(RootCerts::File(PathBuf::from(path))),
            None => default_file("root.crt").map(RootCerts::File),
        };
        let mode = match params.sslmode {
            Some(mode) => SslMode::parse(mode)?,
            // libpq 16: the system's roots are only meaningful with the names checked.
            None if rootcert == Some(RootCerts::System) => SslMode::VerifyFull,
            None => SslMode::Prefer,
        };
        if rootcert == Some(RootCerts::System) && mode != SslMode::VerifyFull && mode != SslMode::Disable {
            return Err(DsnError::Tls(format!(
                "weak sslmode \"{}\" may not be used with sslrootcert=system (use \"verify-full\")",
                mode.as_str()
            )));
        }
        let existing_root = rootcert.clone().filter(|root| match root {
            RootCerts::System => true,
            RootCerts::File(path) => path.exists(),
        });
        let verification = match mode {
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let Some(root) = existing_root else {
                    let path = match &rootcert {
                        Some(RootCerts::File(path)) => path.display().to_string(),
                        _ => "~/.postgresql/root.crt".into(),
                    };
                    return Err(DsnError::Tls(format!(
                        "root certificate file \"{path}\" does not exist: name one with sslrootcert, use the system's \
                         trusted roots with sslrootcert=system, or choose an sslmode that does not verify the server"
                    )));
                };
                if mode == SslMode::VerifyFull {
                    Verification::ChainAndName(root)
                } else {
                    Verification::Chain(root)
                }
            }
            // As libpq: with a root certificate file present, require (and prefer) check the chain.
            _ => existing_root.map_or(Verification::None, Verification::Chain),
        };
        let cert = params.sslcert.map(PathBuf::from).or_else(|| default_file("postgresql.crt"));
        let key = params.sslkey.map(PathBuf::from).or_else(|| default_file("postgresql.key"));
        let client_identity = match (cert.filter(|cert| cert.exists()), key) {
            (Some(cert), Some(key)) if key.exists() => Some((cert, key)),
            (Some(cert), _) => {
                return Err(DsnError::Tls(format!("certificate present, but not private key file (sslcert {})", cert.display())))
            }
            (None, _) => None,
        };
        let sni = match params.sslsni {
            None | Some("1") => true,
            Some("0") => false,
            Some(other) => return Err(DsnError::InvalidValue { key: "sslsni".into(), value: other.into(), expected: "0 or 1" }),
        };
        let version = |key: &str, value: Option<&str>| -> Result<Option<u8>, DsnError> {
            match value {
                None | Some("") => Ok(None),
                Some("TLSv1" | "TLSv1.1" | "TLSv1.2") => Ok(Some(2)),
                Some("TLSv1.3") => Ok(Some(3)),
                Some(other) => Err(DsnError::InvalidValue {
                    key: key.into(),
                    value: other.into(),
                    expected: "TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3 (piw speaks 1.2 and 1.3)",
                }),
            }
        };
        let tls13_only = version("ssl_min_protocol_version", params.ssl_min_protocol_version)? == Some(3);
        let tls12_only = version("ssl_max_protocol_version", params.ssl_max_protocol_version)? == Some(2);
        if tls13_only && tls12_only {
            return Err(DsnError::Tls("ssl_min_protocol_version is above ssl_max_protocol_version".into()));
        }
        Ok(TlsSettings { mode, verification, client_identity, sni, tls13_only, tls12_only })
    }

    /// The root certificates in use, for messages ("the CA in FILE").
    pub fn roots_description(&self) -> Option<String> {
        match &self.verification {
            Verification::None => None,
            Verification::Chain(RootCerts::File(path)) | Verification::ChainAndName(RootCerts::File(path)) => {
                Some(format!("the CA in {}", path.display()))
            }
            Verification::Chain(RootCerts::System) | Verification::ChainAndName(RootCerts::System) => {
                Some("the system's trusted CAs".into())
            }
        }
    }

    /// A rustls configuration that verifies what these settings say and presents the client
    /// certificate, if any. Files are read now, so a missing or unreadable one is reported before
    /// any connection is tried.
    pub fn client_config(&self) -> Result<ClientConfig, DsnError> {
        let provider = crypto_provider();
        let versions: &[&rustls::SupportedProtocolVersion] = if self.tls13_only {
            &[&rustls::version::TLS13]
        } else if self.tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .map_err(|e| DsnError::Tls(format!("cannot set up TLS: {e}")))?;
        let verifier: Arc<dyn ServerCertVerifier> = match &self.verification {
            Verification::None => Arc::new(verify::AnyCertificate { provider: provider.clone() }),
            Verification::Chain(roots) => Arc::new(verify::ChainOnly { inner: verify::webpki_verifier(roots, &provider)? }),
            Verification::ChainAndName(roots) => verify::webpki_verifier(roots, &provider)?,
        };
        let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
        let mut config = match &self.client_identity {
            Some((cert_path, key_path)) => {
                let certs = CertificateDer::pem_file_iter(cert_path)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| DsnError::Tls(format!("cannot read client certificate {}: {e}", cert_path.display())))?;
                check_key_permissions(key_path)?;
                let key = PrivateKeyDer::from_pem_file(key_path)
                    .map_err(|e| DsnError::Tls(format!("cannot read private key {}: {e}", key_path.display())))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| DsnError::Tls(format!("client certificate {} and key {}: {e}", cert_path.display(), key_path.display())))?
            }
            None => builder.with_no_client_auth(),
        };
        config.enable_sni = self.sni;
        Ok(config)
    }
}

/// ring's algorithms. rustls deprecates ring's provider for lacking post-quantum key exchange
/// (X25519MLKEM768): aws-lc-rs has it, at the price of a much larger C build, and the servers piw
/// meets do not offer it yet (OpenSSL has it from 3.5; Debian 12's PostgreSQL links 3.0).
#[allow(deprecated)]
fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// libpq refuses a private key others may read: owned by us, at most 0600; owned by root, 0640.
fn check_key_permissions(path: &Path) -> Result<(), DsnError> {
    let metadata = std::fs::metadata(path).map_err(|e| DsnError::Tls(format!("cannot read private key {}: {e}", path.display())))?;
    if !metadata.is_file() {
        return Err(DsnError::Tls(format!("private key {} is not a regular file", path.display())));
    }
    let mode = metadata.mode() & 0o777;
    let too_open = if metadata.uid() == 0 { mode & 0o037 != 0 } else { mode & 0o077 != 0 };
    if too_open {
        return Err(DsnError::Tls(format!(
            "private key file {} has group or world access; it must have permissions u=rw (0600) or less if owned by \
             the current user, or u=rw,g=r (0640) or less if owned by root",
            path.display()
        )));
    }
    Ok(())
}

impl TlsSettings {
    /// For connections that never use TLS (Unix sockets, `sslmode=disable`): trusts nothing, so
    /// that it would fail closed if it were ever asked.
    pub fn unused_client_config() -> ClientConfig {
        ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map(|builder| builder.with_root_certificates(RootCertStore::empty()).with_no_client_auth())
            .unwrap_or_else(|_| ClientConfig::builder().with_root_certificates(RootCertStore::empty()).with_no_client_auth())
    }
}
