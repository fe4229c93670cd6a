//! Sessions over HTTP batch on loopback: one POST per batch, whatever is pipelined in it; what
//! the server answers to requests it cannot serve; what the client sees when the request fails.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use capnweb::{http_batch, Error, Limits, RpcService, SessionOptions, Stub, Value};
use common::*;
use http_body_util::{Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::{service_fn, Service};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::test]
async fn a_call_returns_its_result() {
    let server = TestServer::start().await;
    let api: Stub = http_batch::connect(&server.http_url());
    let result = within("square(3)", api.call("square", vec![num(3.0)])).await;
    assert_eq!(result.unwrap(), num(9.0));
}

/// Serves `service` with a plain hyper loop that counts the requests it passes on.
async fn serve_counting(service: RpcService) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&requests);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let service = service.clone();
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let counting = service_fn(move |request: http::Request<Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    service.call(request)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), counting)
                    .with_upgrades()
                    .await;
            });
        }
    });
    (addr, requests)
}

#[tokio::test]
async fn pipelined_chains_and_a_map_awaited_together_cost_one_post() {
    let (probe, _events) = probe();
    let service = RpcService::new(move || Stub::new(TestApi::new(probe.clone())));
    let (addr, requests) = serve_counting(service).await;
    let api: Stub = http_batch::connect(&format!("http://{addr}/rpc"));

    // A chain of dependent calls: each takes the previous one's (unresolved) result.
    let four = api.call("square", vec![num(2.0)]);
    let sixteen = api.call("square", vec![four.into()]);
    let two_fifty_six = api.call("square", vec![sixteen.clone().into()]);
    // A call on a returned stub, pipelined.
    let counter = api.call("makeCounter", vec![num(10.0)]);
    let incremented = counter.call("increment", vec![num(5.0)]);
    // A .map() over a returned array, calling back into the API for each element.
    let squares = api
        .call("range", vec![num(4.0)])
        .map(|x| api.call("square", vec![x.into()]));

    let (a, b, c, d) = within("the batch", async {
        tokio::join!(sixteen, two_fifty_six, incremented, squares)
    })
    .await;
    assert_eq!(a.unwrap(), num(16.0));
    assert_eq!(b.unwrap(), num(256.0));
    assert_eq!(c.unwrap(), num(15.0));
    assert_eq!(
        d.unwrap(),
        Value::Array(vec![num(0.0), num(1.0), num(4.0), num(9.0)])
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_batch_session_is_over_after_its_answer() {
    let server = TestServer::start().await;
    let api: Stub = http_batch::connect(&server.http_url());
    within("square", api.call("square", vec![num(3.0)]))
        .await
        .unwrap();
    let late = within("a call after the batch", api.call("square", vec![num(4.0)])).await;
    assert!(late.unwrap_err().is_disconnected());
}

/// The reference gives a stub that its batch's answer returned, though the batch is over by
/// the time it is read; calls on it then fail as the session's calls do.
#[tokio::test]
async fn a_stub_in_the_answer_is_a_stub_after_the_batch() {
    let server = TestServer::start().await;
    let api: Stub = http_batch::connect(&server.http_url());
    let counter = within("makeCounter(5)", api.call("makeCounter", vec![num(5.0)])).await;
    let Ok(Value::Stub(counter)) = counter else {
        panic!("makeCounter(5) should give a stub, gave {counter:?}");
    };
    let late = within(
        "a call after the batch",
        counter.call("increment", vec![num(1.0)]),
    )
    .await;
    assert!(late.unwrap_err().is_disconnected());
}

#[tokio::test]
async fn a_get_is_refused_with_405() {
    let server = TestServer::start().await;
    let answer = send(
        http::Request::get(server.http_url())
            .body(Full::new(Bytes::new()))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 405);
    assert_eq!(answer.headers[http::header::ALLOW], "POST");
    assert!(answer.body.contains("POST"), "{}", answer.body);
}

#[tokio::test]
async fn an_empty_body_is_an_empty_batch() {
    let server = TestServer::start().await;
    let answer = post(&server.http_url(), "").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "");
    assert!(answer.headers[http::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
}

#[tokio::test]
async fn a_malformed_body_is_refused_with_400_and_the_reason() {
    let server = TestServer::start().await;
    let answer = post(&server.http_url(), "this is not a message").await;
    assert_eq!(answer.status, 400);
    let prefix = "The batch could not be processed: ";
    assert!(answer.body.starts_with(prefix), "{}", answer.body);
    assert!(answer.body.len() > prefix.len() + 10, "{}", answer.body);
}

#[tokio::test]
async fn a_trailing_newline_and_crlf_endings_are_read_as_the_reference_reads_them() {
    let server = TestServer::start().await;
    let body = "[\"push\",[\"pipeline\",0,[\"square\"],[3]]]\r\n[\"pull\",1]\r\n\n";
    let answer = post(&server.http_url(), body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, "[\"resolve\",1,9]");
}

#[tokio::test]
async fn a_malformed_line_is_named_by_its_number() {
    let server = TestServer::start().await;
    let body = "[\"push\",[\"pipeline\",0,[\"square\"],[3]]]\n[\"pull\",1,2,3\n[\"pull\",1]";
    let answer = post(&server.http_url(), body).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .body
            .starts_with("The batch could not be processed: line 2 of the body: "),
        "{}",
        answer.body
    );
    // Blank lines still count, so the number is the one an editor shows.
    let answer = post(&server.http_url(), "\n\n[\"release\",7,1]").await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.body.contains("line 3 of the body: "),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn a_body_that_is_not_utf8_is_refused_with_400() {
    let server = TestServer::start().await;
    let answer = post(&server.http_url(), &b"[\"pull\",\xff]"[..]).await;
    assert_eq!(answer.status, 400);
    assert!(answer.body.contains("UTF-8"), "{}", answer.body);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    // 1000 UTF-16 units per message: bodies up to 3000 bytes.
    let options = SessionOptions::default().limits(Limits::default().max_message_size(1000));
    let server = TestServer::start_with(options).await;
    let big = "x".repeat(4000);

    // With a declared length.
    let answer = post(&server.http_url(), big.clone()).await;
    assert_eq!(answer.status, 413);
    assert!(answer.body.contains("3000 bytes"), "{}", answer.body);

    // Streamed (chunked), so the size shows only while reading.
    let chunks = big
        .into_bytes()
        .chunks(1000)
        .map(|c| Ok::<_, Infallible>(Frame::data(Bytes::copy_from_slice(c))))
        .collect::<Vec<_>>();
    let body = StreamBody::new(futures::stream::iter(chunks));
    let answer = send(http::Request::post(server.http_url()).body(body).unwrap()).await;
    assert_eq!(answer.status, 413);
}

#[tokio::test]
async fn a_failed_request_rejects_pending_calls_with_a_transport_error() {
    // A server that fails every request.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let failing = service_fn(|_request: http::Request<Incoming>| async {
                let mut response = http::Response::new(Full::new(Bytes::from("out of service")));
                *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                Ok::<_, Infallible>(response)
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), failing),
            );
        }
    });
    let api: Stub = http_batch::connect(&format!("http://{addr}/"));
    let (a, b) = within("the failed batch", async {
        tokio::join!(
            api.call("square", vec![num(1.0)]),
            api.call("square", vec![num(2.0)])
        )
    })
    .await;
    for outcome in [a, b] {
        match outcome.unwrap_err() {
            Error::Transport(message) => {
                assert!(message.contains("503"), "{message}");
                assert!(message.contains("out of service"), "{message}");
                assert!(message.contains(&addr.to_string()), "{message}");
            }
            other => panic!("expected a transport error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn no_server_rejects_with_a_transport_error_naming_the_url() {
    // A port that was free a moment ago: nothing listens there now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/rpc");
    let api: Stub = http_batch::connect(&url);
    let error = within("the failed batch", api.call("square", vec![num(1.0)]))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Transport(m) if m.contains(&url)),
        "{error:?}"
    );
}
