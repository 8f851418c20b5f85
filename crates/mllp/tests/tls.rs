//! MLLP over TLS, end to end on loopback, with certificates generated for the run: a CA, a
//! server certificate for `localhost` and 127.0.0.1, a client certificate from the same CA,
//! and a second CA with a client certificate of its own (signed by the wrong CA for Tend).

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mllp::{Handler, ListenerConfig, Sender};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::net::TcpListener;
use tokio::sync::watch;

const TIMEOUT: Duration = Duration::from_secs(2);

/// The test certificates, generated once per run and kept in memory as PEM texts (file name
/// and content); written to a fresh directory whenever the API, which reads files as Tend's
/// settings name files, needs them.
struct Pki {
    pem: Vec<(String, String)>,
}

impl Pki {
    fn get() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| {
            let mut pki = Pki { pem: Vec::new() };
            let ca = pki.ca("ca", "Tend test CA");
            pki.leaf(
                "server",
                &ca,
                &["localhost", "127.0.0.1"],
                ExtendedKeyUsagePurpose::ServerAuth,
            );
            pki.leaf("client", &ca, &[], ExtendedKeyUsagePurpose::ClientAuth);
            let other = pki.ca("other-ca", "Another CA");
            pki.leaf(
                "other-client",
                &other,
                &[],
                ExtendedKeyUsagePurpose::ClientAuth,
            );
            pki
        })
    }

    /// Run `f` with the PEM files in a directory of their own, removed afterwards.
    fn in_files<T>(&self, f: impl FnOnce(&Path) -> T) -> T {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "mllp-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &self.pem {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let out = f(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        out
    }

    fn ca(&mut self, name: &str, common_name: &str) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        self.pem.push((format!("{name}.pem"), ca.pem()));
        ca
    }

    fn leaf(
        &mut self,
        name: &str,
        ca: &CertifiedIssuer<'static, KeyPair>,
        names: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, ca).unwrap();
        self.pem.push((format!("{name}.pem"), cert.pem()));
        self.pem.push((format!("{name}.key"), key.serialize_pem()));
    }

    fn server_config(&self, client_ca: Option<&str>) -> Arc<mllp::tls::ServerConfig> {
        self.in_files(|dir| {
            let ca = client_ca.map(|c| dir.join(c));
            mllp::tls::server_config(
                &dir.join("server.pem"),
                &dir.join("server.key"),
                ca.as_deref(),
            )
            .unwrap()
        })
    }

    /// A client trusting `ca`, with the certificate `NAME.pem` + `NAME.key` when given.
    fn client_config(&self, ca: &str, client: Option<&str>) -> Arc<mllp::tls::ClientConfig> {
        self.in_files(|dir| {
            let files =
                client.map(|c| (dir.join(format!("{c}.pem")), dir.join(format!("{c}.key"))));
            mllp::tls::client_config(
                &dir.join(ca),
                files.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
            )
            .unwrap()
        })
    }
}

/// Acknowledges every message with `ACK|` followed by the message; counts them.
#[derive(Default)]
struct Echo {
    handled: AtomicUsize,
}

impl Handler for Echo {
    fn handle(&self, message: &[u8], _peer: std::net::SocketAddr) -> Option<Vec<u8>> {
        self.handled.fetch_add(1, Ordering::SeqCst);
        Some([b"ACK|".as_slice(), message].concat())
    }

    fn refuse(&self, reason: &str) -> Vec<u8> {
        format!("NAK|{reason}").into_bytes()
    }
}

/// Counts `tend_mllp_tls_handshake_failures_total{peer="127.0.0.1"}`, drops other metrics.
/// Set as the test thread's recorder: the test runtime runs the listener's tasks there.
#[derive(Default)]
struct HandshakeFailures(Arc<AtomicU64>);

impl metrics::Recorder for HandshakeFailures {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }

    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let loopback = key
            .labels()
            .any(|l| l.key() == "peer" && l.value() == "127.0.0.1");
        if key.name() == "tend_mllp_tls_handshake_failures_total" && loopback {
            metrics::Counter::from_arc(self.0.clone())
        } else {
            metrics::Counter::noop()
        }
    }

    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }

    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

/// A listener on a free loopback port.
struct Running {
    addr: String,
    echo: Arc<Echo>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(tls: Option<Arc<mllp::tls::ServerConfig>>) -> Running {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let echo = Arc::new(Echo::default());
        let (stop, stopped) = watch::channel(false);
        let cfg = ListenerConfig {
            tls,
            handshake_timeout: TIMEOUT,
            ..ListenerConfig::default()
        };
        let task = tokio::spawn(mllp::serve(listener, cfg, echo.clone(), stopped));
        Running {
            addr,
            echo,
            stop,
            task,
        }
    }

    fn handled(&self) -> usize {
        self.echo.handled.load(Ordering::SeqCst)
    }

    /// Connect over TLS as a client trusting `ca`, with `client`'s certificate if given, and
    /// send one message.
    async fn exchange_tls(
        &self,
        server_name: &str,
        ca: &str,
        client: Option<&str>,
        message: &[u8],
    ) -> Result<Vec<u8>, mllp::Error> {
        let config = Pki::get().client_config(ca, client);
        let mut sender = Sender::connect_tls(&self.addr, server_name, config, TIMEOUT).await?;
        sender.send(message).await
    }

    async fn shut_down(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(TIMEOUT, self.task)
            .await
            .expect("the listener stops")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn messages_round_trip_over_tls() {
    let server = Running::start(Some(Pki::get().server_config(None))).await;
    let config = Pki::get().client_config("ca.pem", None);
    let mut sender = Sender::connect_tls(&server.addr, "localhost", config, TIMEOUT)
        .await
        .unwrap();
    for m in [b"MSH|one\r".as_slice(), b"MSH|two\r"] {
        assert_eq!(sender.send(m).await.unwrap(), [b"ACK|", m].concat());
    }
    // The certificate's IP address is checked as well as its DNS name.
    let ack = server
        .exchange_tls("127.0.0.1", "ca.pem", None, b"MSH|three\r")
        .await
        .unwrap();
    assert_eq!(ack, b"ACK|MSH|three\r");
    assert_eq!(server.handled(), 3);
    // Shutdown does not wait for the open TLS connection to go idle; it closes it.
    server.shut_down().await;
    assert!(sender.send(b"MSH|late\r").await.is_err());
}

#[tokio::test]
async fn with_a_client_ca_only_clients_with_its_certificates_are_served() {
    let failures = HandshakeFailures::default();
    let _recorder = metrics::set_default_local_recorder(&failures);
    let server = Running::start(Some(Pki::get().server_config(Some("ca.pem")))).await;
    let good = server
        .exchange_tls("localhost", "ca.pem", Some("client"), b"MSH|good\r")
        .await;
    assert_eq!(good.unwrap(), b"ACK|MSH|good\r");

    // TLS 1.3: the client's side of the handshake completes before the listener checks its
    // certificate, so the refusal may come from connect_tls or from the first send.
    let anonymous = server
        .exchange_tls("localhost", "ca.pem", None, b"MSH|anonymous\r")
        .await;
    assert!(anonymous.is_err(), "{anonymous:?}");
    let stranger = server
        .exchange_tls(
            "localhost",
            "ca.pem",
            Some("other-client"),
            b"MSH|stranger\r",
        )
        .await;
    assert!(stranger.is_err(), "{stranger:?}");
    assert_eq!(
        server.handled(),
        1,
        "refused clients' messages are not handled"
    );
    assert_eq!(
        failures.0.load(Ordering::SeqCst),
        2,
        "handshake failures counted"
    );

    // The listener goes on serving.
    let again = server
        .exchange_tls("localhost", "ca.pem", Some("client"), b"MSH|again\r")
        .await;
    assert_eq!(again.unwrap(), b"ACK|MSH|again\r");
    assert_eq!(server.handled(), 2);
    server.shut_down().await;
}

#[tokio::test]
async fn a_plain_client_gets_no_ack_from_a_tls_listener() {
    let server = Running::start(Some(Pki::get().server_config(None))).await;
    let mut plain = Sender::connect(&server.addr, TIMEOUT).await.unwrap();
    let answer = plain.send(b"MSH|in clear\r").await;
    assert!(answer.is_err(), "{answer:?}");
    assert_eq!(server.handled(), 0);
    let ack = server
        .exchange_tls("localhost", "ca.pem", None, b"MSH|tls\r")
        .await
        .unwrap();
    assert_eq!(ack, b"ACK|MSH|tls\r");
    server.shut_down().await;
}

#[tokio::test]
async fn the_sender_refuses_a_listener_it_does_not_trust() {
    let server = Running::start(Some(Pki::get().server_config(None))).await;
    let wrong_ca = server
        .exchange_tls("localhost", "other-ca.pem", None, b"MSH|x\r")
        .await;
    assert!(
        matches!(wrong_ca, Err(mllp::Error::Handshake(_))),
        "{wrong_ca:?}"
    );
    let wrong_name = server
        .exchange_tls("tend.example", "ca.pem", None, b"MSH|x\r")
        .await;
    assert!(
        matches!(wrong_name, Err(mllp::Error::Handshake(_))),
        "{wrong_name:?}"
    );
    assert_eq!(server.handled(), 0);
    server.shut_down().await;
}

#[tokio::test]
async fn the_plain_listener_still_works() {
    let server = Running::start(None).await;
    let mut sender = Sender::connect(&server.addr, TIMEOUT).await.unwrap();
    assert_eq!(
        sender.send(b"MSH|plain\r").await.unwrap(),
        b"ACK|MSH|plain\r"
    );
    drop(sender);
    // A TLS client talking to a plain listener waits for a handshake that never comes (or,
    // should its random bytes happen to hold a frame, fails on the answer).
    let short = Duration::from_millis(300);
    let config = Pki::get().client_config("ca.pem", None);
    let tls = Sender::connect_tls(&server.addr, "localhost", config, short).await;
    assert!(
        matches!(
            tls,
            Err(mllp::Error::ConnectTimeout(_) | mllp::Error::Handshake(_))
        ),
        "{:?}",
        tls.err()
    );
    server.shut_down().await;
}

#[test]
fn file_errors_name_the_file_and_never_quote_it() {
    Pki::get().in_files(|dir| {
        let server = |key: &Path| mllp::tls::server_config(&dir.join("server.pem"), key, None);
        let missing = dir.join("missing.key");
        let text = server(&missing).unwrap_err().to_string();
        assert!(text.contains(&*missing.to_string_lossy()), "{text}");

        let broken = dir.join("broken.key");
        std::fs::write(
            &broken,
            "-----BEGIN PRIVATE KEY-----\nSECRET*KEY*MATERIAL\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let text = server(&broken).unwrap_err().to_string();
        assert!(text.contains(&*broken.to_string_lossy()), "{text}");
        assert!(!text.contains("SECRET"), "{text}");

        let malformed = dir.join("malformed.key");
        std::fs::write(&malformed, "-----BEGIN SECRETLINE\n").unwrap();
        let text = server(&malformed).unwrap_err().to_string();
        assert!(text.contains(&*malformed.to_string_lossy()), "{text}");
        assert!(!text.contains("SECRET"), "{text}");

        // A key that is not the certificate's.
        let text = server(&dir.join("client.key")).unwrap_err().to_string();
        assert!(text.contains("client.key"), "{text}");

        // A key file is not a certificate file.
        let e = mllp::tls::client_config(&dir.join("server.key"), None).unwrap_err();
        assert!(e.to_string().contains("server.key"), "{e}");
    });
}
