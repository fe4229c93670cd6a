//! Seed corpora, made from the golden vectors (`shared/conformance/golden_wire.json`, texts
//! of the reference's standalone `serialize()`) and the reference transcripts
//! (`capnweb/tests/golden/transcripts.json`, messages recorded between two reference
//! sessions).

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

/// The repository's root (this crate's parent folder).
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the fuzz crate sits in the repository")
        .to_owned()
}

/// `shared/` beside the repository, as the conformance tests find it.
fn golden_vectors_path() -> PathBuf {
    repository().join("../shared/conformance/golden_wire.json")
}

fn transcripts_path() -> PathBuf {
    repository().join("capnweb/tests/golden/transcripts.json")
}

fn read_json(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A golden vector: its name, wire text, and what is expected of it.
pub struct Vector {
    pub name: String,
    pub wire: String,
    pub expect: String,
}

/// Every golden vector that has a wire text.
pub fn golden_vectors() -> Vec<Vector> {
    let file = read_json(&golden_vectors_path());
    let entries = file["entries"].as_array().cloned().unwrap_or_default();
    entries
        .iter()
        .filter_map(|entry| {
            Some(Vector {
                name: entry["name"].as_str()?.to_owned(),
                wire: entry["wire"].as_str()?.to_owned(),
                expect: entry["expect"].as_str().unwrap_or("").to_owned(),
            })
        })
        .collect()
}

/// Each recorded scenario: its name, and its messages as (direction, text).
pub fn transcripts() -> Vec<(String, Vec<(String, String)>)> {
    let file = read_json(&transcripts_path());
    let Some(scenarios) = file.as_object() else {
        return Vec::new();
    };
    scenarios
        .iter()
        .map(|(name, scenario)| {
            let messages = scenario["messages"]
                .as_array()
                .map(|messages| {
                    messages
                        .iter()
                        .filter_map(|m| {
                            Some((m[0].as_str()?.to_owned(), m[1].as_str()?.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default();
            (name.clone(), messages)
        })
        .collect()
}

fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The seeds of one target, as (file name, content).
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut add = |name: String, content: String| seeds.push((name, content.into_bytes()));
    match target {
        "roundtrip" => {
            for vector in golden_vectors() {
                let name = safe_name(&vector.name);
                add(format!("golden-{name}"), vector.wire.clone());
                add(
                    format!("golden-{name}-push"),
                    format!("[\"push\",{}]", vector.wire),
                );
                add(
                    format!("golden-{name}-resolve"),
                    format!("[\"resolve\",-1,{}]", vector.wire),
                );
            }
            for (scenario, messages) in transcripts() {
                for (index, (dir, text)) in messages.into_iter().enumerate() {
                    add(
                        format!("transcript-{}-{index}-{dir}", safe_name(&scenario)),
                        text,
                    );
                }
            }
        }
        "session" => {
            for (scenario, messages) in transcripts() {
                let name = safe_name(&scenario);
                let client: Vec<String> = messages
                    .iter()
                    .filter(|(dir, _)| dir == "c2s")
                    .map(|(_, text)| text.clone())
                    .collect();
                add(format!("transcript-{name}"), client.join("\n"));
                add(format!("transcript-{name}-calls-close"), {
                    let mut lines = vec!["#calls".to_owned()];
                    lines.extend(client.iter().cloned());
                    lines.push("#close".to_owned());
                    lines.join("\n")
                });
            }
            for vector in golden_vectors() {
                let name = safe_name(&vector.name);
                add(
                    format!("echo-{name}"),
                    format!(
                        "[\"push\",[\"pipeline\",0,[\"echo\"],[{}]]]\n[\"pull\",1]\n[\"release\",1,1]",
                        vector.wire
                    ),
                );
            }
            let extra: &[(&str, &str)] = &[
                (
                    "callback",
                    "[\"push\",[\"pipeline\",0,[\"callFunction\"],[[\"export\",-1],3]]]\n[\"pull\",1]\n[\"resolve\",1,30]\n[\"release\",-1,1]\n[\"release\",1,1]",
                ),
                (
                    "keep-and-call",
                    "[\"push\",[\"pipeline\",0,[\"keep\"],[[\"export\",-1],[\"promise\",-2]]]]\n[\"push\",[\"pipeline\",0,[\"callKept\"],[\"ping\"]]]\n[\"pull\",2]\n[\"resolve\",-2,1]\n#abort",
                ),
                (
                    "shared-counter",
                    "[\"push\",[\"pipeline\",0,[\"sharedCounter\"],[]]]\n[\"push\",[\"pipeline\",0,[\"sharedCounter\"],[]]]\n[\"pull\",1]\n[\"pull\",2]\n[\"push\",[\"pipeline\",1,[\"increment\"],[5]]]\n[\"pull\",3]\n[\"release\",1,1]\n[\"release\",2,1]\n#close",
                ),
                (
                    "slow-and-sleep",
                    "[\"push\",[\"pipeline\",0,[\"slow\"],[7]]]\n[\"push\",[\"pipeline\",0,[\"sleep\"],[5000]]]\n[\"pull\",1]\n[\"pull\",2]\n#close",
                ),
                (
                    "stream",
                    "[\"stream\",[\"pipeline\",0,[\"square\"],[4]]]\n[\"push\",[\"remap\",0,[\"counter\"],[[\"import\",0]],[[\"pipeline\",0,[\"value\"]]]]]\n[\"pull\",2]",
                ),
                (
                    "calls-answered",
                    "#calls\n[\"resolve\",1,[\"export\",-1]]\n[\"reject\",2,[\"error\",\"Error\",\"no\"]]\n[\"push\",[\"pipeline\",0,[\"callSquare\"],[[\"export\",-1],3]]]\n[\"pull\",1]",
                ),
            ];
            for (name, text) in extra {
                add(format!("hand-{name}"), (*text).to_owned());
            }
        }
        "serde_bridge" => {
            for vector in golden_vectors() {
                add(
                    format!("golden-{}", safe_name(&vector.name)),
                    vector.wire.clone(),
                );
            }
            // Byte strings for `arbitrary` to build values from (deterministic).
            let mut state = 0x9e37_79b9_7f4a_7c15_u64;
            for (index, len) in [8usize, 16, 32, 64, 128, 256, 512, 1024]
                .into_iter()
                .enumerate()
            {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        (state >> 24) as u8
                    })
                    .collect();
                seeds.push((format!("random-{index}-{len}"), bytes));
            }
        }
        _ => panic!("no target {target}"),
    }
    seeds
}
