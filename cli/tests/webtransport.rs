//! `webtransport://` URLs: a script over WebTransport (HTTP/3 on UDP) against our server with a
//! development certificate, trusted by its hash (`--cert-hash`); refused without it; a bad
//! hash, and `--insecure`, are usage errors.

mod common;

use capnweb::webtransport::DevCertificate;
use capnweb::Server;
use capnweb_examples::interop::{InteropApi, InteropApiStub};
use common::capnweb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_runs_over_webtransport_with_the_certificate_trusted_by_its_hash() {
    let cert = DevCertificate::generate().expect("a development certificate");
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .webtransport("127.0.0.1:0".parse().expect("an address"), &cert)
        .expect("bind UDP");
    let udp = server.webtransport_addr().expect("the UDP address");
    tokio::spawn(server.serve(|| InteropApiStub::new(InteropApi)));
    let url = format!("webtransport://{udp}/");
    let hash = cert.sha256_hex();

    let script = "square(3); let c = makeCounter(5); c.increment(2); \
                  generateFibonacci(5).map(x => square(x))";
    let run = capnweb(&["call", &url, "--cert-hash", &hash, script]).await;
    assert!(run.code == Some(0), "{run:?}");
    assert_eq!(run.stdout, "9\n7\n[0,1,1,4,9]\n", "{run:?}");

    // The wire trace shows the same protocol messages as over WebSocket.
    let run = capnweb(&["call", &url, "--cert-hash", &hash, "--raw", "square(2)"]).await;
    assert!(run.code == Some(0), "{run:?}");
    assert!(run.stderr.contains("> [\"push\","), "{run:?}");
    assert!(run.stderr.contains("< [\"resolve\","), "{run:?}");

    // Without the hash the certificate is not trusted: the server cannot be reached.
    let refused = capnweb(&["call", &url, "--timeout", "10", "square(3)"]).await;
    assert_eq!(refused.code, Some(3), "{refused:?}");
    assert!(
        refused.stderr.contains("WebTransport"),
        "the error names what failed: {refused:?}"
    );

    // A hash that is not one, and --insecure, are usage errors that say what to do.
    let bad = capnweb(&["call", &url, "--cert-hash", "12ab", "square(3)"]).await;
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(bad.stderr.contains("64 hex digits"), "{bad:?}");
    let insecure = capnweb(&["call", &url, "--insecure", "square(3)"]).await;
    assert_eq!(insecure.code, Some(2), "{insecure:?}");
    assert!(insecure.stderr.contains("--cert-hash"), "{insecure:?}");
}
