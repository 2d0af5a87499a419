//! Command-line values of core types ([`Source`], [`Severity`], [`DateOrder`]): the core types
//! parse themselves (`FromStr`) and know nothing of clap; here each gets its possible values,
//! with the help text `--help` lists for them.

use std::str::FromStr;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use crate::detect::Severity;
use crate::model::Source;
use crate::normalize::time::DateOrder;

/// Accepts exactly the values given (listed in `--help`), then parses the one chosen.
fn one_of<T>(values: impl IntoIterator<Item = PossibleValue>) -> impl TypedValueParser<Value = T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Debug,
{
    PossibleValuesParser::new(values).map(|s: String| {
        s.parse::<T>()
            .expect("every possible value is a name the type parses")
    })
}

/// `--source`.
pub fn source() -> impl TypedValueParser<Value = Source> {
    one_of(Source::ALL.map(|s| {
        PossibleValue::new(s.as_str()).help(match s {
            Source::Signin => "Entra ID interactive sign-in",
            Source::Noninteractive => {
                "Entra ID non-interactive sign-in (token refresh by a client on the user's behalf)"
            }
            Source::Audit => "Purview unified audit log record",
            Source::Messagetrace => "Exchange Online message trace row (one per recipient)",
            Source::Directory => {
                "Entra ID audit log record (directory audit): who changed what in the directory"
            }
            Source::Risk => "Entra ID Protection risk detection or risky-user state",
        })
    }))
}

/// `--min-severity`, `--fail-on`.
pub fn severity() -> impl TypedValueParser<Value = Severity> {
    one_of(Severity::ALL.map(|s| PossibleValue::new(s.as_str())))
}

/// `--date-order`.
pub fn date_order() -> impl TypedValueParser<Value = DateOrder> {
    one_of(DateOrder::ALL.map(|d| {
        PossibleValue::new(d.as_str()).help(match d {
            DateOrder::Auto => {
                "Decide per file: a first number above 12 means day first, a second above 12 means month first; when every value is ambiguous, month first (the en-US export default) with a note"
            }
            DateOrder::Mdy => "Month/day/year (en-US)",
            DateOrder::Dmy => "Day/month/year (en-GB, fr-FR, de-DE, en-AU...)",
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_types_parse_their_names_in_any_case() {
        for s in Source::ALL {
            assert_eq!(s.as_str().to_uppercase().parse::<Source>(), Ok(s));
        }
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
        }
        assert_eq!("High".parse::<Severity>(), Ok(Severity::High));
        assert_eq!("DMY".parse::<DateOrder>(), Ok(DateOrder::Dmy));
        assert!("sign-in".parse::<Source>().is_err());
        assert!("severe".parse::<Severity>().is_err());
    }
}
