//! Streams between two sessions over the in-memory transport: readable streams both ways,
//! writable streams both ways, blobs, errors in the middle, early cancellation, the texts on
//! the wire, flow control under a slow reader, and the tables back to their main entries
//! after every scenario.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use capnweb::{rpc_target, Blob, Bytes, ReadableStream, RpcError, Stub, WritableStream};
use common::*;
use futures::StreamExt;

#[derive(Default, Debug)]
pub struct Streams {
    upload: Mutex<Option<ReadableStream<String>>>,
    /// Items the endless stream produced.
    produced: Arc<AtomicU64>,
    /// Chunks `flood` wrote (each write returned), and the largest window it saw.
    written: Arc<AtomicU64>,
    max_window: Arc<AtomicU64>,
}

#[rpc_target]
impl Streams {
    pub fn tail(&self, n: u32) -> ReadableStream<String> {
        ReadableStream::new(futures::stream::iter((0..n).map(|i| format!("line {i}"))))
    }

    pub fn failing(&self, n: u32) -> ReadableStream<String> {
        let items = (0..=n).map(move |i| {
            if i < n {
                Ok(format!("line {i}"))
            } else {
                Err(RpcError::range_error("the source broke"))
            }
        });
        ReadableStream::try_new(futures::stream::iter(items))
    }

    pub fn endless(&self) -> ReadableStream<u64> {
        let produced = Arc::clone(&self.produced);
        ReadableStream::new(futures::stream::iter(0..).map(move |i| {
            produced.fetch_add(1, Ordering::SeqCst);
            i
        }))
    }

    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::SeqCst)
    }

    pub async fn collect(&self, lines: ReadableStream<String>) -> Result<Vec<String>, RpcError> {
        lines.collect_all().await.map_err(|e| {
            RpcError::error(format!("collecting failed: {}", e.to_rpc_error().message))
        })
    }

    pub async fn total_bytes(&self, chunks: ReadableStream<Bytes>) -> Result<f64, RpcError> {
        let mut total = 0usize;
        let mut chunks = chunks;
        while let Some(chunk) = chunks.next().await {
            total += chunk.map_err(|e| e.to_rpc_error())?.len();
        }
        Ok(total as f64)
    }

    pub async fn take_two(&self, lines: ReadableStream<String>) -> Vec<String> {
        let mut lines = lines;
        let mut taken = Vec::new();
        for _ in 0..2 {
            if let Some(Ok(line)) = lines.next().await {
                taken.push(line);
            }
        }
        taken
    }

    pub fn blob(&self, text: String) -> Blob {
        Blob::new("text/plain", text)
    }

    pub async fn blob_size(&self, blob: Blob) -> Result<String, RpcError> {
        let mime = blob.mime_type().to_owned();
        let bytes = blob.bytes().await.map_err(|e| e.to_rpc_error())?;
        Ok(format!("{mime}:{}", bytes.len()))
    }

    pub fn upload(&self) -> WritableStream<String> {
        let (writer, reader) = capnweb::pipe();
        *self.upload.lock().unwrap() = Some(reader);
        writer
    }

    pub async fn uploaded(&self) -> Result<Vec<String>, RpcError> {
        let reader = self.upload.lock().unwrap().take();
        let reader = reader.ok_or_else(|| RpcError::error("no upload"))?;
        reader.collect_all().await.map_err(|e| e.to_rpc_error())
    }

    pub async fn flood(
        &self,
        out: WritableStream<Bytes>,
        chunks: u32,
        size: u32,
    ) -> Result<(), RpcError> {
        let mut out = out;
        for _ in 0..chunks {
            out.write(Bytes::from(vec![1u8; size as usize]))
                .await
                .map_err(|e| e.to_rpc_error())?;
            self.written.fetch_add(1, Ordering::SeqCst);
            let (window, in_flight) = out.window();
            assert!(in_flight < window, "write returned with a full window");
            self.max_window.fetch_max(window as u64, Ordering::SeqCst);
        }
        out.close().await.map_err(|e| e.to_rpc_error())
    }

    pub async fn write_lines(&self, out: WritableStream<String>, n: u32) -> Result<(), RpcError> {
        let mut out = out;
        for i in 0..n {
            out.write(format!("line {i}"))
                .await
                .map_err(|e| e.to_rpc_error())?;
        }
        out.close().await.map_err(|e| e.to_rpc_error())
    }
}

fn pair() -> (Pair, StreamsStub) {
    pair_with(Streams::default())
}

fn pair_with(streams: Streams) -> (Pair, StreamsStub) {
    let pair = connect(StreamsStub::new(streams).into());
    let api = StreamsStub::from_stub(pair.api.clone());
    (pair, api)
}

use capnweb::FromStub;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_stream_is_read_to_its_end() {
    let (pair, api) = pair();
    let lines = api.tail(3).await.unwrap().collect_all().await.unwrap();
    assert_eq!(lines, ["line 0", "line 1", "line 2"]);
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_argument_and_its_wire_texts() {
    let (pair, api) = pair();
    let lines = ReadableStream::new(futures::stream::iter(["a".to_owned(), "b".to_owned()]));
    let collected = api.collect(lines).await.unwrap();
    assert_eq!(collected, ["a", "b"]);
    drop(api);
    pair.assert_settled().await;
    let sent: Vec<String> = pair
        .messages()
        .into_iter()
        .map(|(d, m)| format!("{}{m}", if d == Dir::C2S { ">" } else { "<" }))
        .collect();
    // The pipe comes first, its id (1) before the call's (2); each write and the close are
    // stream messages (ids 3, 4, 5), settled and never released; the pipe is released at the end.
    for expected in [
        r#">["pipe"]"#,
        r#">["push",["pipeline",0,["collect"],[["readable",1]]]]"#,
        r#">["stream",["pipeline",1,["write"],["a"]]]"#,
        r#">["stream",["pipeline",1,["write"],["b"]]]"#,
        r#">["stream",["pipeline",1,["close"],[]]]"#,
        r#"<["resolve",3,["undefined"]]"#,
        r#">["release",1,1]"#,
    ] {
        assert!(
            sent.iter().any(|m| m == expected),
            "{expected} missing:\n{}",
            pair.transcript()
        );
    }
    assert_eq!(
        &sent[..2],
        [
            r#">["pipe"]"#,
            r#">["push",["pipeline",0,["collect"],[["readable",1]]]]"#
        ]
    );
    assert!(
        !sent.iter().any(|m| m.starts_with(r#">["release",3"#)),
        "{}",
        pair.transcript()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_chunks_travel_as_uint8_arrays() {
    let (pair, api) = pair();
    let chunks = ReadableStream::new(futures::stream::iter(
        (0..10).map(|i| Bytes::from(vec![i as u8; 1000])),
    ));
    assert_eq!(api.total_bytes(chunks).await.unwrap(), 10_000.0);
    assert!(pair.transcript().contains(r#"["write"],[["bytes","#));
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_from_an_async_read() {
    let (pair, api) = pair();
    let data = vec![7u8; 200_000];
    let chunks = ReadableStream::from_async_read(std::io::Cursor::new(data));
    assert_eq!(api.total_bytes(chunks).await.unwrap(), 200_000.0);
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_the_middle_reaches_the_reader() {
    let (pair, api) = pair();
    let mut lines = api.failing(2).await.unwrap();
    assert_eq!(lines.next().await.unwrap().unwrap(), "line 0");
    assert_eq!(lines.next().await.unwrap().unwrap(), "line 1");
    let error = lines.next().await.unwrap().unwrap_err().to_rpc_error();
    assert_eq!(
        (error.name.as_str(), error.message.as_str()),
        ("RangeError", "the source broke")
    );
    assert!(lines.next().await.is_none());
    drop((lines, api));
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_in_an_argument_stream_reaches_the_server() {
    let (pair, api) = pair();
    let items = vec![
        Ok("a".to_owned()),
        Err(RpcError::error("client source broke")),
    ];
    let lines = ReadableStream::try_new(futures::stream::iter(items));
    let error = api.collect(lines).await.unwrap_err().to_rpc_error();
    assert!(error.message.contains("client source broke"), "{error:?}");
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_stream_half_read_cancels_the_writer() {
    let (pair, api) = pair();
    let mut numbers = api.endless().await.unwrap();
    for expected in 0..5u64 {
        assert_eq!(numbers.next().await.unwrap().unwrap(), expected);
    }
    drop(numbers);
    // The pump stops: what it produced stays bounded (by the window, not by time).
    let settled = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            let before = api.produced().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if api.produced().await.unwrap() == before {
                return before;
            }
        }
    })
    .await
    .expect("the writer never stopped");
    assert!(settled < 1_000_000, "{settled}");
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_reads_part_of_an_argument_stream() {
    let (pair, api) = pair();
    let lines = ReadableStream::new(futures::stream::iter((0..1000).map(|i| format!("l{i}"))));
    assert_eq!(api.take_two(lines).await.unwrap(), ["l0", "l1"]);
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_both_ways() {
    let (pair, api) = pair();
    let blob = api.blob("hello blob").await.unwrap();
    assert_eq!(blob.mime_type(), "text/plain");
    assert_eq!(blob.text().await.unwrap(), "hello blob");
    let sent = Blob::new("application/octet-stream", vec![1u8; 3000]);
    assert_eq!(
        api.blob_size(sent).await.unwrap(),
        "application/octet-stream:3000"
    );
    assert!(pair
        .transcript()
        .contains(r#"["blob","application/octet-stream",["readable","#));
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_writes_into_a_returned_writable() {
    let (pair, api) = pair();
    let mut upload = api.upload().await.unwrap();
    for i in 0..5 {
        upload.write(format!("u{i}")).await.unwrap();
    }
    let (closed, uploaded) = tokio::join!(upload.close(), api.uploaded().into_future());
    closed.unwrap();
    assert_eq!(uploaded.unwrap(), ["u0", "u1", "u2", "u3", "u4"]);
    assert!(
        pair.transcript()
            .contains(r#"["resolve",1,["writable",-1]]"#),
        "{}",
        pair.transcript()
    );
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writable_dropped_unclosed_aborts() {
    let (pair, api) = pair();
    let mut upload = api.upload().await.unwrap();
    upload.write("one".into()).await.unwrap();
    drop(upload);
    let error = api.uploaded().await.unwrap_err().to_rpc_error();
    assert!(
        error.message.contains("without calling close()"),
        "{error:?}"
    );
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_abort_reaches_the_reader() {
    let (pair, api) = pair();
    let mut upload = api.upload().await.unwrap();
    upload.write("one".into()).await.unwrap();
    upload.abort(RpcError::type_error("changed my mind"));
    let error = api.uploaded().await.unwrap_err().to_rpc_error();
    assert_eq!(
        (error.name.as_str(), error.message.as_str()),
        ("TypeError", "changed my mind")
    );
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_writes_into_the_clients_writable() {
    let (pair, api) = pair();
    let (writer, reader) = capnweb::pipe::<String>();
    let (written, lines) = tokio::join!(
        api.write_lines(writer, 4).into_future(),
        reader.collect_all()
    );
    written.unwrap();
    assert_eq!(lines.unwrap(), ["line 0", "line 1", "line 2", "line 3"]);
    assert!(pair.transcript().contains(r#"["writable",-1]"#));
    drop(api);
    pair.assert_settled().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_sent_only_once() {
    let (pair, api) = pair();
    let lines = ReadableStream::new(futures::stream::iter(["a".to_owned()]));
    let value = capnweb::to_value(&lines).unwrap();
    let again = capnweb::to_value(&lines).unwrap();
    let first = api.as_untyped().call("collect", vec![value]).await.unwrap();
    assert_eq!(first, capnweb::to_value(&vec!["a"]).unwrap());
    let error = api
        .as_untyped()
        .call("collect", vec![again])
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("already read or sent"),
        "{error}"
    );
    drop(api);
    pair.assert_settled().await;
}

use capnweb::TypedStub;
use std::future::IntoFuture;

#[allow(dead_code)]
fn _unused(_: Stub) {}

// One thread: `flood` reads the window right after a write returned, and on a second worker an
// acknowledgement could shrink the window in between, which is allowed and not what is tested.
#[tokio::test(flavor = "current_thread")]
async fn a_fast_writer_and_a_slow_reader_keep_the_unread_bytes_within_the_window() {
    let written = Arc::new(AtomicU64::new(0));
    let max_window = Arc::new(AtomicU64::new(0));
    let streams = Streams {
        written: Arc::clone(&written),
        max_window: Arc::clone(&max_window),
        ..Streams::default()
    };
    let (pair, api) = pair_with(streams);
    const CHUNKS: u32 = 400;
    const SIZE: u32 = 16 * 1024;
    let (writer, mut reader) = capnweb::pipe::<Bytes>();
    let flood = tokio::spawn(api.flood(writer, CHUNKS, SIZE).into_future());
    let mut read = 0u64;
    let mut most_unread = 0u64;
    let mut most_queued = 0usize;
    while let Some(chunk) = reader.next().await {
        assert_eq!(chunk.unwrap().len(), SIZE as usize);
        read += 1;
        // A slow reader: the writer gets every chance to run ahead before the next read.
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        let unread = written.load(Ordering::SeqCst).saturating_sub(read);
        most_unread = most_unread.max(unread);
        most_queued = most_queued.max(pair.server.stats().queued_bytes);
        let window = max_window
            .load(Ordering::SeqCst)
            .max(capnweb::stream::INITIAL_WINDOW as u64);
        // Unacknowledged writes are within the window; one more waits unread in the pipe.
        assert!(
            unread * u64::from(SIZE) <= window + 2 * u64::from(SIZE),
            "{unread} chunks unread with a window of {window} bytes"
        );
    }
    flood.await.unwrap().unwrap();
    assert_eq!(read, u64::from(CHUNKS));
    let window = max_window.load(Ordering::SeqCst);
    println!("most unread: {most_unread} chunks of {SIZE}; largest window {window}; most queued {most_queued} bytes");
    assert!(
        most_unread >= 2,
        "the writer never ran ahead: {most_unread}"
    );
    assert!(
        (most_queued as u64) < window + 4 * u64::from(SIZE),
        "{most_queued}"
    );
    drop(api);
    pair.assert_settled().await;
}

/// A raw peer: the test writes texts and reads what the session answers.
struct RawPeer {
    end: capnweb::transport::memory::MemoryTransport,
}

impl RawPeer {
    fn serve(main: Stub) -> (capnweb::Session, RawPeer) {
        RawPeer::serve_with(main, capnweb::SessionOptions::default())
    }

    fn serve_with(main: Stub, options: capnweb::SessionOptions) -> (capnweb::Session, RawPeer) {
        let (a, end) = capnweb::transport::memory::pair();
        let session = capnweb::Session::new(a, Some(main), options);
        (session, RawPeer { end })
    }

    async fn send(&mut self, text: &str) {
        self.end.send(text.to_string()).await.unwrap();
    }

    async fn recv(&mut self) -> String {
        let message = tokio::time::timeout(std::time::Duration::from_secs(5), self.end.recv())
            .await
            .expect("an answer")
            .expect("the connection is open");
        String::from_utf8(message.to_vec()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_from_the_peer_its_stream_messages_and_their_automatic_release() {
    let (session, mut peer) = RawPeer::serve(StreamsStub::new(Streams::default()).into());
    for text in [
        r#"["pipe"]"#,
        r#"["push",["pipeline",0,["collect"],[["readable",1]]]]"#,
        r#"["pull",2]"#,
        r#"["stream",["pipeline",1,["write"],["x"]]]"#,
        r#"["stream",["pipeline",1,["write"],["y"]]]"#,
        r#"["stream",["pipeline",1,["close"],[]]]"#,
    ] {
        peer.send(text).await;
    }
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(peer.recv().await);
    }
    answers.sort();
    assert_eq!(
        answers,
        [
            r#"["resolve",2,[["x","y"]]]"#,
            r#"["resolve",3,["undefined"]]"#,
            r#"["resolve",4,["undefined"]]"#,
            r#"["resolve",5,["undefined"]]"#,
        ]
    );
    // The stream messages' exports went with their resolutions; the pipe and the call's are
    // the peer's to release.
    assert_eq!(session.stats().exports, 3);
    peer.send(r#"["release",1,1]"#).await;
    peer.send(r#"["release",2,1]"#).await;
    for _ in 0..5000 {
        if session.stats().exports == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert_eq!((session.stats().imports, session.stats().exports), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readable_end_is_taken_once() {
    let (session, mut peer) = RawPeer::serve(StreamsStub::new(Streams::default()).into());
    peer.send(r#"["pipe"]"#).await;
    peer.send(r#"["push",["pipeline",0,["collect"],[["readable",1]]]]"#)
        .await;
    peer.send(r#"["push",["pipeline",0,["collect"],[["readable",1]]]]"#)
        .await;
    let abort = peer.recv().await;
    assert!(abort.starts_with(r#"["abort",["error","#), "{abort}");
    assert!(abort.contains("readable end was already taken"), "{abort}");
    session.closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readable_that_is_not_a_pipe_aborts() {
    let (session, mut peer) = RawPeer::serve(StreamsStub::new(Streams::default()).into());
    peer.send(r#"["push",["pipeline",0,["collect"],[["readable",0]]]]"#)
        .await;
    let abort = peer.recv().await;
    assert!(abort.contains("is not a pipe"), "{abort}");
    session.closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returned_writable_as_a_sink() {
    use futures::SinkExt;
    let (pair, api) = pair();
    let mut upload = api.upload().await.unwrap();
    let uploaded = tokio::spawn(api.uploaded().into_future());
    let lines = (0..50).map(|i| Ok(format!("s{i}")));
    upload
        .send_all(&mut futures::stream::iter(lines))
        .await
        .unwrap();
    SinkExt::close(&mut upload).await.unwrap();
    let got = uploaded.await.unwrap().unwrap();
    assert_eq!(got.len(), 50);
    assert_eq!(got[49], "s49");
    drop((upload, api));
    pair.assert_settled().await;
}

/// A peer that writes into a pipe without waiting for acknowledgements, while nothing reads
/// it: past `max_stream_buffer_bytes` of unread chunks, its write is rejected and the stream
/// aborted, so what this side holds for it stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_ignores_flow_control_is_cut_off_at_the_buffer_limit() {
    let options = capnweb::SessionOptions::default().max_stream_buffer_bytes(4096);
    let (_session, mut peer) =
        RawPeer::serve_with(StreamsStub::new(Streams::default()).into(), options);
    peer.send(r#"["pipe"]"#).await;
    // Nobody takes the readable end: each 1000-character chunk stays unread.
    let chunk = "x".repeat(1000);
    for _ in 0..6 {
        peer.send(&format!(
            r#"["stream",["pipeline",1,["write"],["{chunk}"]]]"#
        ))
        .await;
    }
    // The first four fit (about 1 KiB each, 4096 bytes in all). The first is acknowledged at
    // once (no chunk before it waits); the next three wait for a reader. The fifth (import
    // id 6) is over the limit and rejected.
    assert_eq!(peer.recv().await, r#"["resolve",2,["undefined"]]"#);
    let rejected = peer.recv().await;
    assert!(
        rejected.starts_with(r#"["reject",6,["error","#),
        "{rejected}"
    );
    assert!(
        rejected.contains("has not read yet, more than the limit of 4096"),
        "{rejected}"
    );
    assert!(!rejected.contains("SessionOptions"), "{rejected}");
}

/// A chunk too large to send fails its write, naming the limit, and is never sent (it is
/// encoded ahead of its write when it can be; over a limit it is encoded again when sent,
/// which reports it). The stream fails; the session goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_over_the_message_size_limit_fails_its_write_and_is_never_sent() {
    let limits = capnweb::Limits::default().max_message_size(1_000);
    let pair = connect_with(
        StreamsStub::new(Streams::default()).into(),
        capnweb::SessionOptions::default(),
        capnweb::SessionOptions::default().limits(limits),
    );
    let api = StreamsStub::from_stub(pair.api.clone());
    let mut upload = api.upload().await.unwrap();
    upload.write("small".to_owned()).await.unwrap();
    let err = upload.write("x".repeat(2_000)).await.unwrap_err();
    assert!(
        matches!(&err, capnweb::Error::LimitExceeded(m) if m.limit() == capnweb::Limit::MessageSize && m.max() == 1000),
        "{err:?}"
    );
    assert!(upload.write("after".to_owned()).await.is_err());
    assert!(
        pair.messages().iter().all(|(_, m)| m.len() < 1_000),
        "{}",
        pair.transcript()
    );
    assert_eq!(
        api.tail(1).await.unwrap().collect_all().await.unwrap(),
        ["line 0"]
    );
}
