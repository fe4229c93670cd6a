//! `--callback NAME`: a local function the server can call back, which prints its arguments.

use std::sync::Arc;

use capnweb::{Stub, Value};

/// Where a callback's line goes (stdout, or the REPL's printer that keeps the prompt intact).
pub type Sink = Arc<dyn Fn(String) + Send + Sync>;

/// A function stub that prints `callback NAME(arg, …)`, each argument in the printed JSON
/// form, and returns `undefined`.
pub fn stub(name: &str, sink: Sink) -> Stub {
    let name = name.to_owned();
    Stub::from_fn(move |args: Vec<Value>| {
        let printed: Vec<String> = args
            .iter()
            .enumerate()
            .map(|(i, arg)| {
                crate::output::to_json(arg, &format!("{name} argument {i}")).to_string()
            })
            .collect();
        sink(format!("callback {name}({})", printed.join(", ")));
        async { Ok(Value::Undefined) }
    })
}

/// Whether `name` can be bound: an identifier of the script language that is not a keyword.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    let starts = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$');
    starts
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !matches!(name, "let" | "true" | "false" | "null" | "undefined")
}

/// Binds each `--callback` name in `script`; an invalid name is a usage error.
pub fn bind_all(
    script: &mut crate::eval::Script,
    names: &[String],
    sink: &Sink,
) -> Result<(), String> {
    for name in names {
        if !valid_name(name) {
            return Err(format!(
                "--callback {name:?}: a callback's name must be an identifier (letters, digits, \
                 `_`, `$`, not starting with a digit)"
            ));
        }
        script.bind_local(name, Value::Stub(stub(name, sink.clone())));
    }
    Ok(())
}
