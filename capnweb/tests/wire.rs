//! Wire format: golden vectors (text → value → identical text), strict rejection of malformed
//! input with precise messages, limits, and a no-panic mutation sweep.

use capnweb::wire::{
    BytesKind, Capture, ErrorForm, Expr, FetchInit, Message, PathKey, ReferenceForm, RemapForm,
    RequestForm, ResponseForm, WireError, WireErrorKind,
};
use capnweb::Limits;

// ---------------------------------------------------------------------------------------------
// Helpers

fn s(text: &str) -> Expr {
    Expr::String(text.to_owned())
}

fn n(x: f64) -> Expr {
    Expr::Number(x)
}

fn obj(fields: &[(&str, Expr)]) -> Expr {
    Expr::Object(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
}

fn arr(items: &[Expr]) -> Expr {
    Expr::Array(items.to_vec())
}

fn path(keys: &[PathKey]) -> Option<Vec<PathKey>> {
    Some(keys.to_vec())
}

fn name(key: &str) -> PathKey {
    PathKey::from(key)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn plain(json: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Object(map)) => map,
        other => panic!("test bug: {json} is not an object: {other:?}"),
    }
}

/// Canonical message text parses to `expected` and serializes back to the same text.
#[track_caller]
fn golden_message(text: &str, expected: Message) {
    let parsed = Message::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(parsed, expected, "parsing {text}");
    assert_eq!(parsed.to_text(), text, "serializing {expected:?}");
}

/// Canonical expression text round-trips both bare and inside a `push` message.
#[track_caller]
fn golden_expr(text: &str, expected: Expr) {
    let parsed = Expr::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(parsed, expected, "parsing {text}");
    assert_eq!(parsed.to_text(), text, "serializing {expected:?}");
    golden_message(&format!("[\"push\",{text}]"), Message::Push(expected));
}

/// Non-canonical but valid text parses to `expected`, which serializes to `canonical`.
#[track_caller]
fn accepted_message(text: &str, expected: Message, canonical: &str) {
    let parsed = Message::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(parsed, expected, "parsing {text}");
    assert_eq!(parsed.to_text(), canonical, "serializing {expected:?}");
}

#[track_caller]
fn rejected_with(text: &str, limits: &Limits) -> WireError {
    match Message::parse_with_limits(text, limits) {
        Ok(msg) => panic!("{text} was accepted as {msg:?}"),
        Err(err) => {
            // Shown, an exceeded limit also names the setting that raises it.
            match err.limit().and_then(|(limit, _)| limit.setting()) {
                Some(setting) => {
                    assert_eq!(err.to_string(), format!("{} ({setting})", err.message()))
                }
                None => assert_eq!(err.to_string(), err.message()),
            }
            err
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Golden vectors: messages

#[test]
fn golden_every_message_kind() {
    golden_message(
        r#"["push",["pipeline",0,["add"],[1,2]]]"#,
        Message::Push(Expr::Pipeline(Box::new(ReferenceForm {
            id: 0,
            path: path(&[name("add")]),
            args: Some(vec![n(1.0), n(2.0)]),
        }))),
    );
    golden_message(r#"["pull",1]"#, Message::Pull(1));
    golden_message(r#"["resolve",-1,"ok"]"#, Message::Resolve(-1, s("ok")));
    golden_message(
        r#"["reject",2,["error","Error","boom"]]"#,
        Message::Reject(
            2,
            Expr::Error(Box::new(ErrorForm {
                name: "Error".into(),
                message: "boom".into(),
                stack: None,
                props: None,
            })),
        ),
    );
    golden_message(r#"["release",3,2]"#, Message::Release(3, 2));
    golden_message(
        r#"["stream",["pipeline",1,["write"],["chunk"]]]"#,
        Message::Stream(Expr::Pipeline(Box::new(ReferenceForm {
            id: 1,
            path: path(&[name("write")]),
            args: Some(vec![s("chunk")]),
        }))),
    );
    golden_message(r#"["pipe"]"#, Message::Pipe);
    golden_message(
        r#"["abort",["error","Error","bye"]]"#,
        Message::Abort(Expr::Error(Box::new(ErrorForm {
            name: "Error".into(),
            message: "bye".into(),
            stack: None,
            props: None,
        }))),
    );
    golden_message(
        r#"["release",-9007199254740992,9007199254740992]"#,
        Message::Release(-9_007_199_254_740_992, 9_007_199_254_740_992),
    );
}

// ---------------------------------------------------------------------------------------------
// Golden vectors: expressions

#[test]
fn golden_literals() {
    golden_expr("null", Expr::Null);
    golden_expr("true", Expr::Bool(true));
    golden_expr("false", Expr::Bool(false));
    golden_expr(r#""""#, s(""));
    golden_expr(
        r#""he said \"hi\"\n\ttab\\ \u0001 é ☃ 😀""#,
        s("he said \"hi\"\n\ttab\\ \u{1} é ☃ 😀"),
    );
    golden_expr("{}", Expr::Object(vec![]));
    golden_expr(r#"{"b":1,"a":"x"}"#, obj(&[("b", n(1.0)), ("a", s("x"))]));
    golden_expr(
        r#"{"nested":{"deeper":{"x":null}}}"#,
        obj(&[("nested", obj(&[("deeper", obj(&[("x", Expr::Null)]))]))]),
    );
}

#[test]
fn golden_numbers_print_as_javascript_does() {
    for (text, x) in [
        ("0", 0.0),
        ("-3", -3.0),
        ("1.5", 1.5),
        ("-0.25", -0.25),
        ("0.1", 0.1),
        ("123456789012", 123_456_789_012.0),
        ("9007199254740993", 9_007_199_254_740_992.0 + 2.0), // rounds like JS
        ("100000000000000000000", 1e20),
        ("1e+21", 1e21),
        ("1.2345e+25", 1.2345e25),
        ("0.000001", 1e-6),
        ("1e-7", 1e-7),
        ("1.5e-7", 1.5e-7),
        ("5e-324", 5e-324),
        ("1.7976931348623157e+308", f64::MAX),
        ("0.30000000000000004", 0.1 + 0.2),
        ("-1.7976931348623157e+308", f64::MIN),
        // Exactly halfway between two shortest candidates: the even one, as JavaScript picks.
        ("187896606403120.12", 187_896_606_403_120.0 + 0.125),
        ("-1388639381052724.2", -1_388_639_381_052_724.0 - 0.25),
        ("11913569527575.812", 11_913_569_527_575.0 + 0.8125),
    ] {
        if text == "9007199254740993" {
            // Not canonical: JS would print 9007199254740994 for this double.
            assert_eq!(Expr::parse(text), Ok(n(9_007_199_254_740_992.0)));
            continue;
        }
        golden_expr(text, n(x));
    }
}

#[test]
fn numbers_are_parsed_exactly_and_reprinted_identically() {
    // Mirrors what JSON.parse(JSON.stringify(x)) guarantees in JavaScript.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..20_000 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let x = f64::from_bits(state);
        if !x.is_finite() {
            continue;
        }
        let text = Expr::Number(x).to_text();
        let back = Expr::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let Expr::Number(y) = back else {
            panic!("{text} parsed as {back:?}")
        };
        assert_eq!(x.to_bits(), y.to_bits(), "{text}");
    }
}

#[test]
fn numbers_print_exactly_as_node_prints_them() {
    // Pairs of (f64 bits, JSON.stringify(x)) written by Node.js; see gen_js_numbers.js there.
    // About 250 of them are exact ties, where JavaScript picks the even last digit.
    let vectors = include_str!("wire_vectors/js_numbers.txt");
    let mut count = 0;
    for line in vectors.lines().filter(|line| !line.starts_with('#')) {
        let (hex, js) = line.split_once(' ').expect("vector line: bits text");
        let x = f64::from_bits(u64::from_str_radix(hex, 16).expect("hex bits"));
        assert_eq!(Expr::Number(x).to_text(), js, "bits {hex}");
        assert_eq!(Expr::parse(js), Ok(Expr::Number(x)), "bits {hex}");
        count += 1;
    }
    assert!(count > 2000, "{count} vectors");
}

#[test]
fn non_canonical_numbers_and_zero() {
    accepted_message(r#"["push",1.0]"#, Message::Push(n(1.0)), r#"["push",1]"#);
    accepted_message(r#"["push",-0]"#, Message::Push(n(-0.0)), r#"["push",0]"#);
    accepted_message(
        r#"["push",1E2]"#,
        Message::Push(n(100.0)),
        r#"["push",100]"#,
    );
    // Non-finite numbers never print as numbers.
    assert_eq!(n(f64::NAN).to_text(), r#"["nan"]"#);
    assert_eq!(n(f64::INFINITY).to_text(), r#"["inf"]"#);
    assert_eq!(n(f64::NEG_INFINITY).to_text(), r#"["-inf"]"#);
}

#[test]
fn golden_escaped_arrays() {
    golden_expr("[[]]", arr(&[]));
    golden_expr(r#"[[1,"a",null]]"#, arr(&[n(1.0), s("a"), Expr::Null]));
    golden_expr(
        r#"[[[[0]],[[[[]]]],["date",1757214689123]]]"#,
        arr(&[
            arr(&[n(0.0)]),
            arr(&[arr(&[])]),
            Expr::Date(Some(1_757_214_689_123.0)),
        ]),
    );
    golden_expr(
        r#"{"key":[["abc",[[0]]]]}"#,
        obj(&[("key", arr(&[s("abc"), arr(&[n(0.0)])]))]),
    );
}

#[test]
fn golden_simple_special_forms() {
    golden_expr(r#"["undefined"]"#, Expr::Undefined);
    golden_expr(r#"["inf"]"#, Expr::Inf);
    golden_expr(r#"["-inf"]"#, Expr::NegInf);
    golden_expr(r#"["nan"]"#, Expr::NaN);
    golden_expr(r#"["bigint","0"]"#, Expr::BigInt("0".into()));
    golden_expr(
        r#"["bigint","-123456789012345678901234567890"]"#,
        Expr::BigInt("-123456789012345678901234567890".into()),
    );
    golden_expr(
        r#"["date",1749342170815]"#,
        Expr::Date(Some(1_749_342_170_815.0)),
    );
    golden_expr(r#"["date",-1.5]"#, Expr::Date(Some(-1.5)));
    golden_expr(r#"["date",null]"#, Expr::Date(None));
    golden_expr(
        r#"["url","https://example.com/path?q=1"]"#,
        Expr::Url("https://example.com/path?q=1".into()),
    );
    golden_expr(r#"["export",-1]"#, Expr::Export(-1));
    golden_expr(r#"["promise",-2]"#, Expr::Promise(-2));
    golden_expr(r#"["writable",-3]"#, Expr::Writable(-3));
    golden_expr(r#"["readable",4]"#, Expr::Readable(4));
    golden_expr(
        r#"["blob","text/plain",["readable",3]]"#,
        Expr::Blob {
            mime: "text/plain".into(),
            content: Box::new(Expr::Readable(3)),
        },
    );
    golden_expr(
        r#"["blob","",["readable",1]]"#,
        Expr::Blob {
            mime: String::new(),
            content: Box::new(Expr::Readable(1)),
        },
    );
}

#[test]
fn golden_bytes() {
    golden_expr(
        r#"["bytes",""]"#,
        Expr::Bytes {
            data: vec![],
            kind: None,
        },
    );
    golden_expr(
        r#"["bytes","aGVsbG8"]"#,
        Expr::Bytes {
            data: b"hello".to_vec(),
            kind: None,
        },
    );
    golden_expr(
        r#"["bytes","AAEC/w"]"#,
        Expr::Bytes {
            data: vec![0, 1, 2, 255],
            kind: None,
        },
    );
    golden_expr(
        r#"["bytes","AQIDBA","Uint32Array"]"#,
        Expr::Bytes {
            data: vec![1, 2, 3, 4],
            kind: Some(BytesKind::Uint32Array),
        },
    );
    golden_expr(
        r#"["bytes","aGk","Uint8Array"]"#,
        Expr::Bytes {
            data: b"hi".to_vec(),
            kind: Some(BytesKind::Uint8Array),
        },
    );
    golden_expr(
        r#"["bytes","","ArrayBuffer"]"#,
        Expr::Bytes {
            data: vec![],
            kind: Some(BytesKind::ArrayBuffer),
        },
    );
    // Every kind round-trips with a length that fits its element size.
    for kind in BytesKind::ALL {
        let text = format!(r#"["bytes","AAAAAAAAAAA","{}"]"#, kind.name());
        golden_expr(
            &text,
            Expr::Bytes {
                data: vec![0; 8],
                kind: Some(kind),
            },
        );
    }
    // Padding is accepted (older senders), and dropped when re-sent.
    accepted_message(
        r#"["push",["bytes","aGVsbG8="]]"#,
        Message::Push(Expr::Bytes {
            data: b"hello".to_vec(),
            kind: None,
        }),
        r#"["push",["bytes","aGVsbG8"]]"#,
    );
    accepted_message(
        r#"["push",["bytes","aGk=","Int8Array"]]"#,
        Message::Push(Expr::Bytes {
            data: b"hi".to_vec(),
            kind: Some(BytesKind::Int8Array),
        }),
        r#"["push",["bytes","aGk","Int8Array"]]"#,
    );
}

#[test]
fn golden_errors_with_three_four_and_five_elements() {
    golden_expr(
        r#"["error","TypeError","bad"]"#,
        Expr::Error(Box::new(ErrorForm {
            name: "TypeError".into(),
            message: "bad".into(),
            stack: None,
            props: None,
        })),
    );
    golden_expr(
        r#"["error","Error","m","Error: m\n    at f (x.js:1:2)"]"#,
        Expr::Error(Box::new(ErrorForm {
            name: "Error".into(),
            message: "m".into(),
            stack: Some("Error: m\n    at f (x.js:1:2)".into()),
            props: None,
        })),
    );
    golden_expr(
        r#"["error","Error","m",null,{"code":42,"cause":["error","RangeError","inner"],"list":[[1]]}]"#,
        Expr::Error(Box::new(ErrorForm {
            name: "Error".into(),
            message: "m".into(),
            stack: None,
            props: Some(vec![
                ("code".into(), n(42.0)),
                (
                    "cause".into(),
                    Expr::Error(Box::new(ErrorForm {
                        name: "RangeError".into(),
                        message: "inner".into(),
                        stack: None,
                        props: None,
                    })),
                ),
                ("list".into(), arr(&[n(1.0)])),
            ]),
        })),
    );
    golden_expr(
        r#"["error","E","m","stk",{}]"#,
        Expr::Error(Box::new(ErrorForm {
            name: "E".into(),
            message: "m".into(),
            stack: Some("stk".into()),
            props: Some(vec![]),
        })),
    );
    // A null stack without props is the 3-element form.
    accepted_message(
        r#"["reject",1,["error","E","m",null]]"#,
        Message::Reject(
            1,
            Expr::Error(Box::new(ErrorForm {
                name: "E".into(),
                message: "m".into(),
                stack: None,
                props: None,
            })),
        ),
        r#"["reject",1,["error","E","m"]]"#,
    );
}

#[test]
fn golden_headers_request_response() {
    golden_expr(
        r#"["headers",[["content-type","text/plain"],["x-custom","hello"]]]"#,
        Expr::Headers(pairs(&[
            ("content-type", "text/plain"),
            ("x-custom", "hello"),
        ])),
    );
    golden_expr(r#"["headers",[]]"#, Expr::Headers(vec![]));
    golden_expr(
        r#"["request","https://example.com/",{"method":"POST","headers":[["a","b"]],"body":"hello","duplex":"half","cf":{"x":[1,{"y":null}]}}]"#,
        Expr::Request(Box::new(RequestForm {
            url: "https://example.com/".into(),
            init: FetchInit {
                body: Some(Box::new(s("hello"))),
                headers: Some(pairs(&[("a", "b")])),
                other: plain(r#"{"method":"POST","duplex":"half","cf":{"x":[1,{"y":null}]}}"#),
            },
        })),
    );
    golden_expr(
        r#"["request","https://e.com/upload",{"method":"PUT","body":["readable",2],"duplex":"half"}]"#,
        Expr::Request(Box::new(RequestForm {
            url: "https://e.com/upload".into(),
            init: FetchInit {
                body: Some(Box::new(Expr::Readable(2))),
                headers: None,
                other: plain(r#"{"method":"PUT","duplex":"half"}"#),
            },
        })),
    );
    golden_expr(
        r#"["request","https://e.com/",{}]"#,
        Expr::Request(Box::new(RequestForm {
            url: "https://e.com/".into(),
            init: FetchInit::default(),
        })),
    );
    golden_expr(
        r#"["response",null,{"status":404,"statusText":"Not Found","headers":[["x","y"]],"encodeBody":"manual"}]"#,
        Expr::Response(Box::new(ResponseForm {
            body: Box::new(Expr::Null),
            init: FetchInit {
                body: None,
                headers: Some(pairs(&[("x", "y")])),
                other: plain(r#"{"status":404,"statusText":"Not Found","encodeBody":"manual"}"#),
            },
        })),
    );
    golden_expr(
        r#"["response",["bytes","aGk"],{}]"#,
        Expr::Response(Box::new(ResponseForm {
            body: Box::new(Expr::Bytes {
                data: b"hi".to_vec(),
                kind: None,
            }),
            init: FetchInit::default(),
        })),
    );
    golden_expr(
        r#"["response",["readable",5],{"headers":[]}]"#,
        Expr::Response(Box::new(ResponseForm {
            body: Box::new(Expr::Readable(5)),
            init: FetchInit {
                body: None,
                headers: Some(vec![]),
                other: Default::default(),
            },
        })),
    );
}

#[test]
fn golden_import_and_pipeline_with_optional_parts() {
    for tag in ["import", "pipeline"] {
        let make = |id, path, args| match tag {
            "import" => Expr::Import(Box::new(ReferenceForm { id, path, args })),
            _ => Expr::Pipeline(Box::new(ReferenceForm { id, path, args })),
        };
        golden_expr(&format!(r#"["{tag}",0]"#), make(0, None, None));
        golden_expr(
            &format!(r#"["{tag}",3,["users",0,"name"]]"#),
            make(
                3,
                path(&[name("users"), PathKey::Index(0), name("name")]),
                None,
            ),
        );
        golden_expr(&format!(r#"["{tag}",-1,[]]"#), make(-1, path(&[]), None));
        golden_expr(
            &format!(r#"["{tag}",0,[],[[[1,2]],{{"k":["undefined"]}},["pipeline",2]]]"#),
            make(
                0,
                path(&[]),
                Some(vec![
                    arr(&[n(1.0), n(2.0)]),
                    obj(&[("k", Expr::Undefined)]),
                    Expr::Pipeline(Box::new(ReferenceForm {
                        id: 2,
                        path: None,
                        args: None,
                    })),
                ]),
            ),
        );
        golden_expr(
            &format!(r#"["{tag}",1,["f"],[]]"#),
            make(1, path(&[name("f")]), Some(vec![])),
        );
    }
}

#[test]
fn golden_remap_with_captures_and_nested_remap() {
    golden_expr(
        r#"["remap",1,["items"],[["import",0],["export",-2]],[["pipeline",0,["name"]],["pipeline",-1,["lookup"],[["pipeline",1]]],["remap",0,[],[],[["pipeline",0,["x"]]]],{"a":["pipeline",2],"b":["pipeline",3]}]]"#,
        Expr::Remap(Box::new(RemapForm {
            id: 1,
            path: vec![name("items")],
            captures: vec![Capture::Import(0), Capture::Export(-2)],
            instructions: vec![
                Expr::Pipeline(Box::new(ReferenceForm {
                    id: 0,
                    path: path(&[name("name")]),
                    args: None,
                })),
                Expr::Pipeline(Box::new(ReferenceForm {
                    id: -1,
                    path: path(&[name("lookup")]),
                    args: Some(vec![Expr::Pipeline(Box::new(ReferenceForm {
                        id: 1,
                        path: None,
                        args: None,
                    }))]),
                })),
                Expr::Remap(Box::new(RemapForm {
                    id: 0,
                    path: vec![],
                    captures: vec![],
                    instructions: vec![Expr::Pipeline(Box::new(ReferenceForm {
                        id: 0,
                        path: path(&[name("x")]),
                        args: None,
                    }))],
                })),
                obj(&[
                    (
                        "a",
                        Expr::Pipeline(Box::new(ReferenceForm {
                            id: 2,
                            path: None,
                            args: None,
                        })),
                    ),
                    (
                        "b",
                        Expr::Pipeline(Box::new(ReferenceForm {
                            id: 3,
                            path: None,
                            args: None,
                        })),
                    ),
                ]),
            ],
        })),
    );
}

#[test]
fn golden_objects_with_special_values_inside() {
    golden_expr(
        r#"{"when":["date",0],"n":["bigint","5"],"list":[[["undefined"],{"x":["inf"]}]],"stub":["export",-1],"p":["promise",-2],"e":["error","Error","x"]}"#,
        obj(&[
            ("when", Expr::Date(Some(0.0))),
            ("n", Expr::BigInt("5".into())),
            ("list", arr(&[Expr::Undefined, obj(&[("x", Expr::Inf)])])),
            ("stub", Expr::Export(-1)),
            ("p", Expr::Promise(-2)),
            (
                "e",
                Expr::Error(Box::new(ErrorForm {
                    name: "Error".into(),
                    message: "x".into(),
                    stack: None,
                    props: None,
                })),
            ),
        ]),
    );
}

#[test]
fn args_are_a_plain_list_not_an_escaped_array() {
    // From the module docs: args 1 and 2, not one array argument.
    let msg = Message::parse(r#"["push",["pipeline",0,["add"],[1,2]]]"#).unwrap();
    let Message::Push(Expr::Pipeline(call)) = &msg else {
        panic!("{msg:?}")
    };
    let Some(args) = call.args.clone() else {
        panic!("{msg:?}")
    };
    assert_eq!(args, vec![n(1.0), n(2.0)]);
    // An escaped array as the single argument is written [[…]] inside the list.
    let msg = Message::parse(r#"["push",["pipeline",0,["f"],[[[1,2]]]]]"#).unwrap();
    let Message::Push(Expr::Pipeline(call)) = &msg else {
        panic!("{msg:?}")
    };
    let Some(args) = call.args.clone() else {
        panic!("{msg:?}")
    };
    assert_eq!(args, vec![arr(&[n(1.0), n(2.0)])]);
}

#[test]
fn whitespace_duplicate_keys_and_integral_ids_are_accepted() {
    accepted_message(" [ \"pull\" ,\n 1 ] ", Message::Pull(1), r#"["pull",1]"#);
    accepted_message(r#"["pull",2.0]"#, Message::Pull(2), r#"["pull",2]"#);
    accepted_message(
        r#"["release",5,1e0]"#,
        Message::Release(5, 1),
        r#"["release",5,1]"#,
    );
    // Duplicate keys: the last value wins, in the first key's place (like JSON.parse).
    accepted_message(
        r#"["push",{"a":1,"b":2,"a":3}]"#,
        Message::Push(obj(&[("a", n(3.0)), ("b", n(2.0))])),
        r#"["push",{"a":3,"b":2}]"#,
    );
    accepted_message(
        r#"["push",["import",0,[1.0]]]"#,
        Message::Push(Expr::Import(Box::new(ReferenceForm {
            id: 0,
            path: path(&[PathKey::Index(1)]),
            args: None,
        }))),
        r#"["push",["import",0,[1]]]"#,
    );
}

#[test]
fn pass_through_init_values_hold_numbers_as_javascript_does() {
    // 4e2 and 400 are the same number to a JavaScript peer; the value compares equal either way.
    accepted_message(
        r#"["push",["response",null,{"status":4e2,"cf":{"a":[1.0,-0,2.5]}}]]"#,
        Message::Push(Expr::Response(Box::new(ResponseForm {
            body: Box::new(Expr::Null),
            init: FetchInit {
                body: None,
                headers: None,
                other: plain(r#"{"status":400,"cf":{"a":[1,0,2.5]}}"#),
            },
        }))),
        r#"["push",["response",null,{"status":400,"cf":{"a":[1,0,2.5]}}]]"#,
    );
}

#[test]
fn string_escaping_matches_json_stringify() {
    // serde_json escapes exactly as JSON.stringify does for valid Unicode.
    let mut all: String = (0u32..0x80).filter_map(char::from_u32).collect();
    all.push_str("\u{7f}\u{80}\u{2028}\u{2029}\u{fffd}\u{10ffff}é😀");
    for c in all.chars() {
        let text = c.to_string();
        let expected = serde_json::to_string(&text).unwrap();
        assert_eq!(s(&text).to_text(), expected, "U+{:04X}", c as u32);
    }
    assert_eq!(s("\u{8}\u{c}\u{1f}").to_text(), r#""\b\f\u001f""#);
}

#[test]
fn fetch_init_keys_are_written_in_the_reference_order() {
    // The reference builds init as method, headers, body, then the rest.
    let request = Expr::Request(Box::new(RequestForm {
        url: "u".into(),
        init: FetchInit {
            body: Some(Box::new(s("b"))),
            headers: Some(pairs(&[("a", "1")])),
            other: plain(r#"{"duplex":"half","method":"POST"}"#),
        },
    }));
    assert_eq!(
        request.to_text(),
        r#"["request","u",{"method":"POST","headers":[["a","1"]],"body":"b","duplex":"half"}]"#
    );
    let response = Expr::Response(Box::new(ResponseForm {
        body: Box::new(Expr::Null),
        init: FetchInit {
            body: None,
            headers: Some(pairs(&[("a", "1")])),
            other: plain(r#"{"cf":{},"statusText":"OK!","status":201}"#),
        },
    }));
    assert_eq!(
        response.to_text(),
        r#"["response",null,{"status":201,"statusText":"OK!","headers":[["a","1"]],"cf":{}}]"#
    );
}

// ---------------------------------------------------------------------------------------------
// Rejection: every malformed input is an error naming the problem and where.

const REJECTS: &[(&str, &str)] = &[
    // Not JSON, not a message.
    ("not json", "invalid JSON"),
    (r#"["pull",1] x"#, "invalid JSON"),
    ("", "invalid JSON"),
    (r#"{"push":1}"#, "expected a message (an array starting with a tag), found an object"),
    ("42", "expected a message (an array starting with a tag), found a number (42)"),
    ("[]", "empty array; expected a message tag"),
    ("[1]", "at message[0]: expected a message tag string, found a number (1)"),
    (r#"["frob",1]"#, r#"unknown message tag "frob""#),
    // Message arities.
    (r#"["push"]"#, r#""push" takes 1 argument (an expression), found 0"#),
    (r#"["push",1,2]"#, r#""push" takes 1 argument (an expression), found 2"#),
    (r#"["pull"]"#, r#""pull" takes 1 argument (an import id), found 0"#),
    (r#"["pull",1,2]"#, r#""pull" takes 1 argument (an import id), found 2"#),
    (r#"["resolve",1]"#, r#""resolve" takes 2 arguments (an export id and an expression), found 1"#),
    (r#"["reject",1,2,3]"#, r#""reject" takes 2 arguments (an export id and an expression), found 3"#),
    (r#"["release",1]"#, r#""release" takes 2 arguments (an import id and a refcount), found 1"#),
    (r#"["stream"]"#, r#""stream" takes 1 argument (an expression), found 0"#),
    (r#"["pipe",1]"#, r#""pipe" takes no arguments, found 1"#),
    (r#"["abort"]"#, r#""abort" takes 1 argument (an expression), found 0"#),
    // Ids and refcounts.
    (r#"["pull",1.5]"#, "at message[1]: expected an integer id, found 1.5, which is not an integer within ±2^53"),
    (r#"["pull","1"]"#, r#"at message[1]: expected an integer id, found a string ("1")"#),
    (r#"["pull",null]"#, "at message[1]: expected an integer id, found null"),
    (r#"["pull",9007199254740993]"#, "not an integer within ±2^53"),
    (r#"["resolve",-1e300,null]"#, "not an integer within ±2^53"),
    (r#"["release",1,-1]"#, "at message[2]: expected a non-negative refcount, found -1"),
    (r#"["release",1,0.5]"#, "at message[2]: expected a non-negative integer refcount, found 0.5"),
    // Arrays in expression position must be escaped or tagged.
    (r#"["push",[1,2]]"#, "at message[1][0]: expected an expression tag string (a literal array must be escaped as [[…]]), found a number (1)"),
    (r#"["push",[]]"#, "at message[1]: empty array; a literal array must be escaped as [[…]]"),
    (r#"["push",[[1],[2]]]"#, "at message[1][0]: expected an expression tag string (a literal array must be escaped as [[…]]), found an array of 1 element"),
    (r#"["push",[null]]"#, "at message[1][0]: expected an expression tag string"),
    (r#"["push",["foo"]]"#, r#"at message[1]: unknown expression tag "foo""#),
    (r#"["push",["a","b"]]"#, r#"at message[1]: unknown expression tag "a""#),
    (r#"["push",[[[1,2]]]]"#, "at message[1][0][0][0]: expected an expression tag string"),
    (r#"["push",{"a":{"b":["nope"]}}]"#, r#"at message[1].a.b: unknown expression tag "nope""#),
    (r#"["push",{"a b":[["x",["nope"]]]}]"#, r#"at message[1]["a b"][0][1]: unknown expression tag "nope""#),
    // Simple forms.
    (r#"["push",["undefined",1]]"#, r#"at message[1]: "undefined" takes no arguments, found 1"#),
    (r#"["push",["nan",null]]"#, r#""nan" takes no arguments, found 1"#),
    (r#"["push",["bigint"]]"#, r#""bigint" takes 1 argument (a decimal string), found 0"#),
    (r#"["push",["bigint","12a"]]"#, r#"at message[1][1]: expected a decimal integer (an optional '-' and digits), found "12a""#),
    (r#"["push",["bigint",""]]"#, r#"expected a decimal integer (an optional '-' and digits), found """#),
    (r#"["push",["bigint","-"]]"#, "expected a decimal integer"),
    (r#"["push",["bigint","+1"]]"#, "expected a decimal integer"),
    (r#"["push",["bigint",12]]"#, "at message[1][1]: expected a decimal string, found a number (12)"),
    (r#"["push",["date"]]"#, r#""date" takes 1 argument (milliseconds since the epoch, or null), found 0"#),
    (r#"["push",["date","2020-01-01"]]"#, "at message[1][1]: expected a number of milliseconds or null, found a string"),
    (r#"["push",["url"]]"#, r#""url" takes 1 argument (a URL string), found 0"#),
    (r#"["push",["url",1]]"#, "at message[1][1]: expected a URL string, found a number (1)"),
    (r#"["push",["export"]]"#, r#""export" takes 1 argument (an id), found 0"#),
    (r#"["push",["promise",1,2]]"#, r#""promise" takes 1 argument (an id), found 2"#),
    (r#"["push",["writable","x"]]"#, r#"at message[1][1]: expected an integer id, found a string ("x")"#),
    (r#"["push",["blob",1,["readable",1]]]"#, "at message[1][1]: expected a MIME type string, found a number (1)"),
    (r#"["push",["blob","t"]]"#, r#""blob" takes 2 arguments (a MIME type string and a content expression), found 1"#),
    // Bytes.
    (r#"["push",["bytes"]]"#, r#""bytes" takes 1 or 2 arguments (base64 text and an optional kind name), found 0"#),
    (r#"["push",["bytes","AA","Uint8Array",1]]"#, r#""bytes" takes 1 or 2 arguments"#),
    (r#"["push",["bytes","!!!"]]"#, "at message[1][1]: invalid base64"),
    (r#"["push",["bytes","aGVsbG8-"]]"#, "at message[1][1]: invalid base64"),
    (r#"["push",["bytes","A"]]"#, "at message[1][1]: invalid base64"),
    (r#"["push",["bytes",42]]"#, "at message[1][1]: expected a base64 string, found a number (42)"),
    (r#"["push",["bytes","AA","Uint9Array"]]"#, r#"at message[1][2]: unknown bytes kind "Uint9Array""#),
    (r#"["push",["bytes","AA",7]]"#, "at message[1][2]: expected a bytes kind name, found a number (7)"),
    (r#"["push",["bytes","AQID","Uint16Array"]]"#, "at message[1][2]: 3 bytes is not a whole number of Uint16Array elements (2 bytes each)"),
    (r#"["push",["bytes","AQIDBAUG","Float64Array"]]"#, "6 bytes is not a whole number of Float64Array elements (8 bytes each)"),
    // Errors.
    (r#"["push",["error","Error"]]"#, r#""error" takes 2 to 4 arguments (name, message, optional stack, optional props), found 1"#),
    (r#"["push",["error","E","m",null,{},1]]"#, r#""error" takes 2 to 4 arguments"#),
    (r#"["push",["error",1,"m"]]"#, "at message[1][1]: expected an error name string, found a number (1)"),
    (r#"["push",["error","E",null]]"#, "at message[1][2]: expected an error message string, found null"),
    (r#"["push",["error","E","m",5]]"#, "at message[1][3]: expected a stack string or null, found a number (5)"),
    (r#"["push",["error","E","m",null,[]]]"#, "at message[1][4]: expected a props object, found an empty array"),
    (r#"["push",["error","E","m",null,{"x":["bad"]}]]"#, r#"at message[1][4].x: unknown expression tag "bad""#),
    // Headers, request, response.
    (r#"["push",["headers",[["a"]]]]"#, "at message[1][1][0]: expected a [name, value] pair of strings, found an array of 1 element"),
    (r#"["push",["headers",[["a",1]]]]"#, "at message[1][1][0]: expected a [name, value] pair of strings"),
    (r#"["push",["headers",{"a":"b"}]]"#, "at message[1][1]: expected a list of [name, value] pairs, found an object"),
    (r#"["push",["headers",[[["a","b"]]]]]"#, "at message[1][1][0]: expected a [name, value] pair of strings, found an array of 1 element"),
    (r#"["push",["request","u"]]"#, r#""request" takes 2 arguments (a URL string and an init object), found 1"#),
    (r#"["push",["request","u",null]]"#, "at message[1][2]: expected an init object, found null"),
    (r#"["push",["request",1,{}]]"#, "at message[1][1]: expected a URL string, found a number (1)"),
    (r#"["push",["request","u",{"headers":{"a":"b"}}]]"#, "at message[1][2].headers: expected a list of [name, value] pairs, found an object"),
    (r#"["push",["request","u",{"body":[1]}]]"#, "at message[1][2].body[0]: expected an expression tag string"),
    (r#"["push",["response",null]]"#, r#""response" takes 2 arguments (a body expression and an init object), found 1"#),
    (r#"["push",["response",null,[]]]"#, "at message[1][2]: expected an init object, found an empty array"),
    (r#"["push",["response",["x"],{}]]"#, r#"at message[1][1]: unknown expression tag "x""#),
    // Import, pipeline, remap.
    (r#"["push",["import"]]"#, r#""import" takes 1 to 3 arguments (an import id, an optional property path and optional call arguments), found 0"#),
    (r#"["push",["pipeline",0,[],[],1]]"#, r#""pipeline" takes 1 to 3 arguments"#),
    (r#"["push",["import",0.5]]"#, "at message[1][1]: expected an integer id, found 0.5"),
    (r#"["push",["import",0,{}]]"#, "at message[1][2]: expected a property path (a list of strings and non-negative integers), found an object"),
    (r#"["push",["import",0,["a",{}]]]"#, "at message[1][2][1]: expected a property name (a string or number), found an object"),
    (r#"["push",["pipeline",0,["a",-1]]]"#, "at message[1][2][1]: expected a string or a non-negative integer, found a number (-1)"),
    (r#"["push",["pipeline",0,[1.5]]]"#, "at message[1][2][0]: expected a string or a non-negative integer, found a number (1.5)"),
    (r#"["push",["pipeline",0,null,[]]]"#, "at message[1][2]: expected a property path"),
    (r#"["push",["pipeline",0,[],{"a":1}]]"#, "at message[1][3]: expected a list of call arguments, found an object"),
    (r#"["push",["pipeline",0,[],[[1]]]]"#, "at message[1][3][0][0]: expected an expression tag string"),
    (r#"["push",["remap",0,[],[]]]"#, r#""remap" takes 4 arguments (an import id, a property path, captures and instructions), found 3"#),
    (r#"["push",["remap","0",[],[],[]]]"#, "at message[1][1]: expected an integer id"),
    (r#"["push",["remap",0,null,[],[]]]"#, "at message[1][2]: expected a property path"),
    (r#"["push",["remap",0,[],[["imp",1]],[]]]"#, r#"at message[1][3][0][0]: unknown capture tag "imp"; expected "import" or "export""#),
    (r#"["push",["remap",0,[],[["import"]],[]]]"#, r#"at message[1][3][0]: expected a capture (["import", id] or ["export", id]), found an array of 1 element"#),
    (r#"["push",["remap",0,[],[["export","x"]],[]]]"#, "at message[1][3][0][1]: expected an integer id"),
    (r#"["push",["remap",0,[],{},[]]]"#, "at message[1][3]: expected a list of captures, found an object"),
    (r#"["push",["remap",0,[],[],{}]]"#, "at message[1][4]: expected a list of instructions, found an object"),
    (r#"["push",["remap",0,[],[],[["pipeline",0,[{}]]]]]"#, "at message[1][4][0][2][0]: expected a property name"),
    // Positions inside other messages.
    (r#"["resolve",1,["x"]]"#, r#"at message[2]: unknown expression tag "x""#),
    (r#"["abort",[1]]"#, "at message[1][0]: expected an expression tag string"),
];

#[test]
fn malformed_inputs_are_rejected_with_precise_messages() {
    assert!(REJECTS.len() >= 30);
    for (text, fragment) in REJECTS {
        let err = rejected_with(text, &Limits::default());
        assert_eq!(err.kind(), WireErrorKind::Malformed, "{text}: {err}");
        assert!(
            err.message().contains(fragment),
            "{text}\n  error:    {err}\n  expected: …{fragment}…"
        );
    }
}

#[test]
fn malformed_bare_expressions_name_the_expression_root() {
    let err = Expr::parse(r#"{"a":[1]}"#).unwrap_err();
    assert!(
        err.message()
            .starts_with("at expr.a[0]: expected an expression tag string"),
        "{err}"
    );
    let err = Expr::parse("[").unwrap_err();
    assert!(err.message().starts_with("invalid JSON"), "{err}");
}

#[test]
fn untrusted_text_in_errors_is_capped() {
    let tag = "x".repeat(10_000);
    let err = Message::parse(&format!(r#"["{tag}"]"#)).unwrap_err();
    assert!(err.message().len() < 200, "{}", err.message().len());
    let err = Message::parse(&format!(r#"["push",["{tag}"]]"#)).unwrap_err();
    assert!(err.message().len() < 300, "{}", err.message().len());
}

// ---------------------------------------------------------------------------------------------
// Limits

#[track_caller]
fn assert_limit(err: &WireError, fragment: &str) {
    assert_eq!(err.kind(), WireErrorKind::LimitExceeded, "{err}");
    assert!(
        err.message().contains(fragment),
        "{err}\n  expected: …{fragment}…"
    );
}

#[test]
fn bigint_digit_limit_counts_the_sign() {
    let limits = Limits::default().max_bigint_digits(10);
    for ok in ["1234567890", "-123456789"] {
        let text = format!(r#"["push",["bigint","{ok}"]]"#);
        assert_eq!(
            Message::parse_with_limits(&text, &limits),
            Ok(Message::Push(Expr::BigInt(ok.into())))
        );
    }
    for too_long in ["12345678901", "-1234567890"] {
        let text = format!(r#"["push",["bigint","{too_long}"]]"#);
        let err = rejected_with(&text, &limits);
        assert_limit(&err, "is longer than the limit of 10");
        assert!(
            err.message()
                .starts_with("at message[1][1]: a bigint of 11 characters"),
            "{err}"
        );
    }
    // The default is 16384, as in the reference.
    let digits = "9".repeat(16384);
    assert!(Message::parse(&format!(r#"["push",["bigint","{digits}"]]"#)).is_ok());
    let err = Message::parse(&format!(r#"["push",["bigint","{digits}9"]]"#)).unwrap_err();
    assert_limit(&err, "longer than the limit of 16384");
}

/// `k` nested escaped arrays around `0`: the `0` is at value depth `k`.
fn nested_arrays(k: usize) -> String {
    format!(r#"["push",{}0{}]"#, "[[".repeat(k), "]]".repeat(k))
}

/// `k` nested objects around `0`: the `0` is at value depth `k`.
fn nested_objects(k: usize) -> String {
    format!(r#"["push",{}0{}]"#, r#"{"a":"#.repeat(k), "}".repeat(k))
}

#[test]
fn depth_limit_edge() {
    for max in [1usize, 2, 5, 64, 256] {
        let limits = Limits::default().max_depth(max);
        for make in [nested_arrays, nested_objects] {
            let ok = make(max - 1);
            assert!(
                Message::parse_with_limits(&ok, &limits).is_ok(),
                "max {max}: {ok}"
            );
            let err = rejected_with(&make(max), &limits);
            assert_limit(
                &err,
                &format!("the message is nested deeper than the limit of {max} levels"),
            );
        }
    }
    // The top-level expression itself is at depth 0.
    let err = rejected_with(r#"["push",1]"#, &Limits::default().max_depth(0));
    assert_limit(&err, "nested deeper than the limit of 0 levels");
    // Every way of nesting counts: call arguments, error props, request bodies, blob contents.
    let limits = Limits::default().max_depth(2);
    for text in [
        r#"["push",["pipeline",0,[],[[[1]]]]]"#,
        r#"["push",["error","E","m",null,{"a":{"b":1}}]]"#,
        r#"["push",["request","u",{"body":{"a":1}}]]"#,
        r#"["push",["blob","t",{"a":1}]]"#,
        r#"["push",["response",{"a":1},{}]]"#,
        r#"["push",["remap",0,[],[],[{"a":1}]]]"#,
    ] {
        assert_limit(
            &rejected_with(text, &limits),
            "nested deeper than the limit of 2",
        );
    }
    for text in [
        r#"["push",["pipeline",0,[],[[[]]]]]"#,
        r#"["push",["error","E","m",null,{"a":1}]]"#,
        r#"["push",["request","u",{"body":1,"headers":[["a","b"]]}]]"#,
        r#"["push",["remap",0,[],[],[["pipeline",0,["a"]]]]]"#,
    ] {
        assert!(Message::parse_with_limits(text, &limits).is_ok(), "{text}");
    }
}

#[test]
fn deep_bracket_nesting_is_refused_without_overflowing_the_stack() {
    for text in [
        "[".repeat(100_000),
        "{\"a\":".repeat(100_000),
        format!("[\"push\",{}", "[[".repeat(100_000)),
    ] {
        assert_limit(
            &rejected_with(&text, &Limits::default()),
            "nested deeper than the limit of 256 levels",
        );
    }
    // Even with an absurd configured limit, the hard nesting cap keeps the stack safe.
    let limits = Limits::default().max_depth(usize::MAX);
    let err = rejected_with(&"[".repeat(100_000), &limits);
    assert_limit(
        &err,
        "the most this implementation reads whatever its limits",
    );
    // Brackets inside strings are text, not nesting.
    let text = format!(r#"["push","{}"]"#, "[{".repeat(50_000));
    assert!(Message::parse(&text).is_ok());
    let text = format!(r#"["push","\"{}"]"#, "[".repeat(50_000));
    assert!(Message::parse(&text).is_ok());
}

#[test]
fn three_hundred_nested_arrays_need_a_raised_depth_limit() {
    let text = nested_arrays(300);
    assert_limit(
        &rejected_with(&text, &Limits::default()),
        "nested deeper than the limit of 256 levels",
    );
    let limits = Limits::default().max_depth(1000);
    let msg = Message::parse_with_limits(&text, &limits).unwrap();
    assert_eq!(msg.to_text(), text);
}

#[test]
fn message_size_is_checked_before_parsing() {
    let limits = Limits::default().max_message_size(16);
    // Exactly at the limit is fine; one more code unit is not.
    assert!(Message::parse_with_limits(r#"["push","abcde"]"#, &limits).is_ok());
    let err = rejected_with(r#"["push","abcdef"]"#, &limits);
    assert_limit(
        &err,
        "the message is 17 UTF-16 code units long, more than the limit of 16",
    );
    // Invalid JSON that is too long reports the size, not a syntax error.
    let err = rejected_with("this is not JSON at all", &limits);
    assert_limit(&err, "the message is 23 UTF-16 code units long");
    // Sizes are UTF-16 code units: é is 1 unit (2 bytes), 😀 is 2 units (4 bytes).
    assert!(Message::parse_with_limits(r#"["push","ééééé"]"#, &limits).is_ok());
    assert!(Message::parse_with_limits(r#"["push","😀😀a"]"#, &limits).is_ok());
    let err = rejected_with(r#"["push","😀😀😀"]"#, &limits);
    assert_limit(&err, "the message is 17 UTF-16 code units long");
}

// ---------------------------------------------------------------------------------------------
// Robustness: pseudo-random mutations never panic, and whatever parses is stable.

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

const SEEDS: &[&str] = &[
    r#"["push",["pipeline",0,["add"],[1,2]]]"#,
    r#"["resolve",-1,{"a":[["x",["date",5],["bigint","-12"],["bytes","AQIDBA","Int32Array"]]]}]"#,
    r#"["reject",2,["error","Error","m",null,{"cause":["error","TypeError","x","stk"]}]]"#,
    r#"["push",["request","https://e.com/",{"method":"POST","headers":[["a","b"]],"body":["readable",2]}]]"#,
    r#"["resolve",3,["response",null,{"status":404,"headers":[]}]]"#,
    r#"["push",["remap",1,["items"],[["import",0],["export",-2]],[["pipeline",0,["n"]],["remap",0,[],[],[["pipeline",-1]]]]]]"#,
    r#"["release",3,2]"#,
    r#"["stream",["pipeline",1,["write"],[["blob","t",["readable",4]]]]]"#,
    r#"["abort",["undefined"]]"#,
    r#"["push",[[["inf"],["-inf"],["nan"],["url","u"],["headers",[["k","v"]]],["export",-1],["promise",-2],["writable",-3]]]]"#,
];

const ALPHABET: &[u8] = b"[]{}\",:0123456789-.eE\\ abnulltruefalse";

/// Whole tokens, so that some mutations stay valid JSON and exercise the protocol checks.
const TOKENS: &[&str] = &[
    r#"["undefined"]"#,
    "[[",
    "]]",
    r#""bigint""#,
    r#""-12""#,
    "1.5",
    "null",
    r#"{"a":"#,
    "}",
    ",0",
    r#""AQ""#,
    r#""Uint16Array""#,
    r#"["pipeline",0]"#,
    r#"["export",-1]"#,
    "[[1]]",
    r#""error""#,
    r#""import""#,
    ",[]",
    r#",{"x":1}"#,
    "9007199254740993",
    "-1",
];

fn mutate(rng: &mut Lcg, seed: &str) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    let count = if rng.below(4) == 0 {
        2 + rng.below(3)
    } else {
        1
    };
    for _ in 0..count {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 if at < bytes.len() => {
                bytes.remove(at);
            }
            1 => bytes.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
            2 if at < bytes.len() => bytes[at] = ALPHABET[rng.below(ALPHABET.len())],
            3 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            _ => {
                // Duplicate a slice: creates nesting and repeated elements.
                let end = (at + rng.below(12)).min(bytes.len());
                let piece = bytes[at..end].to_vec();
                let to = rng.below(bytes.len() + 1);
                bytes.splice(to..to, piece);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn mutations_never_panic_and_round_trip_when_accepted() {
    let mut rng = Lcg(0x5eed);
    let limits = Limits::default().max_depth(16).max_bigint_digits(40);
    let (mut accepted, mut rejected) = (0, 0);
    for round in 0..20_000 {
        let seed = SEEDS[round % SEEDS.len()];
        let text = mutate(&mut rng, seed);
        match Message::parse_with_limits(&text, &limits) {
            Ok(msg) => {
                accepted += 1;
                let again = msg.to_text();
                let reparsed = Message::parse_with_limits(&again, &limits)
                    .unwrap_or_else(|e| panic!("{text}\n  → {again}\n  fails: {e}"));
                assert_eq!(reparsed, msg, "{text}\n  → {again}");
                assert_eq!(reparsed.to_text(), again, "{text}");
            }
            Err(err) => {
                rejected += 1;
                assert!(!err.message().is_empty());
            }
        }
    }
    // Both outcomes must be well represented for the sweep to mean anything.
    assert!(
        accepted > 1000 && rejected > 10_000,
        "accepted {accepted}, rejected {rejected}"
    );
}

#[test]
fn every_golden_seed_round_trips() {
    for seed in SEEDS {
        let msg = Message::parse(seed).unwrap_or_else(|e| panic!("{seed}: {e}"));
        assert_eq!(msg.to_text(), *seed);
    }
}

#[test]
fn nesting_at_the_hard_cap_fits_a_small_stack() {
    // The stack budget the cap is sized for: a 2 MiB thread (tokio's default) in release builds;
    // unoptimized builds use about 2.7 times as much per level.
    let stack = if cfg!(debug_assertions) {
        4 << 20
    } else {
        2 << 20
    };
    let limits = Limits::default().max_depth(usize::MAX);
    let texts = [
        nested_objects(1023),
        nested_arrays(511),
        format!(
            r#"["push",{}["pipeline",0,[],[0]]{}]"#,
            r#"["pipeline",0,[],["#.repeat(510),
            "]]".repeat(510)
        ),
        format!(
            r#"["push",{}0{}]"#,
            r#"["error","E","m",null,{"a":"#.repeat(510),
            "}]".repeat(510)
        ),
    ];
    for text in texts {
        let worker = std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || {
                let msg = Message::parse_with_limits(&text, &limits).map_err(|e| e.to_string())?;
                let again = msg.to_text();
                drop(msg);
                if again == text {
                    Ok(())
                } else {
                    Err(format!("changed: {again}"))
                }
            });
        assert_eq!(worker.unwrap().join().unwrap(), Ok(()));
    }
}

// ---------------------------------------------------------------------------------------------
// Bytes input, and cases where the order of the checks shows.

#[test]
fn parse_bytes_agrees_with_parse_and_refuses_invalid_utf8() {
    let limits = Limits::default();
    for seed in SEEDS {
        assert_eq!(
            Message::parse_bytes(seed.as_bytes(), &limits),
            Message::parse(seed)
        );
    }
    for text in ["[\"push\",[1]]", "not json", "[\"push\",\"é😀\"]"] {
        assert_eq!(
            Message::parse_bytes(text.as_bytes(), &limits),
            Message::parse(text)
        );
    }
    let err = Message::parse_bytes(b"[\"push\",\"\xff\"]", &limits).unwrap_err();
    assert_eq!(err.kind(), WireErrorKind::Malformed);
    assert_eq!(
        err.message(),
        "message is not valid UTF-8: invalid utf-8 sequence of 1 bytes from index 9"
    );
    // The size is checked first, in UTF-16 code units counted on the bytes.
    let limits = Limits::default().max_message_size(16);
    assert!(Message::parse_bytes(r#"["push","😀😀a"]"#.as_bytes(), &limits).is_ok());
    let err = Message::parse_bytes(r#"["push","😀😀😀"]"#.as_bytes(), &limits).unwrap_err();
    assert_limit(&err, "the message is 17 UTF-16 code units long");
    let err = Message::parse_bytes(b"[\"push\",\"\xff\xff\xff\xff\xff\xff\xff\xff\"]", &limits)
        .unwrap_err();
    assert_limit(&err, "more than the limit of 16");
}

#[test]
fn syntax_errors_carry_serde_json_positions() {
    for (text, message) in [
        (r#"["pull",1] x"#, "invalid JSON: trailing characters at line 1 column 12"),
        ("", "invalid JSON: EOF while parsing a value at line 1 column 0"),
        (r#"["push",01]"#, "invalid JSON: invalid number at line 1 column 10"),
        (r#"["push",1e400]"#, "invalid JSON: number out of range at line 1 column 13"),
        (r#"["push","\ud800"]"#, "invalid JSON: unexpected end of hex escape at line 1 column 16"),
        ("[\"push\",\"a\nb\"]", "invalid JSON: control character (\\u0000-\\u001F) found while parsing a string at line 2 column 0"),
    ] {
        let err = rejected_with(text, &Limits::default());
        assert_eq!(err.kind(), WireErrorKind::Malformed);
        assert_eq!(err.message(), message, "{text:?}");
    }
    // A syntax error anywhere wins over a protocol error before it.
    let err = rejected_with(r#"["push",["nope"],"#, &Limits::default());
    assert!(err.message().starts_with("invalid JSON: EOF"), "{err}");
}

#[test]
fn checks_run_in_the_order_of_the_protocol_not_of_the_text() {
    // The arity is checked before the elements.
    let err = rejected_with(r#"["push",["nope"],1]"#, &Limits::default());
    assert_eq!(
        err.message(),
        r#"at message: "push" takes 1 argument (an expression), found 2"#
    );
    let err = rejected_with(r#"["push",["bigint",[1],2]]"#, &Limits::default());
    assert_eq!(
        err.message(),
        r#"at message[1]: "bigint" takes 1 argument (a decimal string), found 2"#
    );
    // A repeated key's earlier value is never looked at: the last one wins.
    accepted_message(
        r#"["push",{"a":["nope"],"b":2,"a":1}]"#,
        Message::Push(obj(&[("a", n(1.0)), ("b", n(2.0))])),
        r#"["push",{"a":1,"b":2}]"#,
    );
    // The same in an object too large to compare its keys pairwise, the repeat escaped.
    let keys: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let text = format!(
        r#"["push",{{"k3":["nope"],{},"\u006b3":true}}]"#,
        keys.iter()
            .map(|k| format!(r#""{k}":0"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut fields = vec![("k3".to_owned(), Expr::Bool(true))];
    fields.extend(
        keys.iter()
            .filter(|k| *k != "k3")
            .map(|k| (k.clone(), n(0.0))),
    );
    let msg = Message::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(msg, Message::Push(Expr::Object(fields)));
    // Ids are exact: 2^53 + 1 reads as the double 2^53 but is not an id within ±2^53.
    let err = rejected_with(r#"["pull",9007199254740993]"#, &Limits::default());
    assert_eq!(
        err.message(),
        "at message[1]: expected an integer id, found 9007199254740993, which is not an integer within ±2^53"
    );
    assert_eq!(
        Message::parse(r#"["pull",9007199254740993.0]"#),
        Ok(Message::Pull(9_007_199_254_740_992))
    );
}
