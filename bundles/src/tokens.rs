//! The client-token entries of a kit: `tokens/clients.json` and `tokens/revoked.json`.
//!
//! The kit builder writes them, the importer reads them. Tokens are compact EdDSA JWTs
//! (`signing::jwt`) signed by the vendor key; the importer verifies each and re-signs it
//! with the appliance key. Both files are canonical JSON, sorted, so the same inputs
//! give the same bytes.
use serde::{Deserialize, Serialize};

/// Entry path of the vendor-signed client tokens.
pub const CLIENTS_PATH: &str = "tokens/clients.json";
/// Entry path of the revocation list.
pub const REVOKED_PATH: &str = "tokens/revoked.json";
/// Most clients one kit may carry.
pub const MAX_CLIENTS: usize = 10_000;
/// Most revoked token ids one kit may carry.
pub const MAX_REVOKED: usize = 100_000;
/// Largest token accepted (bytes).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What a revocation names: a whole client, or one token. Kits revoke tokens
/// (`tokens/revoked.json`); an appliance operator may revoke either locally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevocationKind {
    /// A client (token `sub`): every token of it.
    Client,
    /// One token, by its `jti`.
    Token,
}

impl RevocationKind {
    /// `client` or `token`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Token => "token",
        }
    }

    /// Parses `client` or `token`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client" => Some(Self::Client),
            "token" => Some(Self::Token),
            _ => None,
        }
    }
}

/// `tokens/clients.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTokens {
    /// One token per client, sorted by client id.
    pub clients: Vec<ClientToken>,
}

/// One client's token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientToken {
    /// The client id (the token's `sub`).
    pub id: String,
    /// The vendor-signed JWT.
    pub token: String,
}

/// `tokens/revoked.json`: token ids (`jti`) that must no longer be accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocations {
    /// Revoked `jti` values, sorted and unique.
    pub revoked: Vec<String>,
}

/// Whether `id` is acceptable as a client id: 1–64 ASCII letters, digits, `.`, `_`, `-`,
/// starting with a letter or digit. Client ids appear in URLs, file names and logs.
pub fn valid_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        for ok in ["ci-frontend", "a", "team_7.build", &"x".repeat(64)] {
            assert!(valid_client_id(ok), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(!valid_client_id(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let r: Result<ClientTokens, _> = serde_json::from_str(r#"{"clients":[],"extra":1}"#);
        assert!(r.is_err());
        let r: Result<ClientTokens, _> =
            serde_json::from_str(r#"{"clients":[{"id":"a","token":"t"}]}"#);
        assert_eq!(r.expect("valid").clients[0].id, "a");
    }
}
