//! Our typed client's streams scenarios against any server with the streams surface
//! (`capnweb_examples::streams`, `interop/node/streams-surface.mjs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use capnweb::{Blob, Bytes, ReadableStream, RpcError, Session, SessionOptions};
use capnweb_examples::streams::StreamsApiStub;
use futures::StreamExt;

type Outcome = Result<String, String>;

fn check<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

fn called<T>(what: &str, result: Result<T, capnweb::Error>) -> Result<T, String> {
    result.map_err(|e| format!("{what} failed: {e}"))
}

/// Polls `read` until two reads 30 ms apart agree: the producer stopped.
async fn settled_count<F, Fut>(read: F) -> Result<f64, String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<f64, String>>,
{
    let mut before = read().await?;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let now = read().await?;
        if now == before {
            return Ok(now);
        }
        before = now;
    }
    Err(format!("the producer never stopped ({before})"))
}

async fn tail(api: StreamsApiStub) -> Outcome {
    let lines = called("tail", api.tail(3).await)?;
    let lines = called("reading tail", lines.collect_all().await)?;
    check(
        "lines",
        lines,
        vec!["line 0".into(), "line 1".into(), "line 2".to_owned()],
    )?;
    Ok(String::new())
}

async fn chunks(api: StreamsApiStub) -> Outcome {
    let chunks = called("chunks", api.chunks(4, 1000).await)?;
    let chunks = called("reading chunks", chunks.collect_all().await)?;
    check("count", chunks.len(), 4)?;
    for (i, chunk) in chunks.iter().enumerate() {
        check("chunk", chunk.as_slice(), &vec![i as u8; 1000][..])?;
    }
    Ok(String::new())
}

async fn sent_strings(api: StreamsApiStub) -> Outcome {
    let lines = ReadableStream::new(futures::stream::iter(["a", "b", "c"].map(String::from)));
    let got = called("collect", api.collect(lines).await)?;
    check(
        "collected",
        got,
        vec!["a".into(), "b".into(), "c".to_owned()],
    )?;
    Ok(String::new())
}

async fn sent_bytes(api: StreamsApiStub) -> Outcome {
    let chunks = ReadableStream::new(futures::stream::iter(
        (0..5u8).map(|i| Bytes::from(vec![i; 10_000])),
    ));
    check(
        "total",
        called("totalBytes", api.total_bytes(chunks).await)?,
        50_000.0,
    )?;
    Ok(String::new())
}

async fn blobs(api: StreamsApiStub) -> Outcome {
    let blob = called("blob", api.blob("hello blob").await)?;
    check("type", blob.mime_type(), "text/plain")?;
    check(
        "text",
        called("reading the blob", blob.text().await)?,
        "hello blob".into(),
    )?;
    let sent = Blob::new("application/x-test", vec![1u8; 6]);
    check(
        "blobInfo",
        called("blobInfo", api.blob_info(sent).await)?,
        "application/x-test:6".into(),
    )?;
    Ok(String::new())
}

async fn returned_writable(api: StreamsApiStub) -> Outcome {
    let mut upload = called("upload", api.upload().await)?;
    let uploaded = tokio::spawn(std::future::IntoFuture::into_future(api.uploaded()));
    for line in ["u0", "u1", "u2"] {
        called("write", upload.write(line.to_owned()).await)?;
    }
    called("close", upload.close().await)?;
    let uploaded = uploaded.await.map_err(|e| e.to_string())?;
    check(
        "uploaded",
        called("uploaded", uploaded)?,
        vec!["u0".into(), "u1".into(), "u2".to_owned()],
    )?;
    Ok(String::new())
}

async fn sent_writable(api: StreamsApiStub) -> Outcome {
    let (writer, reader) = capnweb::pipe::<String>();
    let (written, lines) = tokio::join!(
        std::future::IntoFuture::into_future(api.write_lines(writer, 3)),
        reader.collect_all()
    );
    called("writeLines", written)?;
    let lines = called("reading", lines)?;
    check(
        "lines",
        lines,
        vec!["line 0".into(), "line 1".into(), "line 2".to_owned()],
    )?;
    Ok(String::new())
}

async fn error_mid_stream(api: StreamsApiStub) -> Outcome {
    // The lines written before the error, then the error. (The reference's pipe may drop lines
    // still queued when the abort arrives: a prefix is what both promise; ours keeps them all.)
    let mut lines = called("failing", api.failing(2).await)?;
    let mut got = Vec::new();
    let error = loop {
        match lines.next().await {
            Some(Ok(line)) => got.push(line),
            Some(Err(e)) => break e.to_rpc_error(),
            None => return Err(format!("the stream ended without the error after {got:?}")),
        }
    };
    let want = ["line 0", "line 1"].map(String::from);
    check(
        "lines before the error",
        &got[..],
        &want[..got.len().min(2)],
    )?;
    check("name", error.name.as_str(), "RangeError")?;
    check("message", error.message.as_str(), "the source broke")?;
    Ok(format!("({} lines, then the error)", got.len()))
}

async fn error_in_sent_stream(api: StreamsApiStub) -> Outcome {
    let items = vec![
        Ok("a".to_owned()),
        Err(RpcError::type_error("client source broke")),
    ];
    match api
        .collect(ReadableStream::try_new(futures::stream::iter(items)))
        .await
    {
        Err(e) if e.to_string().contains("client source broke") => Ok(String::new()),
        other => Err(format!("expected the client's error, got {other:?}")),
    }
}

async fn cancel_returned(api: StreamsApiStub) -> Outcome {
    let mut numbers = called("endless", api.endless().await)?;
    for want in 0..5 {
        let got = numbers.next().await.ok_or("the stream ended")?;
        check("number", called("read", got)?, f64::from(want))?;
    }
    drop(numbers);
    let produced = settled_count(|| {
        let api = api.clone();
        async move { called("produced", api.produced().await) }
    })
    .await?;
    Ok(format!("(the server produced {produced})"))
}

async fn cancel_by_receiver(api: StreamsApiStub) -> Outcome {
    let pulled = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&pulled);
    let source = ReadableStream::new(futures::stream::iter(0u64..).map(move |i| {
        counter.fetch_add(1, Ordering::SeqCst);
        format!("l{i}")
    }));
    let two = called("takeTwo", api.take_two(source).await)?;
    check("taken", two, vec!["l0".into(), "l1".to_owned()])?;
    let settled = settled_count(|| {
        let pulled = Arc::clone(&pulled);
        async move { Ok(pulled.load(Ordering::SeqCst) as f64) }
    })
    .await?;
    Ok(format!("(our source produced {settled})"))
}

async fn request_streamed_body(api: StreamsApiStub) -> Outcome {
    let body = ReadableStream::new(futures::stream::iter([Bytes::from(b"hello body".to_vec())]));
    let mut other = serde_json::Map::new();
    other.insert("method".into(), "POST".into());
    let request = capnweb::Value::Request(Box::new(capnweb::value::Fetch {
        url: "https://example.com/up".into(),
        headers: Vec::new(),
        body: Some(called("to_value", capnweb::to_value(&body))?),
        other,
    }));
    let got = called("requestBody", api.request_body(request).await)?;
    check(
        "echo",
        got.as_str(),
        "POST https://example.com/up: hello body",
    )?;
    Ok(String::new())
}

type Scenario = fn(StreamsApiStub) -> futures::future::BoxFuture<'static, Outcome>;

macro_rules! scenarios {
    ($($name:literal => $f:ident),* $(,)?) => {
        &[$(($name, |api| Box::pin($f(api)))),*]
    };
}

const SCENARIOS: &[(&str, Scenario)] = scenarios![
    "returned.readable" => tail,
    "returned.bytes" => chunks,
    "sent.readable-strings" => sent_strings,
    "sent.readable-bytes" => sent_bytes,
    "blobs" => blobs,
    "returned.writable" => returned_writable,
    "sent.writable" => sent_writable,
    "error.mid-stream" => error_mid_stream,
    "error.in-sent-stream" => error_in_sent_stream,
    "cancel.returned" => cancel_returned,
    "cancel.by-receiver" => cancel_by_receiver,
    "request.streamed-body" => request_streamed_body,
];

/// Waits (bounded) until the session's tables hold only the main entries.
async fn settled(session: &Session) -> Result<(), String> {
    for _ in 0..2500 {
        let stats = session.stats();
        if (stats.imports, stats.exports) == (1, 1) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Err(format!(
        "the tables did not return to their main entries: {:?}",
        session.stats()
    ))
}

/// Runs every scenario over a fresh WebSocket session each; returns the log lines and the
/// number of failures.
pub async fn run_all(addr: &str, log: &mut Vec<String>) -> usize {
    let connect = || async move {
        capnweb::websocket::connect_with(&format!("ws://{addr}/"), None, SessionOptions::default())
            .await
            .unwrap_or_else(|e| panic!("cannot connect to ws://{addr}/: {e}"))
    };
    run_all_with(connect, log).await
}

/// [`run_all`] over sessions from `connect` (any lasting transport).
pub async fn run_all_with<F, Fut>(connect: F, log: &mut Vec<String>) -> usize
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Session>,
{
    let mut failures = 0;
    for (name, scenario) in SCENARIOS {
        let session = connect().await;
        let api = session.main_as::<StreamsApiStub>();
        let outcome = match tokio::time::timeout(Duration::from_secs(20), scenario(api)).await {
            Ok(outcome) => outcome,
            Err(_) => Err("timed out".into()),
        };
        let outcome = match outcome {
            Ok(note) => settled(&session).await.map(|()| note),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(note) => log.push(format!("ok {name} {note}").trim_end().to_owned()),
            Err(why) => {
                failures += 1;
                log.push(format!("FAIL {name}: {why}"));
            }
        }
        session.abort(RpcError::error("scenario done"));
    }
    failures
}
