//! Operator authentication: bearer tokens with roles, optionally scoped to zones.
//!
//! A token reads `aq1.<id>.<secret>`. The store keeps, under collection `tokens`, key `<id>`:
//! name, role, zones, creation time and SHA-256 of the secret — never the secret. Checking a token
//! compares digests in constant time. Roles are ordered: `viewer` < `operator` < `admin`; an
//! endpoint names the least role it needs. A token with zones sees only devices and alerts of
//! those zones, and may not act outside them.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

/// Roles, least to most privileged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read fleet state, alerts, reports.
    Viewer,
    /// Also acknowledge alerts, challenge devices, assign zones, propose policies.
    Operator,
    /// Also manage tokens, activate policies, revoke devices, change zones and trust.
    Admin,
}

impl Role {
    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "operator" => Some(Role::Operator),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A stored token (no secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Public id.
    pub id: String,
    /// Who it belongs to.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Zones it is limited to (empty: all zones).
    pub zones: Vec<String>,
    /// SHA-256 of the secret (hex).
    pub secret_sha256: String,
    /// Created (ms).
    pub created_ms: u64,
}

/// Who is calling, once authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Token id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Zones (empty: all).
    pub zones: Vec<String>,
}

impl Principal {
    /// True when the principal may see a device in `zone`.
    pub fn sees_zone(&self, zone: Option<&str>) -> bool {
        self.zones.is_empty() || zone.is_some_and(|z| self.zones.iter().any(|x| x == z))
    }
}

/// Makes a new token: returns the secret text (shown once) and the record to store.
pub fn mint(name: &str, role: Role, zones: Vec<String>, now_ms: u64) -> (String, TokenRecord) {
    let id = hex::encode(&crate::keys::random32()[..6]);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crate::keys::random32());
    let rec = TokenRecord {
        id: id.clone(),
        name: name.into(),
        role,
        zones,
        secret_sha256: hex::encode(Sha256::digest(secret.as_bytes())),
        created_ms: now_ms,
    };
    (format!("aq1.{id}.{secret}"), rec)
}

/// Splits a presented token into (id, secret).
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix("aq1.")?;
    let (id, secret) = rest.split_once('.')?;
    if id.is_empty() || id.len() > 32 || secret.is_empty() || secret.len() > 128 {
        return None;
    }
    Some((id, secret))
}

/// Checks a presented secret against the stored digest, in constant time.
pub fn check(rec: &TokenRecord, secret: &str) -> bool {
    let got = Sha256::digest(secret.as_bytes());
    match hex::decode(&rec.secret_sha256) {
        Ok(want) if want.len() == got.len() => want.as_slice().ct_eq(&got[..]).into(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_parse_check() {
        let (text, rec) = mint("alice", Role::Operator, vec!["sis".into()], 1);
        let (id, secret) = parse(&text).unwrap();
        assert_eq!(id, rec.id);
        assert!(check(&rec, secret));
        assert!(!check(&rec, "nope"));
        assert!(!rec.secret_sha256.contains(secret));
        assert!(parse("bearer x").is_none());
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
        let p = Principal {
            id: rec.id.clone(),
            name: rec.name.clone(),
            role: rec.role,
            zones: rec.zones.clone(),
        };
        assert!(p.sees_zone(Some("sis")) && !p.sees_zone(Some("dmz")) && !p.sees_zone(None));
    }
}
