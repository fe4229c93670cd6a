//! Bounds on what a hostile peer can make the server spend, measured on the server process
//! from outside: the test spawns `bounds-server` (tests/bin), drives the pattern over a real
//! socket and reads the process's memory and CPU from `/proc`. Counters inside the library are
//! not enough: a paused session once spun a core and grew by gigabytes while the outbox counter
//! said 4 MiB. The bounds sit far above the expected figures, so a noisy machine does not make
//! them flake, and far below what the faults they catch cost.

#![cfg(target_os = "linux")]

use std::process::Stdio;
use std::time::{Duration, Instant};

use capnweb::{Stub, Value};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;

const MIB: u64 = 1024 * 1024;

/// The server under test, killed when dropped.
struct ServerProcess {
    child: Child,
    pid: u32,
    addr: String,
}

impl ServerProcess {
    async fn start(args: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bounds-server"))
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("bounds-server should start");
        let pid = child.id().expect("a running child has a pid");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("bounds-server should say where it listens within 30 s")
        .expect("reading bounds-server's stdout");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        ServerProcess { child, pid, addr }
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid))
    }

    /// Resident memory now, in bytes.
    fn rss(&self) -> u64 {
        self.status_kib("VmRSS:") * 1024
    }

    /// The most resident memory the process ever had, in bytes.
    fn peak_rss(&self) -> u64 {
        self.status_kib("VmHWM:") * 1024
    }

    /// User plus system CPU time so far, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .expect("the server's /proc stat");
        // The fields after the command name (which may hold spaces) start at its ')'.
        let after = &stat[stat
            .rfind(')')
            .expect("stat has the command in parentheses")
            + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat, so 12 and 13 after the name.
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    }

    /// Sockets the process holds open.
    fn sockets(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .expect("the server's fds")
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    }

    fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn ticks_per_second() -> f64 {
    // CLK_TCK is 100 on every Linux this runs on; `getconf` says so where it can.
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Waits (bounded) until `condition` holds.
async fn until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A well-behaved client: a call must succeed while the hostile peer does its worst.
async fn square_over(api: &Stub, x: f64) {
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        api.call("square", vec![Value::from(x)]),
    )
    .await
    .expect("another session's call should be answered within 5 s")
    .expect("another session's call should succeed");
    assert_eq!(answer.as_f64(), Some(x * x));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_costs_only_its_queue_and_no_cpu() {
    const SEND_TIMEOUT_MS: u64 = 6_000;
    let server = ServerProcess::start(&["--send-timeout-ms", &SEND_TIMEOUT_MS.to_string()]).await;
    let polite: Stub = capnweb::websocket::connect(&server.url())
        .await
        .expect("a well-behaved client connects");
    square_over(&polite, 3.0).await;
    let sockets_before = server.sockets();
    let rss_before = server.rss();

    // The hostile peer: 20,000 calls whose answers are ~20 KB each, then it reads nothing.
    let (hostile, _) = tokio_tungstenite::connect_async(server.url())
        .await
        .expect("the hostile client connects");
    let (mut sink, stream) = hostile.split();
    let flood = tokio::spawn(async move {
        for id in 1..=20_000u32 {
            let push = r#"["push",["pipeline",0,["generateFibonacci"],[1000]]]"#;
            sink.feed(Message::text(push)).await?;
            sink.feed(Message::text(format!(r#"["pull",{id}]"#)))
                .await?;
        }
        sink.flush().await?;
        Ok::<_, tokio_tungstenite::tungstenite::Error>(sink)
    });
    // The flood either goes out whole or stalls once the server stops reading.
    let flood_started = Instant::now();
    until(
        "the server to pause reading the flood",
        Duration::from_secs(30),
        || flood.is_finished() || flood_started.elapsed() > Duration::from_secs(3),
    )
    .await;
    square_over(&polite, 4.0).await;

    // Paused: measure for two seconds, while another session keeps being served.
    let ticks = ticks_per_second();
    let cpu_before = server.cpu_ticks();
    let window = Instant::now();
    let mut rss_peak_paused = server.rss();
    while window.elapsed() < Duration::from_secs(2) {
        square_over(&polite, 5.0).await;
        rss_peak_paused = rss_peak_paused.max(server.rss());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = window.elapsed().as_secs_f64();
    let cpu_share = (server.cpu_ticks() - cpu_before) as f64 / ticks / seconds;
    let growth = rss_peak_paused.saturating_sub(rss_before);
    println!(
        "paused: server CPU {:.1}% of a core, RSS growth {:.1} MiB",
        cpu_share * 100.0,
        growth as f64 / MIB as f64
    );
    assert!(
        growth < 64 * MIB,
        "a peer that stops reading grew the server by {} MiB (bound 64 MiB, queue 4 MiB)",
        growth / MIB
    );
    assert!(
        cpu_share < 0.10,
        "while its peer does not read, the server used {:.0}% of a core (bound 10%)",
        cpu_share * 100.0
    );

    // At send_timeout the session aborts: its socket goes, the others stay.
    until(
        "the stalled session to be aborted",
        Duration::from_millis(SEND_TIMEOUT_MS) + Duration::from_secs(20),
        || server.sockets() < sockets_before + 1,
    )
    .await;
    square_over(&polite, 6.0).await;
    assert!(
        server.rss() < rss_before + 64 * MIB,
        "the server kept {} MiB after the session ended",
        server.rss().saturating_sub(rss_before) / MIB
    );
    drop(stream);
    flood.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_over_limit_result_is_refused_before_it_is_built_whole() {
    let server = ServerProcess::start(&[]).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(server.url())
        .await
        .expect("the client connects");
    let peak_before = server.peak_rss();
    // 30 million numbers: ~600 MB of text, far over the default 32 Mi-character limit.
    ws.send(Message::text(
        r#"["push",["pipeline",0,["generateFibonacci"],[30000000]]]"#,
    ))
    .await
    .expect("sending the call");
    ws.send(Message::text(r#"["pull",1]"#))
        .await
        .expect("sending the pull");
    let answer = tokio::time::timeout(Duration::from_secs(120), ws.next())
        .await
        .expect("the server should answer within 120 s")
        .expect("the connection should stay open")
        .expect("a readable frame");
    let answer = answer.into_text().expect("a text frame").to_string();
    assert!(answer.starts_with(r#"["reject",1,["error""#), "{answer}");
    assert!(answer.contains("limit"), "{answer}");
    // The method's own Vec<f64> takes 240 MB (up to 384 MB while it grows); what the encoder
    // may add is bounded by twice the message limit.
    let growth = server.peak_rss().saturating_sub(peak_before);
    println!("over-limit result: peak RSS growth {} MiB", growth / MIB);
    assert!(
        growth < 1024 * MIB,
        "refusing an over-limit result grew the server by {} MiB (bound 1 GiB)",
        growth / MIB
    );
    // The session goes on.
    ws.send(Message::text(r#"["push",["pipeline",0,["square"],[7]]]"#))
        .await
        .expect("sending a call");
    ws.send(Message::text(r#"["pull",2]"#))
        .await
        .expect("sending the pull");
    let next = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("an answer within 10 s")
        .expect("open")
        .expect("readable");
    assert_eq!(
        next.into_text().expect("text").as_str(),
        r#"["resolve",2,49]"#
    );
}
