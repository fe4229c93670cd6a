//! The 69 golden vectors of `../shared/conformance/golden_wire.json`, made from the reference's
//! standalone `serialize()` / `deserialize()`, run against ours: every `roundtrip` entry
//! decodes and re-encodes to the reference's text, every `decode_error` entry is refused,
//! every `encode_error` entry whose value Rust can hold is refused. A failure names the
//! entry. The few deliberate differences are listed below with their reasons, and checked as
//! what we do instead.

use capnweb::value::Fetch;
use capnweb::{deserialize_value, serialize_value, Stub, Value};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/conformance/golden_wire.json"
);

/// Entries where we differ on purpose, and why.
const DIFFERENCES: &[(&str, &str)] = &[
    (
        "array_nest_depth64",
        "the vectors come from capnweb 0.9.0, whose serializer stopped at depth 64; 0.12.0, the \
         version this project follows, allows 256 (DEFAULT_MAX_DEPTH), and so do we: it \
         serializes",
    ),
    ("array_nest_depth65", "as array_nest_depth64"),
    (
        "error_unknown_name_decode",
        "JavaScript revives an unknown error name as a plain Error (and re-encodes it as \
         \"Error\"); Rust has no error classes to revive into, so the name the peer sent is \
         kept, and a Rust caller can match on it",
    ),
    (
        "request_post_body_headers",
        "in JavaScript a Request's string body becomes a stream, which a standalone \
         serializer cannot send; a Rust request's body is its value, and it serializes",
    ),
];

/// `encode_error` inputs that have no Rust counterpart, and why.
const NOT_APPLICABLE: &[(&str, &str)] = &[
    (
        "symbol_encode",
        "Rust values have no symbols: serde types map onto data (see the value module)",
    ),
    (
        "class_instance_encode",
        "a Rust struct is data, serialized as an object; there are no class instances",
    ),
    (
        "map_object_encode",
        "a Rust map serializes as an object; there is no separate Map type",
    ),
];

/// The Rust value for an `encode_error` entry (or a listed difference).
fn encode_input(name: &str) -> Option<Value> {
    Some(match name {
        "function_encode" => Value::Stub(Stub::from_fn(|_args: Vec<Value>| async {
            Ok(Value::from(1))
        })),
        "array_nest_depth64" | "array_nest_depth65" => {
            let depth = if name.ends_with("64") { 64 } else { 65 };
            let mut value = Value::from(42);
            for _ in 0..depth {
                value = Value::Array(vec![value]);
            }
            value
        }
        "request_post_body_headers" => Value::Request(Box::new(Fetch {
            url: "https://example.com/".into(),
            headers: vec![
                ("content-type".into(), "text/plain".into()),
                ("x-custom".into(), "1".into()),
            ],
            body: Some(Value::from("hello body")),
            other: [("method".to_owned(), serde_json::Value::from("POST"))]
                .into_iter()
                .collect(),
        })),
        _ => return None,
    })
}

fn reason(table: &[(&str, &'static str)], name: &str) -> Option<&'static str> {
    table
        .iter()
        .find(|(entry, _)| *entry == name)
        .map(|(_, why)| *why)
}

#[test]
fn every_golden_vector() {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| {
        panic!("the golden vectors ({VECTORS}) should be beside the repository: {e}")
    });
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = file["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 69);
    let mut failures = Vec::new();
    let mut differences_seen = Vec::new();
    for entry in entries {
        let name = entry["name"].as_str().unwrap();
        let wire = entry["wire"].as_str().unwrap();
        let expect = entry["expect"].as_str().unwrap();
        let differs = reason(DIFFERENCES, name).is_some();
        if differs {
            differences_seen.push(name);
        }
        let outcome: Result<(), String> = match expect {
            "roundtrip" => match deserialize_value(wire) {
                Err(e) => Err(format!("decoding {wire} failed: {e}")),
                Ok(value) => {
                    // No re-encoding recorded (the reference could not make one): ours must
                    // at least give the text back as it came.
                    let expected = if differs {
                        wire
                    } else {
                        entry["reencoded_wire"].as_str().unwrap_or(wire)
                    };
                    match serialize_value(&value) {
                        Ok(again) if again == expected => Ok(()),
                        Ok(again) => Err(format!("re-encoded as {again}, expected {expected}")),
                        Err(e) => Err(format!("re-encoding failed: {e}")),
                    }
                }
            },
            "decode_error" => match deserialize_value(wire) {
                Ok(value) => Err(format!("{wire} decoded (as {value:?}); expected a refusal")),
                Err(_) => Ok(()),
            },
            "encode_error" => {
                if let Some(why) = reason(NOT_APPLICABLE, name) {
                    assert!(!why.is_empty());
                    Ok(())
                } else {
                    match (encode_input(name), differs) {
                        (None, _) => Err("no Rust input for this entry".into()),
                        (Some(value), false) => match serialize_value(&value) {
                            Ok(text) => Err(format!("serialized as {text}; expected a refusal")),
                            Err(_) => Ok(()),
                        },
                        // A listed difference: we serialize it.
                        (Some(value), true) => serialize_value(&value)
                            .map(drop)
                            .map_err(|e| format!("should serialize here: {e}")),
                    }
                }
            }
            other => Err(format!("unknown expectation {other:?}")),
        };
        if let Err(problem) = outcome {
            failures.push(format!("{name}: {problem}"));
        }
    }
    assert!(
        failures.is_empty(),
        "golden vectors failed:\n{}",
        failures.join("\n")
    );
    let mut listed: Vec<&str> = DIFFERENCES.iter().map(|(name, _)| *name).collect();
    listed.sort_unstable();
    differences_seen.sort_unstable();
    assert_eq!(
        listed, differences_seen,
        "every listed difference is an entry"
    );
}
