//! Tab completion in the REPL: commands, bound names, and the members the server's
//! description names (the main object's at the start of a chain, any target's after a `.`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use capnweb::describe::ApiDescription;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::Context;

const COMMANDS: [&str; 6] = [".exit", ".help", ".quit", ".raw", ".release", ".stats"];

/// A member name and the signature shown beside it in the candidate list.
type Members = BTreeMap<String, String>;

#[derive(Debug)]
pub struct Helper {
    /// The main object's members.
    main: Members,
    /// Every described target's members (what may follow a `.`).
    all: Members,
    names: Arc<Mutex<Vec<String>>>,
}

impl Helper {
    pub fn new(api: Option<&ApiDescription>, names: Arc<Mutex<Vec<String>>>) -> Helper {
        let members = |targets: &[capnweb::describe::TargetDescriptor]| {
            targets
                .iter()
                .flat_map(|t| &t.members)
                .map(|m| (m.name.clone(), crate::describe::signature(m)))
                .collect::<Members>()
        };
        let (main, all) = match api {
            Some(api) => (
                members(api.targets.get(..1).unwrap_or_default()),
                members(&api.targets),
            ),
            None => Default::default(),
        };
        Helper { main, all, names }
    }

    /// The candidates for the word `word`, after `before` (the line up to the word).
    fn candidates(&self, before: &str, word: &str) -> Vec<Pair> {
        let plain = |name: &str| Pair {
            display: name.to_owned(),
            replacement: name.to_owned(),
        };
        let bound = || self.names.lock().map(|n| n.clone()).unwrap_or_default();
        let from_members = |members: &Members| -> Vec<Pair> {
            members
                .iter()
                .filter(|(name, _)| name.starts_with(word))
                .map(|(name, signature)| Pair {
                    display: signature.clone(),
                    replacement: name.clone(),
                })
                .collect()
        };
        let trimmed = before.trim_start();
        if trimmed.starts_with(".release ") {
            return bound()
                .iter()
                .filter(|n| n.starts_with(word))
                .map(|n| plain(n))
                .collect();
        }
        if trimmed.starts_with(".raw ") {
            return ["on", "off"]
                .iter()
                .filter(|s| s.starts_with(word))
                .map(|s| plain(s))
                .collect();
        }
        if before.ends_with('.') {
            if trimmed == "." {
                return COMMANDS
                    .iter()
                    .filter(|c| c[1..].starts_with(word))
                    .map(|c| plain(&c[1..]))
                    .collect();
            }
            let mut out = from_members(&self.all);
            if "map".starts_with(word) && !self.all.contains_key("map") {
                out.push(plain("map"));
            }
            return out;
        }
        let mut out: Vec<Pair> = bound()
            .iter()
            .filter(|n| n.starts_with(word))
            .map(|n| plain(n))
            .collect();
        let members: Vec<Pair> = from_members(&self.main)
            .into_iter()
            .filter(|p| !out.iter().any(|o| o.replacement == p.replacement))
            .collect();
        out.extend(members);
        if "let".starts_with(word) && trimmed.is_empty() {
            out.push(plain("let"));
        }
        out
    }
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

impl Completer for Helper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| ident_char(*c))
            .last()
            .map_or(before.len(), |(i, _)| i);
        let word = &before[start..];
        if word.starts_with(|c: char| c.is_ascii_digit()) {
            return Ok((pos, Vec::new()));
        }
        Ok((start, self.candidates(&before[..start], word)))
    }
}

impl Hinter for Helper {
    type Hint = String;
}

impl Highlighter for Helper {}

impl Validator for Helper {}

impl rustyline::Helper for Helper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn replacements(helper: &Helper, line: &str) -> Vec<String> {
        let before = line;
        let start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| ident_char(*c))
            .last()
            .map_or(before.len(), |(i, _)| i);
        helper
            .candidates(&before[..start], &before[start..])
            .into_iter()
            .map(|p| p.replacement)
            .collect()
    }

    #[test]
    fn names_commands_and_no_members_untyped() {
        let names = Arc::new(Mutex::new(vec!["counter".to_owned()]));
        let helper = Helper::new(None, names);
        assert_eq!(replacements(&helper, "co"), ["counter"]);
        assert_eq!(replacements(&helper, ".st"), ["stats"]);
        assert_eq!(replacements(&helper, ".release c"), ["counter"]);
        assert_eq!(replacements(&helper, "counter.ma"), ["map"]);
        assert_eq!(replacements(&helper, "square(co"), ["counter"]);
    }
}
