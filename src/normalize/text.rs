//! Text helpers: per-thread interning of repeated values and user-id normalization.

use std::cell::RefCell;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::model::Text;

/// Above this many distinct values a thread's intern table is dropped and started again, so a
/// column that turns out to be unique per row cannot grow it without bound.
const INTERN_LIMIT: usize = 200_000;

thread_local! {
    static INTERNED: RefCell<FxHashSet<Arc<str>>> = RefCell::new(FxHashSet::default());
    static JOINED: RefCell<String> = const { RefCell::new(String::new()) };
    static NAMES: RefCell<FxHashMap<(usize, usize), Text>> = RefCell::new(FxHashMap::default());
}

/// Returns shared text for a value that repeats across rows (user, operation, app, country).
pub fn intern(s: &str) -> Text {
    INTERNED.with(|cell| {
        let mut set = cell.borrow_mut();
        if let Some(t) = set.get(s) {
            return t.clone();
        }
        if set.len() >= INTERN_LIMIT {
            set.clear();
        }
        let t: Text = Arc::from(s);
        set.insert(t.clone());
        t
    })
}

/// Interned text for a name written in the code (attribute names): looked up by the literal's
/// address, which costs less than hashing the text on every event.
pub fn intern_name(name: &'static str) -> Text {
    let key = (name.as_ptr() as usize, name.len());
    NAMES.with(|cell| {
        if let Some(t) = cell.borrow().get(&key) {
            return t.clone();
        }
        let t = intern(name);
        cell.borrow_mut().insert(key, t.clone());
        t
    })
}

/// Interned `prefix` + `name` (attribute names such as `param.ForwardTo`) without allocating
/// when the name was seen before.
pub fn intern_joined(prefix: &str, name: &str) -> Text {
    JOINED.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        buf.push_str(prefix);
        buf.push_str(name);
        intern(&buf)
    })
}

/// Text for a value that is unique per row (record ids, request ids): not interned.
pub fn unique(s: &str) -> Text {
    Arc::from(s)
}

/// A user identity as breachline compares it: trimmed and lower-cased (UPNs are
/// case-insensitive; the same user appears as `DebraB@X.OnMicrosoft.com` and `debrab@x...`).
pub fn user(s: &str) -> Text {
    let s = s.trim();
    if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() {
        intern(&s.to_lowercase())
    } else {
        intern(s)
    }
}

/// `Some(trimmed)` unless empty or a placeholder the exports use for "nothing".
pub fn present(s: &str) -> Option<&str> {
    let s = s.trim();
    if s.is_empty() || s == "null" || s == "N/A" || s == "{}" || s == "[]" {
        None
    } else {
        Some(s)
    }
}

/// Removes the leading apostrophe the Entra portal CSV adds before values starting with
/// `-`, `+`, `=` or `@` (a spreadsheet formula-injection guard).
pub fn strip_formula_guard(s: &str) -> &str {
    match s.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['-', '+', '=', '@']) => rest,
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_compare_case_insensitively() {
        assert_eq!(
            &*user(" Alice.Wong@Contoso.example "),
            "alice.wong@contoso.example"
        );
        assert!(Arc::ptr_eq(&user("A@B.example"), &user("a@b.example")));
    }

    #[test]
    fn formula_guard_is_removed_only_before_formula_characters() {
        assert_eq!(strip_formula_guard("'-mFz"), "-mFz");
        assert_eq!(strip_formula_guard("'quoted"), "'quoted");
    }
}
