//! Wire-name rules: how a Rust method name (snake_case) becomes the name peers call.

/// A `rename_all` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `list_user_ids` → `listUserIds` (the default: the reference's clients are JavaScript).
    Camel,
    /// `list_user_ids` → `ListUserIds`.
    Pascal,
    /// `list_user_ids` → `list_user_ids` (the Rust name as written).
    Snake,
    /// `list_user_ids` → `LIST_USER_IDS`.
    ScreamingSnake,
    /// `list_user_ids` → `list-user-ids`.
    Kebab,
}

impl RenameRule {
    /// Every rule with the spelling `rename_all = "…"` accepts, in the order error messages list them.
    pub(crate) const ALL: &'static [(&'static str, RenameRule)] = &[
        ("camelCase", RenameRule::Camel),
        ("snake_case", RenameRule::Snake),
        ("PascalCase", RenameRule::Pascal),
        ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
        ("kebab-case", RenameRule::Kebab),
    ];

    pub(crate) fn from_str(s: &str) -> Option<RenameRule> {
        RenameRule::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, rule)| *rule)
    }

    /// Applies the rule to a Rust name (a `r#` prefix is dropped first).
    pub(crate) fn apply(self, rust_name: &str) -> String {
        let name = rust_name.strip_prefix("r#").unwrap_or(rust_name);
        match self {
            RenameRule::Snake => name.to_owned(),
            RenameRule::ScreamingSnake => name.to_ascii_uppercase(),
            RenameRule::Kebab => name.replace('_', "-"),
            RenameRule::Pascal => pascal(name),
            RenameRule::Camel => {
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
        assert_eq!(Camel.apply("list_user_ids"), "listUserIds");
        assert_eq!(Camel.apply("add"), "add");
        assert_eq!(Camel.apply("get_v2_data"), "getV2Data");
        assert_eq!(Camel.apply("r#type"), "type");
        assert_eq!(Pascal.apply("list_user_ids"), "ListUserIds");
        assert_eq!(Snake.apply("list_user_ids"), "list_user_ids");
        assert_eq!(ScreamingSnake.apply("list_user_ids"), "LIST_USER_IDS");
        assert_eq!(Kebab.apply("list_user_ids"), "list-user-ids");
    }

    #[test]
    fn spellings() {
        for (spelling, rule) in super::RenameRule::ALL {
            assert_eq!(super::RenameRule::from_str(spelling), Some(*rule));
            // Each rule's spelling is its own output for "rename_all"-like words.
            let sample = match rule {
                Camel => "camelCase",
                Snake => "snake_case",
                Pascal => "PascalCase",
                ScreamingSnake => "SCREAMING_SNAKE_CASE",
                Kebab => "kebab-case",
            };
            assert_eq!(*spelling, sample);
        }
        assert_eq!(super::RenameRule::from_str("weird"), None);
    }
}
