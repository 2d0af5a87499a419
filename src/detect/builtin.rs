//! The built-in rules (every file of `rules/`, embedded), parameter overrides (`--param`), and
//! the rule set in force: built-ins, the investigator's folders and Sigma rules.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_yaml_ng::Value as Yaml;

use super::rule::{self, Rule, RuleError};
use super::sigma;

/// The built-in rules: every file of `rules/`, embedded. `tests/rules.rs` checks that this list
/// and the folder agree.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "rules/aitm-officehome-no-device.yaml",
        include_str!("../../rules/aitm-officehome-no-device.yaml"),
    ),
    (
        "rules/audit-tampering.yaml",
        include_str!("../../rules/audit-tampering.yaml"),
    ),
    (
        "rules/concurrent-sessions.yaml",
        include_str!("../../rules/concurrent-sessions.yaml"),
    ),
    (
        "rules/device-code-flow.yaml",
        include_str!("../../rules/device-code-flow.yaml"),
    ),
    (
        "rules/external-sharing-link.yaml",
        include_str!("../../rules/external-sharing-link.yaml"),
    ),
    (
        "rules/first-seen-asn.yaml",
        include_str!("../../rules/first-seen-asn.yaml"),
    ),
    (
        "rules/first-seen-country.yaml",
        include_str!("../../rules/first-seen-country.yaml"),
    ),
    (
        "rules/hosting-vpn-signin.yaml",
        include_str!("../../rules/hosting-vpn-signin.yaml"),
    ),
    (
        "rules/impossible-travel.yaml",
        include_str!("../../rules/impossible-travel.yaml"),
    ),
    (
        "rules/inbox-rule-suspicious.yaml",
        include_str!("../../rules/inbox-rule-suspicious.yaml"),
    ),
    (
        "rules/legacy-auth.yaml",
        include_str!("../../rules/legacy-auth.yaml"),
    ),
    (
        "rules/mailbox-forwarding-external.yaml",
        include_str!("../../rules/mailbox-forwarding-external.yaml"),
    ),
    (
        "rules/mailbox-permission-grant.yaml",
        include_str!("../../rules/mailbox-permission-grant.yaml"),
    ),
    (
        "rules/mass-deletion.yaml",
        include_str!("../../rules/mass-deletion.yaml"),
    ),
    (
        "rules/mass-file-download.yaml",
        include_str!("../../rules/mass-file-download.yaml"),
    ),
    (
        "rules/mass-mail-read.yaml",
        include_str!("../../rules/mass-mail-read.yaml"),
    ),
    (
        "rules/password-spray-source-success.yaml",
        include_str!("../../rules/password-spray-source-success.yaml"),
    ),
    (
        "rules/password-spray-target.yaml",
        include_str!("../../rules/password-spray-target.yaml"),
    ),
    (
        "rules/hiding-rule-then-sends.yaml",
        include_str!("../../rules/hiding-rule-then-sends.yaml"),
    ),
    (
        "rules/inbox-rule-hides-security-mail.yaml",
        include_str!("../../rules/inbox-rule-hides-security-mail.yaml"),
    ),
    (
        "rules/legacy-auth-from-hosting.yaml",
        include_str!("../../rules/legacy-auth-from-hosting.yaml"),
    ),
    (
        "rules/risky-signin-then-persistence.yaml",
        include_str!("../../rules/risky-signin-then-persistence.yaml"),
    ),
    (
        "rules/mfa-fatigue-then-approval.yaml",
        include_str!("../../rules/mfa-fatigue-then-approval.yaml"),
    ),
    (
        "rules/mass-send.yaml",
        include_str!("../../rules/mass-send.yaml"),
    ),
    (
        "rules/mail-sync-unusual.yaml",
        include_str!("../../rules/mail-sync-unusual.yaml"),
    ),
    (
        "rules/mfa-fatigue.yaml",
        include_str!("../../rules/mfa-fatigue.yaml"),
    ),
    (
        "rules/mfa-method-added-after-risky-signin.yaml",
        include_str!("../../rules/mfa-method-added-after-risky-signin.yaml"),
    ),
    (
        "rules/mfa-method-changed.yaml",
        include_str!("../../rules/mfa-method-changed.yaml"),
    ),
    (
        "rules/oauth-consent.yaml",
        include_str!("../../rules/oauth-consent.yaml"),
    ),
    (
        "rules/app-credentials-added.yaml",
        include_str!("../../rules/app-credentials-added.yaml"),
    ),
    (
        "rules/owa-via-proxy.yaml",
        include_str!("../../rules/owa-via-proxy.yaml"),
    ),
    (
        "rules/password-reset.yaml",
        include_str!("../../rules/password-reset.yaml"),
    ),
    (
        "rules/password-spray-success.yaml",
        include_str!("../../rules/password-spray-success.yaml"),
    ),
    (
        "rules/risky-signin.yaml",
        include_str!("../../rules/risky-signin.yaml"),
    ),
    (
        "rules/role-assignment.yaml",
        include_str!("../../rules/role-assignment.yaml"),
    ),
    (
        "rules/same-subject-many-messages.yaml",
        include_str!("../../rules/same-subject-many-messages.yaml"),
    ),
    (
        "rules/sent-items-deleted.yaml",
        include_str!("../../rules/sent-items-deleted.yaml"),
    ),
    (
        "rules/session-multiple-networks.yaml",
        include_str!("../../rules/session-multiple-networks.yaml"),
    ),
    (
        "rules/signin-after-containment.yaml",
        include_str!("../../rules/signin-after-containment.yaml"),
    ),
    (
        "rules/suspicious-user-agent.yaml",
        include_str!("../../rules/suspicious-user-agent.yaml"),
    ),
    (
        "rules/third-party-mail-client.yaml",
        include_str!("../../rules/third-party-mail-client.yaml"),
    ),
    (
        "rules/token-refresh-elsewhere.yaml",
        include_str!("../../rules/token-refresh-elsewhere.yaml"),
    ),
    (
        "rules/transport-rule.yaml",
        include_str!("../../rules/transport-rule.yaml"),
    ),
    (
        "rules/conditional-access-changed.yaml",
        include_str!("../../rules/conditional-access-changed.yaml"),
    ),
    (
        "rules/domain-federation-changed.yaml",
        include_str!("../../rules/domain-federation-changed.yaml"),
    ),
    (
        "rules/guest-invited.yaml",
        include_str!("../../rules/guest-invited.yaml"),
    ),
    (
        "rules/admin-password-reset.yaml",
        include_str!("../../rules/admin-password-reset.yaml"),
    ),
    (
        "rules/user-risk-dismissed.yaml",
        include_str!("../../rules/user-risk-dismissed.yaml"),
    ),
    (
        "rules/risk-detection.yaml",
        include_str!("../../rules/risk-detection.yaml"),
    ),
    (
        "rules/risk-detection-high-signal.yaml",
        include_str!("../../rules/risk-detection-high-signal.yaml"),
    ),
    (
        "rules/account-confirmed-compromised.yaml",
        include_str!("../../rules/account-confirmed-compromised.yaml"),
    ),
    (
        "rules/mfa-method-removed.yaml",
        include_str!("../../rules/mfa-method-removed.yaml"),
    ),
    (
        "rules/mailbox-legacy-protocol-enabled.yaml",
        include_str!("../../rules/mailbox-legacy-protocol-enabled.yaml"),
    ),
    (
        "rules/dlp-retention-policy-removed.yaml",
        include_str!("../../rules/dlp-retention-policy-removed.yaml"),
    ),
    (
        "rules/mass-account-deletion.yaml",
        include_str!("../../rules/mass-account-deletion.yaml"),
    ),
    (
        "rules/recon-tool.yaml",
        include_str!("../../rules/recon-tool.yaml"),
    ),
    (
        "rules/scripted-directory-access.yaml",
        include_str!("../../rules/scripted-directory-access.yaml"),
    ),
];

/// Parameter overrides per rule id: `--param RULE.NAME=VALUE`.
pub type Overrides = BTreeMap<String, BTreeMap<String, Yaml>>;

/// Parses `RULE.NAME=VALUE` (VALUE read as YAML: `25`, `2h`, `[a, b]`).
pub fn parse_override(s: &str) -> Result<(String, String, Yaml), String> {
    let shape = "expected RULE.NAME=VALUE, such as mass-send.min_messages=20";
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{shape}, found {s:?}"))?;
    let (rule, name) = key
        .trim()
        .split_once('.')
        .ok_or_else(|| format!("{shape}, found {s:?}"))?;
    let y: Yaml =
        serde_yaml_ng::from_str(value).map_err(|e| format!("{s}: value is not YAML: {e}"))?;
    Ok((rule.to_string(), name.to_string(), y))
}

/// The rules in force: built-ins, then each folder's rules (a rule with a built-in's id
/// replaces it), minus the disabled ones. Sorted by id.
#[derive(Clone, Debug)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Sigma rules given that are not evaluated, with the reason.
    pub skipped: Vec<sigma::Skipped>,
}

impl RuleSet {
    /// The built-in rules with their defaults.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        RuleSet::load(&[], &[], &Overrides::new())
    }

    /// Built-ins plus folders; `disable` names rule ids to leave out (an unknown id is an error:
    /// a typo must not leave a rule running); `overrides` tune parameters.
    pub fn load(
        dirs: &[PathBuf],
        disable: &[String],
        overrides: &Overrides,
    ) -> Result<RuleSet, RuleError> {
        RuleSet::load_with_sigma(dirs, sigma::Loaded::default(), disable, overrides)
    }

    /// As [`RuleSet::load`], with Sigma rules (`--sigma`) joining the native ones; a Sigma rule
    /// can be disabled by its id like any other, and has no parameters to tune.
    pub fn load_with_sigma(
        dirs: &[PathBuf],
        sigma: sigma::Loaded,
        disable: &[String],
        overrides: &Overrides,
    ) -> Result<RuleSet, RuleError> {
        let empty = BTreeMap::new();
        let mut by_id: BTreeMap<String, Rule> = BTreeMap::new();
        for (name, text) in BUILTIN {
            let id = rule::rule_id_hint(text);
            let o = id
                .as_deref()
                .and_then(|i| overrides.get(i))
                .unwrap_or(&empty);
            let r = rule::parse(&format!("{name} (built in)"), text, o)?;
            by_id.insert(r.meta.id.clone(), r);
        }
        for dir in dirs {
            for r in rule::load_dir(dir, overrides)? {
                by_id.insert(r.meta.id.clone(), r);
            }
        }
        for r in sigma.rules {
            if let Some(id) = overrides.keys().find(|k| **k == r.meta.id) {
                return Err(RuleError::Invalid {
                    file: "--param".into(),
                    line: None,
                    field: id.clone(),
                    message: format!(
                        "`{id}` is a Sigma rule ({}); Sigma rules have no parameters",
                        r.meta.file
                    ),
                });
            }
            by_id.insert(r.meta.id.clone(), r);
        }
        for id in overrides.keys() {
            if !by_id.contains_key(id) {
                return Err(RuleError::Invalid {
                    file: "--param".into(),
                    line: None,
                    field: id.clone(),
                    message: format!("no rule `{id}` (see `breachline rules list`)"),
                });
            }
        }
        for id in disable {
            if by_id.remove(id).is_none() {
                return Err(RuleError::Invalid {
                    file: "--disable".into(),
                    line: None,
                    field: id.clone(),
                    message: format!("no rule `{id}` (see `breachline rules list`)"),
                });
            }
        }
        Ok(RuleSet {
            rules: by_id.into_values().collect(),
            skipped: sigma.skipped,
        })
    }

    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.meta.id == id)
    }
}
