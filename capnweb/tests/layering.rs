//! The crate's modules depend on each other one way, from the wire up, as the crate docs say.
//!
//! Reads the sources: every `crate::…` a module names (directly, or through a re-export at the
//! crate root) must be in its own layer or a lower one. The object model (values, errors,
//! stubs, hooks, targets, streams and the code that writes, evaluates and records them) is one
//! layer: a value can hold a stub, a stub is a hook, and a hook can be a resolved value, so
//! those modules name each other by nature. Above it, nothing refers down-to-up.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// The layers, lowest first.
const LAYERS: &[&[&str]] = &[
    &["stack"],
    &["wire"],
    &[
        "bigint",
        "context",
        "encode",
        "error",
        "evaluate",
        "hook",
        "intercept",
        "record",
        "stream",
        "stub",
        "target",
        "value",
    ],
    &["standalone", "tls", "typed", "describe", "typescript"],
    &["session"],
    &["transport"],
    &["reconnect", "server"],
    &["__private"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The source without comments and without what only tests compile: each `#[cfg(test)]`
/// item (a `mod tests { … }`, a function, a `use`) is cut to its end, and the code after it
/// is read as any other.
fn code(text: &str) -> String {
    let text: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        rest = &rest[at + "#[cfg(test)]".len()..];
        rest = &rest[item_end(rest)..];
    }
    out.push_str(rest);
    out
}

/// Where the item at the start of `text` ends: after its `;`, or after the `}` that closes
/// its first `{`, whichever comes first.
fn item_end(text: &str) -> usize {
    let mut depth = 0usize;
    for (at, c) in text.char_indices() {
        match c {
            ';' if depth == 0 => return at + 1,
            '{' => depth += 1,
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return at + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// The names `crate::` is followed by, in `use crate::{a, b::{c, d}}` and `crate::a::…`
/// alike: the first name of each path in a group, however deep the group nests.
fn named(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                for item in top_level_items(group) {
                    insert_first_name(item, &mut names);
                }
            }
            None => insert_first_name(rest, &mut names),
        }
    }
    names
}

/// The comma-separated items of a group whose `{` was just passed, up to its own `}`; an
/// item's nested group (`b::{c, d}`) stays inside it.
fn top_level_items(group: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (at, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&group[start..at]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&group[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    items.push(&group[start..]);
    items
}

fn insert_first_name(path: &str, names: &mut BTreeSet<String>) {
    let name: String = path
        .trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if !name.is_empty() {
        names.insert(name);
    }
}

/// Root re-exports: `pub use module::{A, B}` makes `crate::A` a name of `module`.
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let mut exports = BTreeMap::new();
    for line in lib.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        let items = items
            .trim_end_matches(';')
            .trim_matches(|c| c == '{' || c == '}');
        for item in items.split(',') {
            let item = item.trim();
            if !item.is_empty() {
                exports.insert(item.to_owned(), module.to_owned());
            }
        }
    }
    exports
}

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).unwrap_or_default();
            out.push((path.display().to_string(), text));
        }
    }
}

#[test]
fn modules_depend_only_on_their_own_layer_and_the_ones_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = fs::read_to_string(src.join("lib.rs")).unwrap();
    let exports = root_exports(&lib);
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(
        files.len() > 50,
        "the sources were not found under {}",
        src.display()
    );

    let mut wrong = Vec::new();
    for (path, text) in &files {
        let relative = path
            .strip_prefix(&format!("{}/", src.display()))
            .unwrap_or(path);
        let module = relative
            .split('/')
            .next()
            .unwrap_or_default()
            .trim_end_matches(".rs");
        if module == "lib" {
            continue;
        }
        let own = layer_of(module)
            .unwrap_or_else(|| panic!("{relative}: module `{module}` is in no layer; add it"));
        for name in named(&code(text)) {
            let target = exports.get(&name).map(String::as_str).unwrap_or(&name);
            // Types named at the root of another crate (`http`, `hyper`) are not modules here.
            let Some(layer) = layer_of(target) else {
                continue;
            };
            if layer > own {
                wrong.push(format!(
                    "{relative} names crate::{name} (module `{target}`)"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "modules that refer to a higher layer:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_checker_sees_names_in_groups_paths_and_reexports() {
    let code = code(
        "use crate::{hook::{Hook, scope::Served}, Error};\nlet x = crate::session::Session::new(a, b); // crate::server\n",
    );
    assert_eq!(
        named(&code).into_iter().collect::<Vec<_>>(),
        ["Error", "hook", "session"]
    );
    let exports = root_exports("pub use stub::{FromStub, Stub};\npub use wire::Limits;\n");
    assert_eq!(exports.get("Stub").map(String::as_str), Some("stub"));
    assert_eq!(exports.get("Limits").map(String::as_str), Some("wire"));
}

#[test]
fn the_checker_skips_only_what_tests_compile() {
    let code = code(
        "use crate::a;\n#[cfg(test)]\nuse crate::b;\n#[cfg(test)]\nmod tests { use crate::c; fn f() { crate::d::x(); } }\nuse crate::e;\n#[cfg(test)]\nfn g() {}\nfn h() { crate::f::y(); }\n",
    );
    assert_eq!(
        named(&code).into_iter().collect::<Vec<_>>(),
        ["a", "e", "f"]
    );
}
