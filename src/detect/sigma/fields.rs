//! The field mapping: which Sigma logsources breachline can read, which of its sources and
//! workloads each one means, and what each Sigma field name (the Log Analytics /
//! diagnostic-settings names such as `ResultType`, `AppDisplayName`, `Operation`) is in
//! breachline's normalized fields. The built-in mapping is `data/sigma-fields.toml`; files given
//! with `--sigma-fields` add logsources and fields, or replace a built-in field's entry.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::detect::field::Field;
use crate::model::Source;

/// The built-in mapping, embedded.
pub const BUILTIN: &str = include_str!("../../../data/sigma-fields.toml");

/// How a breachline value is handed to the Sigma matcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// As text (Sigma compares text case-insensitively, with wildcards).
    #[default]
    Text,
    /// As an integer when the text is one (`ResultType: 50126` in a rule is a number).
    Int,
    /// As true / false.
    Bool,
}

/// One Sigma field: the breachline field it reads, its kind, and the value to use when the
/// event has none (a successful sign-in has no error code; Log Analytics writes `0`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldSpec {
    pub read: Read,
    pub kind: Kind,
    pub absent: Option<String>,
    /// The value becomes true / false: whether it is this text (case-insensitively).
    pub equals: Option<String>,
    /// Removed from the end of the value when present.
    pub strip_suffix: Option<String>,
}

/// Where a Sigma field's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Read {
    /// One normalized field.
    Field(Field),
    /// Every attribute whose name starts with this prefix (`param.`), as `Name: value`.
    AttrPrefix(String),
    /// Several of the above, their values joined (Entra's `TargetResources`: the targets' names,
    /// types and ids and every modified property, for a rule's `TargetResources|contains`).
    Many(Vec<Read>),
}

impl std::fmt::Display for Read {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Read::Field(x) => write!(f, "{x}"),
            Read::AttrPrefix(p) => write!(f, "attr.{p}*"),
            Read::Many(v) => {
                let parts: Vec<String> = v.iter().map(|r| r.to_string()).collect();
                write!(f, "[{}]", parts.join(", "))
            }
        }
    }
}

/// A Sigma logsource breachline reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Logsource {
    /// `product/service` (or `product/category`), as the mapping file names it.
    pub name: String,
    pub product: String,
    pub service: Option<String>,
    pub category: Option<String>,
    pub sources: Vec<Source>,
    /// Audit workloads (`AzureActiveDirectory`, `Exchange`); empty means every workload.
    pub workloads: Vec<String>,
    pub fields: BTreeMap<String, FieldSpec>,
}

/// The whole mapping.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldMap {
    pub logsources: Vec<Logsource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[serde(default)]
    logsource: Vec<LogsourceDef>,
    #[serde(default)]
    fields: BTreeMap<String, BTreeMap<String, SpecDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsourceDef {
    name: String,
    product: String,
    service: Option<String>,
    category: Option<String>,
    sources: Vec<String>,
    #[serde(default)]
    workloads: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SpecDef {
    Name(String),
    Names(Vec<String>),
    Full {
        field: FieldNames,
        #[serde(default, rename = "type")]
        kind: Kind,
        absent: Option<toml::Value>,
        equals: Option<String>,
        strip_suffix: Option<String>,
    },
}

/// One field name or a list of them (values joined).
#[derive(Deserialize)]
#[serde(untagged)]
enum FieldNames {
    One(String),
    Many(Vec<String>),
}

/// What a mapping entry's field name (`attr.modified.*`, `ip`) reads.
fn read_of(field: &str) -> Result<Read, String> {
    Ok(
        match field
            .strip_prefix("attr.")
            .and_then(|p| p.strip_suffix('*'))
        {
            Some(prefix) if !prefix.is_empty() => Read::AttrPrefix(prefix.to_string()),
            _ => Read::Field(Field::parse(field)?),
        },
    )
}

impl FieldMap {
    /// The built-in mapping plus the files given, in order.
    pub fn load(extra: &[impl AsRef<Path>]) -> Result<FieldMap, String> {
        let mut map = FieldMap::default();
        map.merge("data/sigma-fields.toml (built in)", BUILTIN)?;
        for p in extra {
            let p = p.as_ref();
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            map.merge(&p.display().to_string(), &text)?;
        }
        Ok(map)
    }

    /// Adds one mapping file's logsources and fields.
    pub fn merge(&mut self, file: &str, text: &str) -> Result<(), String> {
        let def: FileDef = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        for l in def.logsource {
            let sources = l
                .sources
                .iter()
                .map(|s| {
                    Source::ALL
                        .into_iter()
                        .find(|x| x.as_str() == s)
                        .ok_or_else(|| {
                            format!(
                                "{file}: logsource `{}`: unknown source `{s}` (expected one of {})",
                                l.name,
                                Source::ALL.map(|x| x.as_str()).join(", ")
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let new = Logsource {
                name: l.name.clone(),
                product: l.product.to_ascii_lowercase(),
                service: l.service.map(|s| s.to_ascii_lowercase()),
                category: l.category.map(|s| s.to_ascii_lowercase()),
                sources,
                workloads: l.workloads,
                fields: BTreeMap::new(),
            };
            match self.logsources.iter_mut().find(|x| x.name == l.name) {
                Some(old) => {
                    let fields = std::mem::take(&mut old.fields);
                    *old = Logsource { fields, ..new };
                }
                None => self.logsources.push(new),
            }
        }
        for (name, specs) in def.fields {
            let Some(ls) = self.logsources.iter_mut().find(|x| x.name == name) else {
                return Err(format!(
                    "{file}: [fields.\"{name}\"] names no logsource (define it with [[logsource]] name = \"{name}\")"
                ));
            };
            for (sigma, spec) in specs {
                let (field, kind, absent, equals, strip_suffix) = match spec {
                    SpecDef::Name(f) => (FieldNames::One(f), Kind::Text, None, None, None),
                    SpecDef::Names(f) => (FieldNames::Many(f), Kind::Text, None, None, None),
                    SpecDef::Full {
                        field,
                        kind,
                        absent,
                        equals,
                        strip_suffix,
                    } => (field, kind, absent, equals, strip_suffix),
                };
                let err = |e: String| format!("{file}: {name}.{sigma}: {e}");
                let read = match field {
                    FieldNames::One(f) => read_of(&f).map_err(err)?,
                    FieldNames::Many(fs) => Read::Many(
                        fs.iter()
                            .map(|f| read_of(f))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(err)?,
                    ),
                };
                let kind = if equals.is_some() { Kind::Bool } else { kind };
                let absent = absent.map(|v| match v {
                    toml::Value::String(s) => s,
                    other => other.to_string(),
                });
                ls.fields.insert(
                    sigma,
                    FieldSpec {
                        read,
                        kind,
                        absent,
                        equals,
                        strip_suffix,
                    },
                );
            }
        }
        Ok(())
    }

    /// The logsource a rule's `logsource` block names, or why there is none.
    pub fn find(
        &self,
        product: Option<&str>,
        service: Option<&str>,
        category: Option<&str>,
    ) -> Result<&Logsource, String> {
        let lower = |s: Option<&str>| s.map(|s| s.to_ascii_lowercase());
        let (p, s, c) = (lower(product), lower(service), lower(category));
        let Some(p) = p else {
            return Err("logsource has no product".into());
        };
        self.logsources
            .iter()
            .find(|l| l.product == p && l.service == s && l.category == c)
            .ok_or_else(|| {
                let named = [Some(p.as_str()), s.as_deref(), c.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("/");
                format!("logsource {named} is not one breachline reads (data/sigma-fields.toml)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_mapping_loads_and_names_the_documented_logsources() {
        let map = FieldMap::load(&[] as &[&str]).expect("built-in mapping is valid");
        for (p, s) in [
            ("azure", "signinlogs"),
            ("azure", "auditlogs"),
            ("m365", "exchange"),
            ("m365", "threat_management"),
            ("m365", "audit"),
        ] {
            let l = map.find(Some(p), Some(s), None).expect("mapped");
            assert!(!l.fields.is_empty(), "{p}/{s} has fields");
        }
        let signin = map
            .find(Some("Azure"), Some("SigninLogs"), None)
            .expect("case-insensitive");
        let rt = &signin.fields["ResultType"];
        assert_eq!(rt.read, Read::Field(Field::ErrorCode));
        assert_eq!(rt.kind, Kind::Int);
        assert_eq!(rt.absent.as_deref(), Some("0"));
        let err = map
            .find(Some("azure"), Some("activitylogs"), None)
            .expect_err("not read");
        assert_eq!(
            err,
            "logsource azure/activitylogs is not one breachline reads (data/sigma-fields.toml)"
        );
    }

    #[test]
    fn user_files_add_fields_and_bad_ones_say_where() {
        let mut map = FieldMap::load(&[] as &[&str]).expect("valid");
        map.merge(
            "mine.toml",
            "[fields.\"azure/signinlogs\"]\nMyField = \"attr.browser\"\nResultType = { field = \"attr.logon_error\" }\n",
        )
        .expect("valid");
        let l = map
            .find(Some("azure"), Some("signinlogs"), None)
            .expect("mapped");
        assert_eq!(l.fields["MyField"].read.to_string(), "attr.browser");
        assert_eq!(l.fields["ResultType"].read.to_string(), "attr.logon_error");
        let audit = map.find(Some("m365"), Some("audit"), None).expect("mapped");
        assert_eq!(
            audit.fields["Parameters"].read,
            Read::AttrPrefix("param.".into())
        );
        let err = map
            .merge(
                "bad.toml",
                "[fields.\"azure/signinlogs\"]\nX = \"ip.cuntry\"\n",
            )
            .expect_err("typo");
        assert!(err.starts_with("bad.toml: azure/signinlogs.X"), "{err}");
        let err = map
            .merge("bad.toml", "[fields.\"nope\"]\nX = \"ip\"\n")
            .expect_err("unknown logsource");
        assert!(err.contains("names no logsource"), "{err}");
    }
}
