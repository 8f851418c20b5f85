//! MLLP over TLS. MLLP itself (HL7 Version 3 Standard: Transport Specification - MLLP,
//! Release 2) has neither encryption nor peer authentication; interface engines add both by
//! running the same frames inside TLS ("secure MLLP"). This module reads PEM files into rustls configurations for [`crate::ListenerConfig::tls`]
//! and [`crate::Sender::connect_tls`].
//!
//! With a client CA, the listener asks every client for a certificate and refuses the
//! handshake unless it chains to that CA: the certificate half of "accepts only configured
//! peers" (the address half is [`crate::ListenerConfig::allow`], checked first).
//!
//! Errors name the file and say what is wrong with it, and never quote its content: a
//! private key must not end up in a log.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

pub use rustls::{ClientConfig, ServerConfig};

use crate::Error;

/// The crypto provider, named explicitly rather than left to rustls's process-wide default:
/// another crate in the same binary may enable rustls's aws-lc-rs provider too (the `tend`
/// binary's HTTP client dependencies do), and with two providers compiled in rustls cannot
/// choose one by itself.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The listener's TLS settings: its certificate chain (`cert`, PEM, leaf first) and private
/// key (`key`, PEM: PKCS#8, PKCS#1 or SEC1). With `client_ca` (PEM, one or more CA
/// certificates), clients must present a certificate signed by one of them.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, Error> {
    let chain = certificates(cert)?;
    let private = private_key(key)?;
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(
                Arc::new(trust_anchors(ca)?),
                provider(),
            )
            .build()
            .map_err(|e| file_error(ca, format!("not usable as client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, private)
        .map_err(|e| key_error(key, cert, &e))?;
    Ok(Arc::new(config))
}

/// The sender's TLS settings: the CA certificates (`ca`, PEM) the endpoint's certificate must
/// chain to, and optionally a client certificate chain and its private key (PEM) for
/// listeners that require one.
pub fn client_config(
    ca: &Path,
    client_cert_and_key: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, Error> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(trust_anchors(ca)?);
    let config = match client_cert_and_key {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(certificates(cert)?, private_key(key)?)
            .map_err(|e| key_error(key, cert, &e))?,
    };
    Ok(Arc::new(config))
}

/// The host part of an endpoint address `HOST:PORT` (`[V6]:PORT` gives `V6`): the name a
/// sender checks the listener's certificate against unless told another.
pub fn host(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host),
        _ => addr,
    }
}

/// The certificates of a PEM file, in order; at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(path, "certificate", e))?;
    if certs.is_empty() {
        return Err(file_error(path, "no PEM certificate found".into()));
    }
    Ok(certs)
}

/// The first private key of a PEM file.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, "private key", e))
}

/// The certificates of a PEM file as trust anchors.
fn trust_anchors(path: &Path) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path)? {
        roots
            .add(cert)
            .map_err(|e| file_error(path, format!("a certificate is not usable as CA: {e}")))?;
    }
    Ok(roots)
}

fn file_error(path: &Path, problem: String) -> Error {
    Error::TlsFile {
        path: path.to_path_buf(),
        problem,
    }
}

/// A PEM problem in words of our own: some of the PEM parser's messages quote the
/// offending line, which in a key file could be key material.
fn pem_error(path: &Path, what: &str, e: pem::Error) -> Error {
    let problem = match e {
        pem::Error::Io(e) => format!("cannot read the {what} file: {e}"),
        pem::Error::NoItemsFound => format!("no PEM {what} found"),
        pem::Error::MissingSectionEnd { .. } => "a PEM section has no END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a malformed PEM BEGIN line".into(),
        pem::Error::Base64Decode(_) => "a PEM section is not valid base64".into(),
        _ => format!("not a readable PEM {what} file"),
    };
    file_error(path, problem)
}

/// rustls refused a certificate and key pair (mismatched, or a key type it cannot use).
/// rustls's own message names the kind of problem, not the key.
fn key_error(key: &Path, cert: &Path, e: &rustls::Error) -> Error {
    file_error(
        key,
        format!("refused with the certificate {}: {e}", cert.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_address() {
        assert_eq!(host("mllp.ward.example:2575"), "mllp.ward.example");
        assert_eq!(host("127.0.0.1:2575"), "127.0.0.1");
        assert_eq!(host("[::1]:2575"), "::1");
        assert_eq!(host("localhost"), "localhost");
    }
}
