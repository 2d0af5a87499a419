//! Selective JSON reading: walk an object's top-level fields once, keep the raw text of the ones
//! a decoder wants, and skip the rest without building a tree (a
//! `serde_json::Value` tree costs about twice a borrowed walk).
//!
//! Field lookup is by name through the decoder's own `match`, so one decoder can accept several
//! spellings (`ipAddress` from Graph, `IPAddress` from Log Analytics) and a key that appears
//! twice (Microsoft's own Graph example repeats keys) does not fail the record: the last wins.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

pub type Raw<'a> = &'a RawValue;

/// Calls `f(key, raw_value)` for every top-level field of the JSON object in `text`.
pub fn for_each_field<'a>(
    text: &'a str,
    f: impl FnMut(&str, Raw<'a>),
) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_map(FieldWalker { f })?;
    de.end()
}

/// As [`for_each_field`], with each key in ASCII lower case: the same record family comes with
/// camelCase (Graph), PascalCase (Log Analytics, PowerShell) and lower-case (SIEM) keys, so
/// decoders match on lower-case names. One buffer per object holds the folded key.
pub fn for_each_field_ci<'a>(
    text: &'a str,
    mut f: impl FnMut(&str, Raw<'a>),
) -> Result<(), serde_json::Error> {
    let mut lower = String::with_capacity(64);
    for_each_field(text, |k, v| {
        if k.bytes().any(|b| b.is_ascii_uppercase()) {
            lower.clear();
            lower.push_str(k);
            lower.make_ascii_lowercase();
            f(&lower, v)
        } else {
            f(k, v)
        }
    })
}

/// Calls `f` with `key` in ASCII lower case, without allocating for keys up to 64 bytes.
pub fn with_lower<R>(key: &str, f: impl FnOnce(&str) -> R) -> R {
    if !key.bytes().any(|b| b.is_ascii_uppercase()) {
        return f(key);
    }
    let mut buf = [0u8; 64];
    match buf.get_mut(..key.len()) {
        Some(lower) => {
            lower.copy_from_slice(key.as_bytes());
            lower.make_ascii_lowercase();
            // ASCII case folding keeps UTF-8 valid; the fallback is never taken.
            match std::str::from_utf8(lower) {
                Ok(k) => f(k),
                Err(_) => f(&key.to_ascii_lowercase()),
            }
        }
        None => f(&key.to_ascii_lowercase()),
    }
}

/// An Azure Monitor diagnostic-settings record: the log's own record in `properties`, and the
/// envelope's values that stand in where `properties` lacks them (Microsoft's "Azure Monitor
/// resource log schema"). `callerIpAddress` is `None` when it is the `<null>` placeholder.
#[derive(Debug)]
pub struct Diagnostic<'a> {
    pub properties: Raw<'a>,
    pub time: Option<Cow<'a, str>>,
    pub operation: Option<Cow<'a, str>>,
    pub caller_ip: Option<Cow<'a, str>>,
    pub correlation_id: Option<Cow<'a, str>>,
    pub result_type: Option<Cow<'a, str>>,
}

impl<'a> Diagnostic<'a> {
    /// Reads the envelope; `Err` names what is wrong (not JSON, no `properties`).
    pub fn parse(text: &'a str) -> Result<Diagnostic<'a>, crate::normalize::RowError> {
        use crate::normalize::RowError;
        let mut properties = None;
        let (mut time, mut operation, mut caller_ip, mut correlation_id, mut result_type) =
            (None, None, None, None, None);
        for_each_field_ci(text, |k, v| match k {
            "properties" => properties = Some(v),
            "time" => time = text_of(v),
            "operationname" => operation = text_of(v),
            "calleripaddress" => caller_ip = text_of(v).filter(|ip| ip.trim() != "<null>"),
            "correlationid" => correlation_id = text_of(v),
            "resulttype" => result_type = text_of(v),
            _ => {}
        })
        .map_err(|e| RowError::json("diagnostic record", &e))?;
        Ok(Diagnostic {
            properties: properties.ok_or_else(|| RowError::missing("properties"))?,
            time,
            operation,
            caller_ip,
            correlation_id,
            result_type,
        })
    }
}

fn text_of(raw: Raw<'_>) -> Option<Cow<'_, str>> {
    text(raw).filter(|t| !t.trim().is_empty())
}

struct FieldWalker<F> {
    f: F,
}

impl<'de, F: FnMut(&str, Raw<'de>)> Visitor<'de> for FieldWalker<F> {
    type Value = ();

    fn expecting(&self, out: &mut fmt::Formatter) -> fmt::Result {
        out.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            let value: Raw<'de> = map.next_value()?;
            (self.f)(&key.0, value);
        }
        Ok(())
    }
}

/// A string that borrows from the input when it has no escapes.
pub struct CowStr<'a>(pub Cow<'a, str>);

impl<'de> Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, out: &mut fmt::Formatter) -> fmt::Result {
                out.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// The kind of a raw JSON value, from its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Number,
    Bool,
    Null,
    Object,
    Array,
}

pub fn kind(raw: Raw) -> Kind {
    match raw.get().as_bytes().first() {
        Some(b'"') => Kind::String,
        Some(b'{') => Kind::Object,
        Some(b'[') => Kind::Array,
        Some(b't') | Some(b'f') => Kind::Bool,
        Some(b'n') | None => Kind::Null,
        _ => Kind::Number,
    }
}

/// A scalar as text: strings unescaped, numbers and booleans as written (exports write the same
/// field as `15` or `"15"`, `true` or `"True"`). `None` for null, objects and arrays.
pub fn text(raw: Raw) -> Option<Cow<str>> {
    match kind(raw) {
        Kind::String => {
            let s = raw.get();
            // Most strings have no escapes: borrow them without running a parser.
            let inner = &s[1..s.len() - 1];
            if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
                return Some(Cow::Borrowed(inner));
            }
            serde_json::from_str::<CowStr>(s).ok().map(|c| c.0)
        }
        Kind::Number | Kind::Bool => Some(Cow::Borrowed(raw.get())),
        _ => None,
    }
}

/// The JSON text of an object or array field; if the field is a string, the JSON text inside it
/// (Log Analytics and MES JSONL store `Parameters`, `Folders`, `AuditData` as JSON strings).
pub fn object_text(raw: Raw) -> Option<Cow<str>> {
    match kind(raw) {
        Kind::Object | Kind::Array => Some(Cow::Borrowed(raw.get())),
        Kind::String => text(raw).filter(|s| s.trim_start().starts_with(['{', '['])),
        _ => None,
    }
}

/// Calls `f` for each element of a JSON array given as text.
pub fn for_each_element<'a>(
    text: &'a str,
    mut f: impl FnMut(Raw<'a>),
) -> Result<(), serde_json::Error> {
    struct Walker<F>(F);
    impl<'de, F: FnMut(Raw<'de>)> Visitor<'de> for Walker<F> {
        type Value = ();
        fn expecting(&self, out: &mut fmt::Formatter) -> fmt::Result {
            out.write_str("a JSON array")
        }
        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
            while let Some(v) = seq.next_element::<Raw<'de>>()? {
                (self.0)(v);
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_seq(Walker(&mut f))?;
    de.end()
}

/// A `[{Name, Value}]` list (`Parameters`, `ExtendedProperties`, `DeviceProperties`,
/// `OperationProperties`) or a `[{Name, NewValue, OldValue}]` list (`ModifiedProperties`), as
/// (name, value) pairs; the new value is used for modified properties. Entries that are plain
/// strings (a shape some pipelines produce) come through with an empty name.
pub fn name_values(list_text: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let mut out = Vec::new();
    let _ = for_each_element(list_text, |item| match kind(item) {
        Kind::Object => {
            let mut name = None;
            let mut value = None;
            let _ = for_each_field_ci(item.get(), |k, v| match k {
                "name" => name = text(v),
                "value" | "newvalue" => value = text(v).or_else(|| object_text(v)),
                _ => {}
            });
            if let Some(name) = name {
                out.push((name, value.unwrap_or_default()));
            }
        }
        Kind::String => {
            if let Some(s) = text(item) {
                out.push((Cow::Borrowed(""), s));
            }
        }
        _ => {}
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_fields_and_keeps_the_last_duplicate() {
        let mut seen = Vec::new();
        for_each_field(r#"{"a":1,"b":"x\/y","a":"2","c":{"d":[1,2]}}"#, |k, v| {
            seen.push((k.to_string(), text(v).map(|c| c.into_owned())))
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                ("a".into(), Some("1".into())),
                ("b".into(), Some("x/y".into())),
                ("a".into(), Some("2".into())),
                ("c".into(), None),
            ]
        );
    }

    #[test]
    fn name_value_lists_tolerate_shapes() {
        let nv = name_values(
            r#"[{"Name":"ForwardTo","Value":"x@y.example"},{"Name":"N","NewValue":"[\r\n  true\r\n]","OldValue":""},"loose"]"#,
        );
        let nv: Vec<(String, String)> = nv
            .into_iter()
            .map(|(n, v)| (n.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            nv,
            vec![
                ("ForwardTo".into(), "x@y.example".into()),
                ("N".into(), "[\r\n  true\r\n]".into()),
                (String::new(), "loose".into()),
            ]
        );
    }

    #[test]
    fn object_text_reads_json_inside_strings() {
        let raw: &RawValue = serde_json::from_str(r#""[{\"Name\":\"a\"}]""#).unwrap();
        assert_eq!(object_text(raw).as_deref(), Some(r#"[{"Name":"a"}]"#));
    }
}
