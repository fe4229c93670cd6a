//! The TypeScript declarations generated from a Rust API (`capnweb::typescript`), checked by
//! the TypeScript compiler (`tsc --strict`, pinned in `interop/package-lock.json`):
//!
//! - `typescript/api.ts`, the committed declarations of the API in `typescript/api.rs`, are
//!   what `declarations::<ApiStub>()` generates now (`CAPNWEB_BLESS=1` rewrites them);
//! - `typescript/client.ts`, a client of the reference implementation (npm `capnweb`) over
//!   both transports, compiles against them;
//! - each file in `typescript/misuse/` fails to compile, with the error its first line names
//!   (`// expect: TS2345`): the declarations catch the mistake.
//!
//! The compiler comes from `interop/setup.sh` (npm ci), so this test needs Node.

#[path = "typescript/api.rs"]
mod api;
#[path = "origin/setup.rs"]
mod setup;

use std::path::{Path, PathBuf};
use std::process::Command;

use api::ApiStub;

/// The command that rewrites the committed declarations.
const BLESS: &str = "CAPNWEB_BLESS=1 cargo test -p capnweb-tests --test typescript";

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/typescript")
}

#[test]
fn committed_declarations_are_current() {
    let path = here().join("api.ts");
    let fresh = capnweb::typescript::declarations::<ApiStub>();
    if std::env::var_os("CAPNWEB_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        panic!(
            "{} is stale: the Rust API changed. Regenerate it with\n\n    {BLESS}\n\n\
             --- generated now ---\n{fresh}",
            path.display()
        );
    }
}

#[test]
fn a_client_of_the_reference_compiles() {
    let dir = project("client", &["client.ts"]);
    let (ok, output) = tsc(&dir);
    assert!(ok, "tsc --strict rejected client.ts:\n{output}");
}

#[test]
fn each_misuse_fails_to_compile() {
    let misuse_dir = here().join("misuse");
    let mut files: Vec<String> = std::fs::read_dir(&misuse_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".ts"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "misuse cases: {files:?}");

    let names: Vec<String> = files.iter().map(|f| format!("misuse/{f}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let dir = project("misuse", &names);
    let (ok, output) = tsc(&dir);
    assert!(!ok, "tsc accepted every misuse:\n{output}");
    // The declarations themselves must be clean: only the misuses may fail.
    assert!(!output.contains("api.ts("), "errors in api.ts:\n{output}");

    for file in &files {
        let source = std::fs::read_to_string(misuse_dir.join(file)).unwrap();
        let expected = source
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("// expect: "))
            .unwrap_or_else(|| panic!("{file} starts with `// expect: TSnnnn`"))
            .trim();
        let errors: Vec<&str> = output
            .lines()
            .filter(|line| line.starts_with(&format!("misuse/{file}(")))
            .collect();
        assert!(
            errors.iter().any(|line| line.contains(expected)),
            "misuse/{file} should fail with {expected}; tsc said:\n{}",
            if errors.is_empty() {
                "(nothing for this file)".to_owned()
            } else {
                errors.join("\n")
            }
        );
        assert_eq!(
            errors.len(),
            1,
            "misuse/{file} should fail once, for its one mistake:\n{}",
            errors.join("\n")
        );
    }
}

#[test]
fn the_descriptor_is_plain_serializable_data() {
    use capnweb::describe::{Describe, MemberKind, TargetDescriptor};

    let api = ApiStub::descriptor();
    assert_eq!(api.name, "Api");
    let wire_names: Vec<&str> = api.members.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(&wire_names[..4], ["add", "find", "list", "page"]);
    let add = &api.members[0];
    assert_eq!(
        add.docs.as_deref(),
        Some("Adds an item and returns it, with its id.")
    );
    assert_eq!(add.params[1].name, "priority");
    assert!(add.params[1].ty.nullable);
    assert_eq!(add.result.typescript, "Todo");
    let version = api.members.last().unwrap();
    assert_eq!(
        (version.kind, version.name.as_str()),
        (MemberKind::Property, "version")
    );

    // As JSON, for a descriptor endpoint or a command-line client.
    let json = serde_json::to_value(&api).unwrap();
    assert_eq!(
        json["members"][0]["params"][0]["ty"]["typescript"],
        "string"
    );
    assert_eq!(
        json["members"].as_array().unwrap().last().unwrap()["kind"],
        "property"
    );
    let back: TargetDescriptor = serde_json::from_value(json).unwrap();
    assert_eq!(back, api);
}

/// A target reached through another's signatures under a stub name the compiler cannot
/// follow (`stub = "…"`; a `…Stub` name is followed, and a type without a TypeScript form
/// there is a compile error: ui-tests), with a type that has no TypeScript form: the first
/// target's declarations compile, and say which target to look at when they run.
mod unreachable_form {
    use capnweb::rpc_target;

    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Opaque;

    pub struct Outer;

    #[rpc_target]
    impl Outer {
        pub fn inner(&self) -> InnerClient {
            InnerClient::new(Inner)
        }
    }

    pub struct Inner;

    #[rpc_target(stub = "InnerClient")]
    impl Inner {
        pub fn opaque(&self) -> Opaque {
            Opaque
        }
    }
}

#[test]
#[should_panic(
    expected = "`Opaque` in the signatures of `InnerClient` has no TypeScript form: derive \
                `ts_rs::TS` for it (`capnweb::typescript::declarations::<InnerClient>()` gives \
                the compile error)"
)]
fn a_reached_target_without_a_typescript_form_is_named() {
    capnweb::typescript::declarations::<unreachable_form::OuterStub>();
}

/// A target and a type of one name: TypeScript would see one name declared twice.
mod one_name_twice {
    pub mod data {
        #[derive(serde::Serialize, serde::Deserialize, ts_rs::TS)]
        pub struct User {
            pub name: String,
        }
    }

    pub struct User;

    #[capnweb::rpc_target]
    impl User {
        pub fn data(&self) -> data::User {
            data::User { name: "a".into() }
        }
    }
}

#[test]
#[should_panic(expected = "are both declared as `User`; rename one")]
fn two_declarations_of_one_name_are_refused() {
    capnweb::typescript::declarations::<one_name_twice::UserStub>();
}

/// A directory under the test target dir with the declarations generated now, `files` from
/// `typescript/`, the interop `node_modules` (linked) and a strict `tsconfig.json`.
fn project(name: &str, files: &[&str]) -> PathBuf {
    setup::install_node_modules();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("typescript-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("misuse")).unwrap();
    std::fs::write(
        dir.join("api.ts"),
        capnweb::typescript::declarations::<ApiStub>(),
    )
    .unwrap();
    for file in files {
        std::fs::copy(here().join(file), dir.join(file)).unwrap();
    }
    std::os::unix::fs::symlink(
        setup::repo().join("interop/node_modules"),
        dir.join("node_modules"),
    )
    .unwrap();
    std::fs::write(dir.join("package.json"), r#"{ "type": "module" }"#).unwrap();
    let list: Vec<String> = std::iter::once("api.ts")
        .chain(files.iter().copied())
        .map(|f| format!("{f:?}"))
        .collect();
    let tsconfig = format!(
        r#"{{
  "compilerOptions": {{
    "strict": true,
    "noEmit": true,
    "target": "es2022",
    "module": "nodenext",
    "moduleResolution": "nodenext",
    "lib": ["es2022", "dom"],
    "types": [],
    "skipLibCheck": true
  }},
  "files": [{}]
}}
"#,
        list.join(", ")
    );
    std::fs::write(dir.join("tsconfig.json"), tsconfig).unwrap();
    dir
}

/// Runs the pinned `tsc` on the project in `dir`: whether it passed, and what it said.
fn tsc(dir: &Path) -> (bool, String) {
    let tsc = setup::repo().join("interop/node_modules/typescript/bin/tsc");
    let out = Command::new("node")
        .arg(&tsc)
        .args(["-p", ".", "--pretty", "false"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node {}: {e}", tsc.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
