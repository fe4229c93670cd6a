//! Wire-name rules: how a Rust method name (snake_case) becomes the name peers call.

/// A `rename_all` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `list_user_ids` → `listUserIds` (the default: the reference's clients are JavaScript).
    CamelCase,
    /// `list_user_ids` → `ListUserIds`.
    PascalCase,
    /// `list_user_ids` → `list_user_ids` (the Rust name as written).
    SnakeCase,
    /// `list_user_ids` → `LIST_USER_IDS`.
    ScreamingSnakeCase,
    /// `list_user_ids` → `list-user-ids`.
    KebabCase,
}

impl RenameRule {
    /// Every rule with the spelling `rename_all = "…"` accepts, in the order error messages list them.
    pub(crate) const ALL: &'static [(&'static str, RenameRule)] = &[
        ("camelCase", RenameRule::CamelCase),
        ("snake_case", RenameRule::SnakeCase),
        ("PascalCase", RenameRule::PascalCase),
        ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnakeCase),
        ("kebab-case", RenameRule::KebabCase),
    ];

    pub(crate) fn from_str(s: &str) -> Option<RenameRule> {
        RenameRule::ALL.iter().find(|(name, _)| *name == s).map(|(_, rule)| *rule)
    }

    /// Applies the rule to a Rust name (a `r#` prefix is dropped first).
    pub(crate) fn apply(self, rust_name: &str) -> String {
        let name = rust_name.strip_prefix("r#").unwrap_or(rust_name);
        match self {
            RenameRule::SnakeCase => name.to_owned(),
            RenameRule::ScreamingSnakeCase => name.to_ascii_uppercase(),
            RenameRule::KebabCase => name.replace('_', "-"),
            RenameRule::PascalCase => pascal(name),
            RenameRule::CamelCase => {
                let pascal = pascal(name);
                let mut chars = pascal.chars();
                match chars.next() {
                    Some(first) => first.to_lowercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
        }
    }
}

/// `list_user_ids` → `ListUserIds` (serde's algorithm: an underscore capitalizes what follows).
fn pascal(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut capitalize = true;
    for ch in name.chars() {
        if ch == '_' {
            capitalize = true;
        } else if capitalize {
            out.extend(ch.to_uppercase());
            capitalize = false;
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::RenameRule::*;

    #[test]
    fn rules() {
        assert_eq!(CamelCase.apply("list_user_ids"), "listUserIds");
        assert_eq!(CamelCase.apply("add"), "add");
        assert_eq!(CamelCase.apply("get_v2_data"), "getV2Data");
        assert_eq!(CamelCase.apply("r#type"), "type");
        assert_eq!(PascalCase.apply("list_user_ids"), "ListUserIds");
        assert_eq!(SnakeCase.apply("list_user_ids"), "list_user_ids");
        assert_eq!(ScreamingSnakeCase.apply("list_user_ids"), "LIST_USER_IDS");
        assert_eq!(KebabCase.apply("list_user_ids"), "list-user-ids");
    }
}
