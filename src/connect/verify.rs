//! The server-certificate checks behind each `sslmode`, as rustls verifiers, and the words for
//! a certificate that was refused.

use std::{fmt, sync::Arc};

use rustls::{
    client::{
        danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
        WebPkiServerVerifier,
    },
    crypto::CryptoProvider,
    pki_types::{pem::PemObject, CertificateDer, ServerName, UnixTime},
    CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use super::{tls::RootCerts, DsnError};

pub(super) fn webpki_verifier(roots: &RootCerts, provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>, DsnError> {
    let mut store = RootCertStore::empty();
    match roots {
        RootCerts::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| DsnError::Tls(format!("cannot read root certificate file {}: {e}", path.display())))?;
            let (added, _ignored) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(DsnError::Tls(format!("root certificate file {} holds no usable certificate", path.display())));
            }
        }
        RootCerts::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(DsnError::Tls("sslrootcert=system: the system has no trusted root certificates".into()));
            }
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|e| DsnError::Tls(format!("cannot set up certificate verification: {e}")))
}

/// `verify-ca`: the chain must lead to a trusted root; the name in the certificate is not checked.
#[derive(Debug)]
pub(super) struct ChainOnly {
    pub(super) inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the name only after the chain: a name error means the chain was good.
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `prefer` and `require` without root certificates: any certificate, as libpq does; the
/// handshake's signatures are still checked, so the session key is the server's.
pub(super) struct AnyCertificate {
    pub(super) provider: Arc<CryptoProvider>,
}

impl fmt::Debug for AnyCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnyCertificate")
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Why a certificate was refused, in words, from the rustls error somewhere in `error`'s causes.
pub fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        let rustls_error = current
            .downcast_ref::<rustls::Error>()
            .or_else(|| current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).and_then(|inner| inner.downcast_ref()));
        if let Some(rustls::Error::InvalidCertificate(problem)) = rustls_error {
            return Some(match problem {
                CertificateError::UnknownIssuer => "it is not signed by a trusted CA".into(),
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    "it is not valid for this host name".into()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => "it has expired".into(),
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => "it is not valid yet".into(),
                CertificateError::Revoked => "it has been revoked".into(),
                CertificateError::BadSignature => "its signature is bad".into(),
                other => format!("{other:?}"),
            });
        }
        cause = current.source();
    }
    None
}
