//! `capnweb describe`: the API a server describes (`RpcService::describe`), printed as
//! TypeScript-like declarations, or as the JSON it came as.

use std::fmt::Write as _;
use std::time::Duration;

use capnweb::describe::{ApiDescription, MemberDescriptor, MemberKind, TargetDescriptor};
use capnweb::SessionOptions;

use crate::args::{ConnectOpts, DescribeArgs};
use crate::connect::{self, ConnectError};
use crate::run::{UNREACHABLE, USAGE};

/// How long a description may take when `--timeout` does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `capnweb describe`; returns the exit status.
pub async fn describe(args: DescribeArgs) -> u8 {
    match fetch(&args.url, &args.connect).await {
        Ok(api) if args.json => match serde_json::to_string_pretty(&api) {
            Ok(json) => {
                crate::output::print_line(&json);
                0
            }
            Err(e) => {
                eprintln!("capnweb: cannot print the description as JSON: {e}");
                UNREACHABLE
            }
        },
        Ok(api) => {
            crate::output::print_line(render(&api).trim_end());
            0
        }
        Err(ConnectError::Usage(e)) => {
            eprintln!("capnweb: {e}");
            USAGE
        }
        Err(ConnectError::Failed(e)) => {
            eprintln!("capnweb: {e}");
            UNREACHABLE
        }
    }
}

/// The server's description, through the connection options (headers, TLS, timeout).
pub async fn fetch(url: &str, opts: &ConnectOpts) -> Result<ApiDescription, ConnectError> {
    if let connect::TransportKind::WebTransport = connect::transport_of(url)? {
        return Err(ConnectError::Usage(format!(
            "a description is read over HTTP, not WebTransport: give the server's http:// or \
             https:// URL (the TCP port its WebSocket and HTTP batch endpoint listens on) \
             instead of {url}"
        )));
    }
    let client = connect::batch_client(url, opts, SessionOptions::default())?;
    let limit = opts.timeout.unwrap_or(DEFAULT_TIMEOUT);
    match tokio::time::timeout(limit, client.describe()).await {
        Ok(Ok(api)) => Ok(api),
        Ok(Err(e)) => Err(ConnectError::Failed(e.to_string())),
        Err(_) => Err(ConnectError::Failed(format!(
            "describing {url} took longer than {limit:?}; is the server up? (--timeout SECS \
             waits longer)"
        ))),
    }
}

/// Every target (the main one first) as an interface, then the declared types.
pub fn render(api: &ApiDescription) -> String {
    let mut out = String::new();
    for (i, target) in api.targets.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if i == 0 {
            out.push_str("// The main object.\n");
        }
        target_block(&mut out, target);
    }
    if !api.types.is_empty() {
        out.push('\n');
        for declaration in &api.types {
            out.push_str(&declaration.typescript);
            out.push('\n');
        }
    }
    out
}

fn target_block(out: &mut String, target: &TargetDescriptor) {
    docs(out, "", target.docs.as_deref());
    let _ = writeln!(out, "interface {} {{", target.name);
    for member in &target.members {
        docs(out, "  ", member.docs.as_deref());
        let _ = writeln!(out, "  {}", signature(member));
    }
    out.push_str("}\n");
}

/// `add(a: number, b: number): number`, or `readonly version: string`.
pub fn signature(member: &MemberDescriptor) -> String {
    if member.kind == MemberKind::Property {
        return format!("readonly {}: {}", member.name, member.result.typescript);
    }
    // A nullable parameter may be left out only when every one after it may be too.
    let optional_from = member
        .params
        .iter()
        .rposition(|p| !p.ty.nullable)
        .map_or(0, |i| i + 1);
    let params: Vec<String> = member
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mark = if i >= optional_from { "?" } else { "" };
            format!("{}{mark}: {}", p.name, p.ty.typescript)
        })
        .collect();
    format!(
        "{}({}): {}",
        member.name,
        params.join(", "),
        member.result.typescript
    )
}

/// A doc comment as `// ` lines.
fn docs(out: &mut String, indent: &str, docs: Option<&str>) {
    for line in docs.into_iter().flat_map(str::lines) {
        let line = line.trim_end();
        if line.is_empty() {
            let _ = writeln!(out, "{indent}//");
        } else {
            let _ = writeln!(out, "{indent}// {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capnweb::describe::{ParamDescriptor, TypeDescriptor};

    #[test]
    fn members_print_as_typescript() {
        let add = MemberDescriptor::new(
            "add",
            MemberKind::Method,
            Some("Adds.".into()),
            vec![
                ParamDescriptor::new("a", TypeDescriptor::new("number", false)),
                ParamDescriptor::new("b", TypeDescriptor::new("number | null", true)),
            ],
            TypeDescriptor::new("number", false),
        );
        assert_eq!(signature(&add), "add(a: number, b?: number | null): number");
        let version = MemberDescriptor::new(
            "version",
            MemberKind::Property,
            None,
            vec![],
            TypeDescriptor::new("string", false),
        );
        assert_eq!(signature(&version), "readonly version: string");
        let api = TargetDescriptor::new("Api", Some("An API.\n\nTwo lines.".into()), vec![add]);
        let mut out = String::new();
        target_block(&mut out, &api);
        assert_eq!(
            out,
            "// An API.\n//\n// Two lines.\ninterface Api {\n  // Adds.\n  add(a: number, b?: number | null): number\n}\n"
        );
    }
}
