//! Results as one line of JSON each. Values JSON can hold print as themselves; the rest print
//! in a tagged form, an object with one key starting with `$` (the list is in the README and
//! in `capnweb call --help`). An object's own key starting with `$` is escaped by doubling the
//! `$` (`$x` prints as `$$x`), so a tagged form is never ambiguous.

use base64::Engine;
use capnweb::{RpcError, Value};
use serde_json::{json, Map, Value as Json};

/// `value` in the printed form. `origin` names where it came from (the statement's text);
/// a stub inside is named by that and its path, as in `getUsers()[0].profile`.
pub fn to_json(value: &Value, origin: &str) -> Json {
    let mut path = origin.to_owned();
    convert(value, &mut path)
}

fn convert(value: &Value, path: &mut String) -> Json {
    match value {
        Value::Undefined => json!({ "$undefined": true }),
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Number(n) => number(*n),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                out.push(convert(item, path));
                path.truncate(len);
            }
            Json::Array(out)
        }
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, item) in object {
                let len = path.len();
                path.push('.');
                path.push_str(key);
                let printed_key = if key.starts_with('$') {
                    format!("${key}")
                } else {
                    key.clone()
                };
                out.insert(printed_key, convert(item, path));
                path.truncate(len);
            }
            Json::Object(out)
        }
        Value::BigInt(b) => json!({ "$bigint": b.as_str() }),
        Value::Date(d) if d.is_valid() => json!({ "$date": number(d.millis()) }),
        Value::Date(_) => json!({ "$date": "Invalid Date" }),
        Value::Bytes(bytes) => {
            json!({ "$bytes": base64::engine::general_purpose::STANDARD.encode(bytes.as_slice()) })
        }
        Value::Error(error) => json!({ "$error": error_json(error, path) }),
        Value::Url(href) => json!({ "$url": href }),
        Value::Headers(pairs) => json!({ "$headers": pairs }),
        Value::Stub(_) | Value::Promise(_) => json!({ "$stub": path.clone() }),
        // Requests, responses, and whatever a later library version adds: named, not shown.
        other => json!({ "$unsupported": other.kind() }),
    }
}

/// A number; NaN and the infinities, which JSON lacks, tagged.
fn number(n: f64) -> Json {
    if n.is_finite() {
        // Integers print without a fraction, as JavaScript would.
        if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
            Json::from(n as i64)
        } else {
            Json::from(n)
        }
    } else if n.is_nan() {
        json!({ "$number": "NaN" })
    } else if n > 0.0 {
        json!({ "$number": "Infinity" })
    } else {
        json!({ "$number": "-Infinity" })
    }
}

fn error_json(error: &RpcError, path: &mut String) -> Json {
    let mut out = Map::new();
    out.insert("name".into(), Json::String(error.name.clone()));
    out.insert("message".into(), Json::String(error.message.clone()));
    if let Some(stack) = &error.stack {
        out.insert("stack".into(), Json::String(stack.clone()));
    }
    for (key, value) in error.props.iter() {
        let len = path.len();
        path.push('.');
        path.push_str(key);
        out.insert(key.clone(), convert(value, path));
        path.truncate(len);
    }
    Json::Object(out)
}

/// Prints `line` and a newline on stdout; a closed stdout (`| head`) is not an error worth a
/// panic.
pub fn print_line(line: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// A rejection as the user reads it on stderr: `Name: message`, then the stack if the server
/// sent one.
pub fn rejection(error: &RpcError) -> String {
    let mut text = format!("{}: {}", error.name, error.message);
    if let Some(stack) = &error.stack {
        // JavaScript stacks usually start with the `Name: message` line already.
        let stack = stack.strip_prefix(&text).unwrap_or(stack);
        let stack = stack.trim_start_matches('\n');
        if !stack.is_empty() {
            text.push('\n');
            text.push_str(stack);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use capnweb::{BigInt, Bytes, Date};

    fn printed(value: Value) -> String {
        to_json(&value, "x()").to_string()
    }

    #[test]
    fn json_values_print_as_themselves() {
        let mut object = capnweb::value::Object::new();
        let items = vec![
            Value::from(1),
            Value::from(2.5),
            Value::from("s"),
            Value::Null,
            Value::from(true),
        ];
        object.insert("a".into(), Value::Array(items));
        let value = Value::Object(object);
        assert_eq!(printed(value), r#"{"a":[1,2.5,"s",null,true]}"#);
    }

    #[test]
    fn the_rest_print_tagged() {
        assert_eq!(printed(Value::Undefined), r#"{"$undefined":true}"#);
        assert_eq!(
            printed(Value::BigInt(BigInt::parse("-123").unwrap())),
            r#"{"$bigint":"-123"}"#
        );
        assert_eq!(
            printed(Value::Bytes(Bytes::with_kind(b"hi".to_vec(), None))),
            r#"{"$bytes":"aGk="}"#
        );
        assert_eq!(
            printed(Value::Date(Date::from_millis(1.5e12))),
            r#"{"$date":1500000000000}"#
        );
        assert_eq!(printed(Value::Number(f64::NAN)), r#"{"$number":"NaN"}"#);
        assert_eq!(
            printed(Value::from(RpcError::range_error("too big"))),
            r#"{"$error":{"name":"RangeError","message":"too big"}}"#
        );
        let stub = Value::Stub(capnweb::Stub::from_fn(|_| async { Ok(Value::Null) }));
        let mut object = capnweb::value::Object::new();
        object.insert("$ref".into(), Value::Array(vec![stub]));
        assert_eq!(
            printed(Value::Object(object)),
            r#"{"$$ref":[{"$stub":"x().$ref[0]"}]}"#
        );
    }

    #[test]
    fn a_rejection_reads_name_colon_message_then_the_stack() {
        let error = RpcError::type_error("no such method")
            .with_stack("TypeError: no such method\n    at f (x.js:1)");
        assert_eq!(
            rejection(&error),
            "TypeError: no such method\n    at f (x.js:1)"
        );
        assert_eq!(rejection(&RpcError::error("plain")), "Error: plain");
    }
}
