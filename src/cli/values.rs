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

/// A size in bytes: a number with an optional unit, `K`, `M`, `G` or `T` (powers of 1024; a
/// trailing `B` or `iB` is allowed), as `--memory-budget 2G` or `512MiB`.
pub fn byte_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("expected a size such as 512M or 2G, found {s:?}"))?;
    let unit = unit.trim().to_ascii_uppercase();
    let unit = unit.trim_end_matches('B').trim_end_matches('I');
    let scale: u64 = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("unknown unit in {s:?}: use K, M, G or T")),
    };
    let bytes = number * scale as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(format!("{s:?} is not a usable size"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod size_tests {
    use super::byte_size;

    #[test]
    fn sizes_read_with_units() {
        assert_eq!(byte_size("1"), Ok(1));
        assert_eq!(byte_size("512M"), Ok(512 << 20));
        assert_eq!(byte_size("2G"), Ok(2 << 30));
        assert_eq!(byte_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(byte_size(" 64 kb "), Ok(64 << 10));
        assert!(byte_size("0").is_err());
        assert!(byte_size("ten").is_err());
        assert!(byte_size("5X").is_err());
    }
}
