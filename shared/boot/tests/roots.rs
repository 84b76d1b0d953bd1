//! The system's root certificates are read once per process, and every HTTPS client trusts
//! that one reading: reqwest's outbound clients and the AWS SDK. Proved by reading them from a
//! file that is then deleted: a client that read the roots again would trust nothing.
//!
//! The certificate variables must be set before the process starts (setting them later is
//! unsafe), so the test runs its body in a child: this test binary again, given them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use domain::outbound::OutboundPolicy;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTPS server on loopback for `localhost`, its certificate signed by a CA of its own;
/// answers every request with an empty DynamoDB table list. Returns its port and the CA's PEM.
async fn https_server() -> (u16, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"TableNames":[]}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, ca.pem())
}

/// Set in the child that runs the body: the directory holding `roots.pem` and the server port.
const CHILD: &str = "OMS_ROOTS_TEST_DIR";

#[test]
fn the_roots_are_read_once_and_every_client_trusts_that_reading() {
    if let Ok(dir) = std::env::var(CHILD) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(child(std::path::PathBuf::from(dir)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-more-roots");
    std::fs::create_dir(&empty).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_roots_are_read_once_and_every_client_trusts_that_reading",
            "--nocapture",
        ])
        .env(CHILD, dir.path())
        .env("SSL_CERT_FILE", dir.path().join("roots.pem"))
        .env("SSL_CERT_DIR", &empty)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the child failed:\n{text}");
    assert!(text.contains("1 passed"), "the child ran no test:\n{text}");
}

async fn child(dir: std::path::PathBuf) {
    let (port, ca_pem) = https_server().await;
    let bundle = dir.join("roots.pem");
    std::fs::write(&bundle, ca_pem).unwrap();
    let dev = OutboundPolicy::for_mode(true);
    let first = outbound_http::client(&dev).unwrap();
    assert_eq!(outbound_http::roots::loads(), 1);
    assert_eq!(
        outbound_http::roots::count(),
        1,
        "the test CA, and nothing else"
    );

    // From here on, whoever reads the system's roots again finds none.
    std::fs::remove_file(&bundle).unwrap();
    let control = reqwest::Client::builder().build();
    assert!(
        control.is_err(),
        "a client left to read the roots itself would find them gone"
    );

    let second = outbound_http::builder(&dev, None).build().unwrap();
    let url = format!("https://localhost:{port}/");
    for client in [&first, &second] {
        let answer = client.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 200);
    }

    let sdk = boot::aws_loader()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
        .endpoint_url(&url)
        .load()
        .await;
    let tables = aws_sdk_dynamodb::Client::new(&sdk)
        .list_tables()
        .send()
        .await
        .unwrap();
    assert!(tables.table_names().is_empty());
    assert_eq!(
        outbound_http::roots::loads(),
        1,
        "read once for the whole process"
    );
}
