//! `--cacert` and `--insecure` against our server with a self-signed certificate, over
//! `wss://` and `https://`.

mod common;

use capnweb::tls::ServerTls;
use capnweb::Server;
use capnweb_examples::interop::{InteropApi, InteropApiStub};
use common::capnweb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_server_is_refused_unless_its_ca_is_given_or_checks_are_off() {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let cert_pem = generated.cert.pem();
    let tls = ServerTls::from_pem(&cert_pem, generated.signing_key.serialize_pem())
        .expect("the server's TLS settings");
    let server = Server::bind("127.0.0.1:0").await.expect("bind").tls(tls);
    let port = server.local_addr().port();
    tokio::spawn(server.serve(|| InteropApiStub::new(InteropApi)));
    let ca = std::env::temp_dir().join(format!("capnweb-cli-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, &cert_pem).expect("write the CA file");
    let ca = ca.to_str().expect("utf-8 path").to_owned();

    for scheme in ["wss", "https"] {
        let url = format!("{scheme}://localhost:{port}/");
        let refused = capnweb(&["call", &url, "square(3)"]).await;
        assert_eq!(refused.code, Some(3), "{url}: {refused:?}");
        assert!(
            refused.stderr.contains("certificate"),
            "{url}: the error says the certificate is the problem: {refused:?}"
        );
        for trust in [
            ["--cacert", ca.as_str()].as_slice(),
            ["--insecure"].as_slice(),
        ] {
            let mut args = vec!["call"];
            args.extend_from_slice(trust);
            args.extend([url.as_str(), "square(3)"]);
            let run = capnweb(&args).await;
            assert!(run.code == Some(0), "{url} {trust:?}: {run:?}");
            assert_eq!(run.stdout, "9\n", "{url} {trust:?}: {run:?}");
        }
    }
    let _ = std::fs::remove_file(&ca);
}
