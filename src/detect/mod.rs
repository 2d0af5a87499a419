//! Detect: takeover indicators as rules. The engine is generic; what to look for lives in the
//! YAML files of `rules/` (built in) and in the investigator's own rule folders.
//!
//! [`run`] evaluates every rule over each user's events, users in parallel, and returns the
//! findings in a total order, so 1 or N threads give the same output. A user's events are the
//! ones they did (`role: actor`), the messages they received (`recipient`) and what others did
//! to their account (`target`: an admin's password reset names them in `attr.target`).

pub mod baseline;
pub mod builtin;
pub mod engine;
pub mod field;
pub mod finding;
pub mod matcher;
pub mod rule;
pub mod sigma;
pub mod tenant;
pub mod window;

pub use builtin::{parse_override, Overrides, RuleSet, BUILTIN};
pub use engine::{cited, run, run_accounts, run_in_tenant, with_peers, Peaks, PEERS_MIN_ACCOUNTS};
pub use finding::{Evidence, Finding};
pub use rule::{Logic, Rule, RuleError, Severity};
pub use tenant::tenant_domains;
