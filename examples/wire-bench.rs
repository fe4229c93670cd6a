//! Throughput of the wire codec: `Message::parse` and `Message::to_text`, on their own and
//! together, for small protocol messages and for generated 4 KiB and 1 MiB ones; then a
//! method's result written as text, straight from the Rust value (what a session does) and
//! through a `Value` tree (what it did before), side by side.
//!
//! `cargo run --release --example wire-bench [-- FILTER]`
//!
//! Each figure is the best of several timed batches (the least disturbed by other work on a
//! shared machine); MB/s counts the message's bytes (10^6 bytes per MB).

use std::time::{Duration, Instant};

use capnweb::wire::{Expr, Message};

/// How long each batch runs, and how many batches each figure takes the best of.
const BATCH: Duration = Duration::from_millis(50);
const BATCHES: usize = 20;

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    println!(
        "capnweb wire codec, {} build; best of {BATCHES} batches of {} ms",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        BATCH.as_millis()
    );
    println!(
        "{:<22} {:>9} | {:>10} {:>8} | {:>10} {:>8} | {:>10} {:>8}",
        "message", "bytes", "both µs", "MB/s", "parse µs", "MB/s", "write µs", "MB/s"
    );
    for (name, text) in messages() {
        if !name.contains(&filter) {
            continue;
        }
        bench(name, &text);
    }
    results(&filter);
}

/// A method's result to text: `capnweb::serialize` writes it straight from the Rust value, as
/// a session writes a result; `to_value` then `serialize_value` goes through a `Value` tree.
fn results(filter: &str) {
    #[derive(serde::Serialize)]
    struct User {
        id: u32,
        name: String,
        tags: Vec<String>,
        score: f64,
    }
    let fibonacci: Vec<f64> = (0..1000)
        .scan((0.0f64, 1.0f64), |state, _| {
            let next = state.0;
            *state = (state.1, state.0 + state.1);
            Some(next)
        })
        .collect();
    let users: Vec<User> = (0..100)
        .map(|i| User {
            id: i,
            name: format!("user {i}"),
            tags: vec!["a".into(), "bc".into()],
            score: f64::from(i) / 7.0,
        })
        .collect();
    println!(
        "\n{:<22} {:>9} | {:>10} {:>8} | {:>10} {:>8} | {:>7}",
        "result to text", "bytes", "direct µs", "MB/s", "Value µs", "MB/s", "ratio"
    );
    result_row("fibonacci(1000)", filter, &fibonacci);
    result_row("100 user structs", filter, &users);
}

fn result_row<T: serde::Serialize>(name: &str, filter: &str, value: &T) {
    if !name.contains(filter) {
        return;
    }
    let direct_text = capnweb::serialize(value).expect("serializes");
    let through = || {
        let tree = capnweb::to_value(std::hint::black_box(value)).expect("converts");
        capnweb::serialize_value(&tree).expect("serializes")
    };
    assert_eq!(direct_text, through(), "{name}: the two paths agree");
    let direct = best_time(|| {
        std::hint::black_box(capnweb::serialize(std::hint::black_box(value)).expect("ok"));
    });
    let via_value = best_time(|| {
        std::hint::black_box(through());
    });
    let mbps = |seconds: f64| direct_text.len() as f64 / seconds / 1e6;
    println!(
        "{name:<22} {:>9} | {:>10.3} {:>8.0} | {:>10.3} {:>8.0} | {:>6.2}x",
        direct_text.len(),
        direct * 1e6,
        mbps(direct),
        via_value * 1e6,
        mbps(via_value),
        via_value / direct,
    );
}

/// The messages measured: the three of `examples/bench.rs`, then generated large ones.
fn messages() -> Vec<(&'static str, String)> {
    let integers = (0..100)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    vec![
        (
            "call",
            r#"["push",["pipeline",0,["square"],[3]]]"#.to_owned(),
        ),
        (
            "small object",
            r#"["resolve",1,{"id":"u_1","name":"Ada Lovelace","tags":[["a","b","c"]],"when":["date",1749342170815]}]"#
                .to_owned(),
        ),
        ("100 integers", format!(r#"["resolve",2,[[{integers}]]]"#)),
        ("strings 4 KiB", strings_message(4 << 10)),
        ("strings 1 MiB", strings_message(1 << 20)),
        ("objects 4 KiB", objects_message(4 << 10)),
        ("objects 1 MiB", objects_message(1 << 20)),
    ]
}

fn bench(name: &str, text: &str) {
    let parsed = Message::parse(text).expect("bench message parses");
    assert_eq!(parsed.to_text(), text, "{name}: bench message is canonical");
    let both = best_time(|| {
        let message = Message::parse(std::hint::black_box(text)).expect("valid");
        std::hint::black_box(message.to_text());
    });
    let parse = best_time(|| {
        std::hint::black_box(Message::parse(std::hint::black_box(text)).expect("valid"));
    });
    let write = best_time(|| {
        std::hint::black_box(std::hint::black_box(&parsed).to_text());
    });
    let mbps = |seconds: f64| text.len() as f64 / seconds / 1e6;
    println!(
        "{name:<22} {:>9} | {:>10.3} {:>8.0} | {:>10.3} {:>8.0} | {:>10.3} {:>8.0}",
        text.len(),
        both * 1e6,
        mbps(both),
        parse * 1e6,
        mbps(parse),
        write * 1e6,
        mbps(write),
    );
}

/// Seconds per call of `op`: the best mean over [`BATCHES`] batches of about [`BATCH`] each.
fn best_time(mut op: impl FnMut()) -> f64 {
    // Calibrate: enough calls per timing that the clock's cost does not show.
    let mut per_check = 1usize;
    loop {
        let started = Instant::now();
        for _ in 0..per_check {
            op();
        }
        if started.elapsed() > Duration::from_millis(2) {
            break;
        }
        per_check *= 2;
    }
    let mut best = f64::INFINITY;
    for _ in 0..BATCHES {
        let started = Instant::now();
        let mut calls = 0usize;
        while started.elapsed() < BATCH {
            for _ in 0..per_check {
                op();
            }
            calls += per_check;
        }
        best = best.min(started.elapsed().as_secs_f64() / calls as f64);
    }
    best
}

// ---------------------------------------------------------------------------------------------
// Generated messages: deterministic (a fixed-seed generator), canonical text.

/// A small deterministic generator (a linear congruential one; quality is not the point).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Words for generated text: mostly plain ASCII, some non-ASCII, some needing escapes.
const WORDS: &[&str] = &[
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "capability",
    "promise",
    "pipeline",
    "résumé",
    "naïve",
    "Grüße",
    "日本語",
    "Ελληνικά",
    "😀",
    "🚀",
    "say \"hi\"",
    "C:\\path\\file",
    "line\nbreak",
    "tab\there",
    "bell\u{7}",
    "a/b",
    "end.",
];

fn sentence(rng: &mut Lcg, words: usize) -> String {
    let mut text = String::new();
    for index in 0..words {
        if index > 0 {
            text.push(' ');
        }
        text.push_str(WORDS[rng.below(WORDS.len())]);
    }
    text
}

/// `["resolve",3,[["…","…",…]]]`: an escaped array of strings, at most `size` bytes of text.
fn strings_message(size: usize) -> String {
    let mut rng = Lcg(0x5157);
    let mut items = Vec::new();
    let mut total = r#"["resolve",3,[[]]]"#.len();
    loop {
        let longest = if rng.below(8) == 0 { 200 } else { 12 };
        let words = 1 + rng.below(longest);
        let item = Expr::String(sentence(&mut rng, words));
        let len = item.to_text().len() + 1;
        if total + len > size {
            if size - total < 32 {
                return Message::Resolve(3, Expr::Array(items)).to_text();
            }
            // Too long for the room left: draw another.
            continue;
        }
        total += len;
        items.push(item);
    }
}

/// `["resolve",4,{…}]`: objects of objects and arrays holding numbers, strings, booleans,
/// null, dates, bigints and undefined, about `size` bytes of text.
fn objects_message(size: usize) -> String {
    let mut rng = Lcg(0x0b1e);
    let mut fields = Vec::new();
    let mut total = r#"["resolve",4,{}]"#.len();
    while total < size {
        let key = format!("record_{}", fields.len());
        let value = record(&mut rng, 0);
        // `"key":value,` (the last comma is not written; the size is approximate anyway).
        total += Expr::String(key.clone()).to_text().len() + value.to_text().len() + 2;
        fields.push((key, value));
    }
    Message::Resolve(4, Expr::Object(fields)).to_text()
}

const KEYS: &[&str] = &[
    "id", "name", "email", "active", "score", "ratio", "created", "balance", "tags", "owner",
    "children", "meta", "note", "count", "missing", "weight",
];

/// One generated value; containers nest at most three levels below `depth`.
fn record(rng: &mut Lcg, depth: usize) -> Expr {
    let containers = if depth < 3 { 2 } else { 0 };
    match rng.below(9 + containers) {
        0 => Expr::Number(rng.below(100_000) as f64),
        1 => Expr::Number((rng.next() as f64 - 2e9) / 1024.0),
        2 => Expr::Number(rng.next() as f64 * 1.37e-3),
        3 => {
            let words = 1 + rng.below(4);
            Expr::String(sentence(rng, words))
        }
        4 => Expr::Bool(rng.below(2) == 0),
        5 => Expr::Null,
        6 => Expr::Date(Some(1.7e12 + rng.below(1 << 30) as f64)),
        7 => Expr::BigInt(format!("{}{}", rng.next(), rng.next())),
        8 => Expr::Undefined,
        9 => {
            let count = 1 + rng.below(6);
            Expr::Object(
                (0..count)
                    .map(|i| {
                        let key = KEYS[(rng.below(KEYS.len()) + i) % KEYS.len()];
                        (format!("{key}{i}"), record(rng, depth + 1))
                    })
                    .collect(),
            )
        }
        _ => {
            let count = rng.below(6);
            Expr::Array((0..count).map(|_| record(rng, depth + 1)).collect())
        }
    }
}
