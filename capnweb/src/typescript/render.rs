//! A [`TargetDescriptor`] as a TypeScript interface.

use crate::describe::{MemberKind, TargetDescriptor, TypeDescriptor};

/// `interface Api extends RpcTarget { … }` for `target` (without `export`, as ts-rs's
/// declarations): methods by wire name with their parameters, properties `readonly`, doc
/// comments as JSDoc.
///
/// ```
/// use capnweb::describe::{MemberDescriptor, MemberKind, ParamDescriptor, TargetDescriptor, TypeDescriptor};
///
/// let number = TypeDescriptor::new("number", false);
/// let add = MemberDescriptor::new(
///     "add",
///     MemberKind::Method,
///     Some("Adds.".into()),
///     vec![ParamDescriptor::new("a", number.clone()), ParamDescriptor::new("b", number.clone())],
///     number,
/// );
/// let api = TargetDescriptor::new("Api", None, vec![add]);
/// assert_eq!(
///     capnweb::typescript::interface(&api),
///     "interface Api extends RpcTarget {\n  /** Adds. */\n  add(a: number, b: number): number | Promise<number>;\n}"
/// );
/// ```
pub fn interface(target: &TargetDescriptor) -> String {
    // A walk from a root target learns each target it reaches here.
    crate::describe::walk::rendered(target);
    let mut out = format!("interface {} extends RpcTarget {{\n", target.name);
    for member in &target.members {
        if let Some(docs) = &member.docs {
            out.push_str(&jsdoc(docs, "  "));
        }
        let name = member_name(&member.name);
        match member.kind {
            MemberKind::Property => {
                out.push_str(&format!(
                    "  readonly {name}: {};\n",
                    member.result.typescript
                ));
            }
            MemberKind::Method => {
                // Parameters from the first of a run of optional ones to the end may be left
                // out: the peer receives `undefined`, which an `Option` accepts.
                let optional_from = member
                    .params
                    .iter()
                    .rposition(|param| !param.ty.nullable)
                    .map_or(0, |last_required| last_required + 1);
                let params: Vec<String> = member
                    .params
                    .iter()
                    .enumerate()
                    .map(|(i, param)| {
                        let mark = if i >= optional_from { "?" } else { "" };
                        format!("{}{mark}: {}", param_name(&param.name), param.ty.typescript)
                    })
                    .collect();
                out.push_str(&format!(
                    "  {name}({}): {};\n",
                    params.join(", "),
                    result(&member.result)
                ));
            }
        }
    }
    out.push('}');
    out
}

/// A method's result: `T | Promise<T>`, so that a class may implement the interface with a
/// plain or an `async` method (`void` accepts both already).
fn result(ty: &TypeDescriptor) -> String {
    match ty.typescript.as_str() {
        "void" => "void".to_owned(),
        ts => format!("{ts} | Promise<{ts}>"),
    }
}

/// `text` as a JSDoc comment, each line indented by `indent`, ending in a newline.
pub(crate) fn jsdoc(text: &str, indent: &str) -> String {
    // `*/` would end the comment early.
    let text = text.replace("*/", "*\\/");
    let lines: Vec<&str> = text.lines().collect();
    match lines.as_slice() {
        [line] => format!("{indent}/** {line} */\n"),
        lines => {
            let mut out = format!("{indent}/**\n");
            for line in lines {
                if line.is_empty() {
                    out.push_str(&format!("{indent} *\n"));
                } else {
                    out.push_str(&format!("{indent} * {line}\n"));
                }
            }
            out.push_str(&format!("{indent} */\n"));
            out
        }
    }
}

/// A member's name: as is when it is an identifier, else quoted (`"get-user"`).
fn member_name(wire: &str) -> String {
    if is_identifier(wire) {
        wire.to_owned()
    } else {
        serde_json::to_string(wire).unwrap_or_else(|_| format!("{wire:?}"))
    }
}

/// A parameter's name: the Rust name, with `_` added to one TypeScript reserves.
fn param_name(rust: &str) -> String {
    let name = rust.strip_prefix("r#").unwrap_or(rust);
    if RESERVED.contains(&name) {
        format!("{name}_")
    } else {
        name.to_owned()
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Words TypeScript does not accept as a parameter's name (a Rust name may be one).
const RESERVED: &[&str] = &[
    "arguments",
    "await",
    "case",
    "catch",
    "class",
    "debugger",
    "default",
    "delete",
    "eval",
    "export",
    "extends",
    "finally",
    "function",
    "implements",
    "import",
    "instanceof",
    "interface",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "switch",
    "this",
    "throw",
    "typeof",
    "var",
    "void",
    "with",
    "yield",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_identifiers_are_quoted_or_suffixed() {
        assert_eq!(member_name("listUserIds"), "listUserIds");
        assert_eq!(member_name("list-user-ids"), "\"list-user-ids\"");
        assert_eq!(param_name("r#type"), "type");
        assert_eq!(param_name("class"), "class_");
    }

    #[test]
    fn docs_become_jsdoc() {
        assert_eq!(jsdoc("One line.", "  "), "  /** One line. */\n");
        assert_eq!(
            jsdoc("First.\n\nThird */ here.", ""),
            "/**\n * First.\n *\n * Third *\\/ here.\n */\n"
        );
    }
}
