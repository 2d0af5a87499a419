//! Normalized field names that rules use, mapped to the values of an [`Event`] and of the
//! [`IpInfo`] enrichment knows for its address. One name resolves once, when the rule is read,
//! so evaluating a condition is a match on an enum, not a string lookup.
//!
//! | name | value |
//! |---|---|
//! | `source`, `user`, `operation`, `outcome`, `error_code`, `ip`, `country`, `region`, `city`, `asn`, `user_agent`, `application`, `client_app`, `device_id`, `session_id`, `correlation_id`, `request_id`, `token_id`, `record_id`, `object` | the event column of that name |
//! | `attr.<name>` | every value of the attribute (`attr.param.ForwardingSmtpAddress`, `attr.operation_count`) |
//! | `ip.country`, `ip.asn`, `ip.as_org`, `ip.network`, `ip.provider`, `ip.trusted_country`, `ip.scope` | what enrichment knows about the event's address |
//! | `role` | how the event belongs to the user under evaluation: `actor`, `recipient` or `target` |

use std::fmt;
use std::net::IpAddr;

use crate::enrich::IpInfo;
use crate::model::{Event, Text};

pub use crate::model::Role;

/// One event as a rule sees it: the event, what is known about its address, and its role.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    pub event: &'a Event,
    pub ip: Option<&'a IpInfo>,
    pub role: Role,
    /// The address is the acting account's everyday one (`ip.everyday`,
    /// [`super::baseline::Everyday`]).
    pub everyday: bool,
}

/// A value of a field. Text is compared case-insensitively by the matcher.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    Text(&'a str),
    Int(i64),
    Ip(IpAddr),
    Bool(bool),
}

impl Value<'_> {
    /// The value written out, for summaries, grouping keys and text operators on numbers.
    pub fn to_text(&self) -> String {
        match self {
            Value::Text(s) => (*s).to_string(),
            Value::Int(n) => n.to_string(),
            Value::Ip(ip) => ip.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }
}

/// A normalized field name, resolved.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Source,
    User,
    Operation,
    Outcome,
    ErrorCode,
    Ip,
    Country,
    Region,
    City,
    Asn,
    UserAgent,
    Application,
    ClientApp,
    DeviceId,
    SessionId,
    CorrelationId,
    RequestId,
    TokenId,
    RecordId,
    Object,
    Attr(Text),
    IpCountry,
    IpAsn,
    IpAsOrg,
    IpNetwork,
    IpProvider,
    IpTrustedCountry,
    IpScope,
    IpShared,
    IpAccounts,
    IpSprayAccounts,
    IpEveryday,
    Role,
}

/// Every plain field name, for error messages and the docs.
pub const NAMES: &[&str] = &[
    "source",
    "user",
    "operation",
    "outcome",
    "error_code",
    "ip",
    "country",
    "region",
    "city",
    "asn",
    "user_agent",
    "application",
    "client_app",
    "device_id",
    "session_id",
    "correlation_id",
    "request_id",
    "token_id",
    "record_id",
    "object",
    "ip.country",
    "ip.asn",
    "ip.as_org",
    "ip.network",
    "ip.provider",
    "ip.trusted_country",
    "ip.scope",
    "ip.shared",
    "ip.accounts",
    "ip.spray_accounts",
    "ip.everyday",
    "role",
];

impl Field {
    /// Resolves a name; the error lists what would have been accepted.
    pub fn parse(name: &str) -> Result<Field, String> {
        let f = match name {
            "source" => Field::Source,
            "user" => Field::User,
            "operation" => Field::Operation,
            "outcome" => Field::Outcome,
            "error_code" => Field::ErrorCode,
            "ip" => Field::Ip,
            "country" => Field::Country,
            "region" => Field::Region,
            "city" => Field::City,
            "asn" => Field::Asn,
            "user_agent" => Field::UserAgent,
            "application" => Field::Application,
            "client_app" => Field::ClientApp,
            "device_id" => Field::DeviceId,
            "session_id" => Field::SessionId,
            "correlation_id" => Field::CorrelationId,
            "request_id" => Field::RequestId,
            "token_id" => Field::TokenId,
            "record_id" => Field::RecordId,
            "object" => Field::Object,
            "ip.country" => Field::IpCountry,
            "ip.asn" => Field::IpAsn,
            "ip.as_org" => Field::IpAsOrg,
            "ip.network" => Field::IpNetwork,
            "ip.provider" => Field::IpProvider,
            "ip.trusted_country" => Field::IpTrustedCountry,
            "ip.scope" => Field::IpScope,
            "ip.shared" => Field::IpShared,
            "ip.accounts" => Field::IpAccounts,
            "ip.spray_accounts" => Field::IpSprayAccounts,
            "ip.everyday" => Field::IpEveryday,
            "role" => Field::Role,
            _ => match name.strip_prefix("attr.") {
                Some(attr) if !attr.is_empty() => Field::Attr(Text::from(attr)),
                _ => {
                    return Err(format!(
                        "unknown field `{name}`: expected one of {}, or attr.<name> (attr.param.ForwardingSmtpAddress)",
                        NAMES.join(", ")
                    ))
                }
            },
        };
        Ok(f)
    }

    /// Whether any value of the field satisfies `pred`. Empty text counts as no value.
    #[inline]
    pub fn any<'a>(&self, v: &EventView<'a>, mut pred: impl FnMut(Value<'a>) -> bool) -> bool {
        let e = v.event;
        fn text(t: &Option<Text>) -> Option<Value<'_>> {
            t.as_deref().filter(|s| !s.is_empty()).map(Value::Text)
        }
        let one = match self {
            Field::Source => Some(Value::Text(e.source.as_str())),
            Field::User => Some(Value::Text(&e.user)),
            Field::Operation => Some(Value::Text(&e.operation)),
            Field::Outcome => Some(Value::Text(e.outcome.as_str())),
            Field::ErrorCode => text(&e.error_code),
            Field::Ip => e.ip.map(Value::Ip),
            Field::Country => text(&e.country),
            Field::Region => text(&e.region),
            Field::City => text(&e.city),
            Field::Asn => e.asn.map(|a| Value::Int(i64::from(a))),
            Field::UserAgent => text(&e.user_agent),
            Field::Application => text(&e.application),
            Field::ClientApp => text(&e.client_app),
            Field::DeviceId => text(&e.device_id),
            Field::SessionId => text(&e.session_id),
            Field::CorrelationId => text(&e.correlation_id),
            Field::RequestId => text(&e.request_id),
            Field::TokenId => text(&e.token_id),
            Field::RecordId => text(&e.record_id),
            Field::Object => text(&e.object),
            Field::Attr(name) => {
                return e
                    .attrs
                    .iter()
                    .filter(|(k, s)| **k == **name && !s.is_empty())
                    .any(|(_, s)| pred(Value::Text(s)))
            }
            Field::IpCountry => v.ip.and_then(|i| text(&i.country)),
            Field::IpAsn => v.ip.and_then(|i| i.asn).map(|a| Value::Int(i64::from(a))),
            Field::IpAsOrg => v.ip.and_then(|i| text(&i.as_org)),
            Field::IpNetwork => v.ip.map(|i| Value::Text(i.network.as_str())),
            Field::IpProvider => v.ip.and_then(|i| text(&i.provider)),
            Field::IpTrustedCountry => v.ip.map(|i| Value::Bool(i.trusted_country)),
            Field::IpScope => v.ip.map(|i| Value::Text(i.scope.as_str())),
            Field::IpShared => v.ip.map(|i| Value::Bool(i.shared)),
            Field::IpAccounts => v.ip.map(|i| Value::Int(i64::from(i.accounts))),
            Field::IpSprayAccounts => v.ip.map(|i| Value::Int(i64::from(i.spray_accounts))),
            Field::IpEveryday => e.ip.map(|_| Value::Bool(v.everyday)),
            Field::Role => Some(Value::Text(v.role.as_str())),
        };
        one.is_some_and(pred)
    }

    /// Whether every value satisfies `pred` (false when the field has no value).
    pub fn all<'a>(&self, v: &EventView<'a>, mut pred: impl FnMut(Value<'a>) -> bool) -> bool {
        let mut seen = false;
        let any_fails = self.any(v, |x| {
            seen = true;
            !pred(x)
        });
        seen && !any_fails
    }

    /// The first value, borrowed (no allocation).
    pub fn first_value<'a>(&self, v: &EventView<'a>) -> Option<Value<'a>> {
        let mut out = None;
        // `any` hands out values borrowed from the event or its IpInfo, which live for 'a.
        self.any(v, |x| {
            out = Some(x);
            true
        });
        out
    }

    /// The first value, written out.
    pub fn first(&self, v: &EventView<'_>) -> Option<String> {
        let mut out = None;
        self.any(v, |x| {
            out = Some(x.to_text());
            true
        });
        out
    }

    /// How many values the field has in this event.
    pub fn count(&self, v: &EventView<'_>) -> usize {
        let mut n = 0;
        self.any(v, |_| {
            n += 1;
            false
        });
        n
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Field::Attr(name) => return write!(f, "attr.{name}"),
            Field::Source => "source",
            Field::User => "user",
            Field::Operation => "operation",
            Field::Outcome => "outcome",
            Field::ErrorCode => "error_code",
            Field::Ip => "ip",
            Field::Country => "country",
            Field::Region => "region",
            Field::City => "city",
            Field::Asn => "asn",
            Field::UserAgent => "user_agent",
            Field::Application => "application",
            Field::ClientApp => "client_app",
            Field::DeviceId => "device_id",
            Field::SessionId => "session_id",
            Field::CorrelationId => "correlation_id",
            Field::RequestId => "request_id",
            Field::TokenId => "token_id",
            Field::RecordId => "record_id",
            Field::Object => "object",
            Field::IpCountry => "ip.country",
            Field::IpAsn => "ip.asn",
            Field::IpAsOrg => "ip.as_org",
            Field::IpNetwork => "ip.network",
            Field::IpProvider => "ip.provider",
            Field::IpTrustedCountry => "ip.trusted_country",
            Field::IpScope => "ip.scope",
            Field::IpShared => "ip.shared",
            Field::IpAccounts => "ip.accounts",
            Field::IpSprayAccounts => "ip.spray_accounts",
            Field::IpEveryday => "ip.everyday",
            Field::Role => "role",
        };
        f.write_str(s)
    }
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Field, D::Error> {
        let s = String::deserialize(d)?;
        Field::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Source;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for n in NAMES {
            let f = Field::parse(n).expect("listed names parse");
            assert_eq!(f.to_string(), *n);
        }
        assert_eq!(
            Field::parse("attr.param.MoveToFolder").map(|f| f.to_string()),
            Ok("attr.param.MoveToFolder".to_string())
        );
        let err = Field::parse("ip.cuntry").expect_err("typo is an error");
        assert!(err.contains("ip.country"), "{err}");
        assert!(Field::parse("attr.").is_err());
    }

    #[test]
    fn repeated_attributes_give_every_value() {
        let mut e = Event::new(
            chrono::Utc::now(),
            Source::Audit,
            "u".into(),
            "MailItemsAccessed".into(),
        );
        e.attrs.push(("message_id".into(), "<a>".into()));
        e.attrs.push(("message_id".into(), "<b>".into()));
        e.attrs.push(("folder".into(), "".into()));
        let v = EventView {
            event: &e,
            ip: None,
            role: Role::Actor,
            everyday: false,
        };
        let f = Field::parse("attr.message_id").expect("valid");
        assert_eq!(f.count(&v), 2);
        assert!(f.all(&v, |x| x.to_text().starts_with('<')));
        let folder = Field::parse("attr.folder").expect("valid");
        assert_eq!(folder.count(&v), 0, "empty text is no value");
        assert!(!folder.all(&v, |_| true));
    }
}
