//! Sealing personal data at rest: reporters' contact details are encrypted with
//! XChaCha20-Poly1305 under the deployment's data key before they reach the store, and opened
//! only for roles that may see them. The case id is bound in as associated data, so a sealed
//! value copied onto another case does not open.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// How to reach the person who reported a case. Every field is optional: most residents give
/// only a phone number, many give nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Reporter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the reporter wants to be told by e-mail when the case is accepted, closed or
    /// reopened. Leaving an address asks for it unless this is `false` (the report form's
    /// box, unticked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<bool>,
}

impl Reporter {
    /// Problems with the fields, each (field, problem).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(n) = &self.name
            && (n.trim().is_empty() || n.chars().count() > 50)
        {
            out.push(("reporter.name".to_owned(), "1 to 50 characters".to_owned()));
        }
        if let Some(p) = &self.phone {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            let ok = (5..=20).contains(&digits)
                && p.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')'));
            if !ok {
                out.push((
                    "reporter.phone".to_owned(),
                    format!("`{p}` is not a phone number"),
                ));
            }
        }
        if let Some(e) = &self.email
            && !(e.len() <= 254
                && e.split_once('@')
                    .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')))
        {
            out.push((
                "reporter.email".to_owned(),
                format!("`{e}` is not an e-mail address"),
            ));
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.email.is_none()
    }
}

/// The deployment's data key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    /// A key of its own, derived from the data key, for the digests of reporters' secrets: a
    /// copy of the database without the data key cannot test guesses against them.
    secrets: [u8; 32],
}

impl Sealer {
    /// From 32 bytes written as 64 hex digits.
    pub fn from_hex(hex: &str) -> AppResult<Sealer> {
        let hex = hex.trim();
        let bad = || AppError::Invalid("the data key must be 64 hex digits (32 bytes)".into());
        if hex.len() != 64 {
            return Err(bad());
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        let secrets = {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            h.update(b"civicgrid reporter secrets\0");
            h.update(key);
            h.finalize().into()
        };
        Ok(Sealer {
            cipher: XChaCha20Poly1305::new(&key.into()),
            secrets,
        })
    }

    /// A new random key, as hex, for a key file.
    pub fn generate_hex() -> String {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        key.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A keyed digest of a person's identifier (a phone, a name) that is the same wherever
    /// it is taken, so that records about the same person can be matched without keeping
    /// who they are: a database without the data key cannot reverse or test it.
    pub fn blind_key(&self, identifier: &str) -> String {
        use hmac::Mac;
        use sha2::Sha256;
        let Ok(mut mac) = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&self.secrets) else {
            return String::new();
        };
        mac.update(b"civicgrid party\0");
        mac.update(identifier.as_bytes());
        let bytes = mac.finalize().into_bytes();
        // 128 bits: enough to never collide among a deployment's parties.
        bytes[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A token for a link sent to one person about one record (`purpose` keeps the kinds of
    /// link apart): it proves the holder got the message, and only the data key makes one.
    pub fn link_token(&self, purpose: &str, id: &uuid::Uuid) -> String {
        use hmac::Mac;
        use sha2::Sha256;
        let Ok(mut mac) = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&self.secrets) else {
            return String::new();
        };
        mac.update(b"civicgrid link\0");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(id.as_bytes());
        // 128 bits.
        mac.finalize().into_bytes()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `token` is the link token for `purpose` and `id`.
    pub fn is_link_token(&self, purpose: &str, id: &uuid::Uuid, token: &str) -> bool {
        same_in_constant_time(&self.link_token(purpose, id), token)
    }

    /// A keyed digest of a file, to recognise it again without a plain hash of its content.
    pub fn keyed_digest(&self, data: &[u8]) -> String {
        use hmac::Mac;
        use sha2::Sha256;
        let Ok(mut mac) = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&self.secrets) else {
            return String::new();
        };
        mac.update(b"civicgrid file\0");
        mac.update(data);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Seals bytes (a scanned document) bound to the record they belong to: the nonce, then
    /// the ciphertext.
    pub fn seal_bytes(&self, owner: &uuid::Uuid, data: &[u8]) -> AppResult<Vec<u8>> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: data,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| AppError::Invalid("sealing failed".into()))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(out)
    }

    pub fn open_bytes(&self, owner: &uuid::Uuid, sealed: &[u8]) -> AppResult<Vec<u8>> {
        if sealed.len() < 24 {
            return Err(AppError::Invalid("a sealed file is too short".into()));
        }
        let (nonce, body) = sealed.split_at(24);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| {
                AppError::Invalid("the sealed file cannot be opened with this data key".into())
            })
    }

    pub fn seal(&self, case_id: &uuid::Uuid, reporter: &Reporter) -> AppResult<String> {
        self.seal_json(case_id, reporter)
    }

    pub fn open(&self, case_id: &uuid::Uuid, sealed: &str) -> AppResult<Reporter> {
        self.open_json(case_id, sealed)
    }

    /// Seals any value bound to the record it belongs to (a case, a member, a household, a
    /// volunteer): a sealed value copied onto another record does not open.
    pub fn seal_json<T: Serialize>(&self, owner: &uuid::Uuid, value: &T) -> AppResult<String> {
        let plain = serde_json::to_vec(value).map_err(|e| AppError::Invalid(e.to_string()))?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &plain,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| AppError::Invalid("sealing failed".into()))?;
        let mut out = String::from("v1:");
        for b in nonce.iter().chain(sealed.iter()) {
            out.push_str(&format!("{b:02x}"));
        }
        Ok(out)
    }

    pub fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        owner: &uuid::Uuid,
        sealed: &str,
    ) -> AppResult<T> {
        let corrupt =
            || AppError::Invalid("the sealed contact cannot be opened with this data key".into());
        let hex = sealed.strip_prefix("v1:").ok_or_else(corrupt)?;
        if hex.len() % 2 != 0 || hex.len() < 48 {
            return Err(corrupt());
        }
        let bytes: Vec<u8> = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| corrupt())?;
        let (nonce, body) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| corrupt())?;
        serde_json::from_slice(&plain).map_err(|_| corrupt())
    }
}

/// The digest kept of a reporter's secret, bound to the case so that a digest copied onto
/// another case does not match there: an HMAC under a key derived from the data key when the
/// deployment has one (`h1:`), so that a stolen database alone cannot test guesses; a plain
/// SHA-256 otherwise. The secret carries 50 random bits and guessing is rate-limited.
pub fn reporter_key(sealer: Option<&Sealer>, case: &uuid::Uuid, secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    if let Some(s) = sealer {
        use hmac::Mac;
        // HMAC takes a key of any length, so this always holds.
        if let Ok(mut mac) = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&s.secrets) {
            mac.update(case.as_bytes());
            mac.update(secret.as_bytes());
            return format!("h1:{}", hex(&mac.finalize().into_bytes()));
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(b"civicgrid reporter secret\0");
    hasher.update(case.as_bytes());
    hasher.update(secret.as_bytes());
    hex(&hasher.finalize())
}

/// Whether `secret`, as the reporter typed it, is the one issued with the case's receipt.
pub fn is_reporter(
    sealer: Option<&Sealer>,
    case: &civicgrid_domain::case::Case,
    secret: &str,
) -> bool {
    let (Some(kept), Some(secret)) = (
        &case.reporter_key,
        civicgrid_domain::case::normalize_reporter_secret(secret),
    ) else {
        return false;
    };
    let given = reporter_key(sealer, &case.id, &secret);
    same_in_constant_time(kept, &given)
}

/// Compares without an early exit, so the time taken says nothing of the secret.
pub fn same_in_constant_time(a: &str, b: &str) -> bool {
    !a.is_empty()
        && a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_digested_under_the_data_key_when_there_is_one() {
        let key = Sealer::from_hex(&Sealer::generate_hex()).expect("key");
        let other = Sealer::from_hex(&Sealer::generate_hex()).expect("key");
        let id = uuid::Uuid::from_u128(7);
        let keyed = reporter_key(Some(&key), &id, "7K2QH-3MXRA");
        assert!(keyed.starts_with("h1:") && keyed.len() == 3 + 64);
        assert_ne!(keyed, reporter_key(Some(&other), &id, "7K2QH-3MXRA"));
        assert_ne!(keyed, reporter_key(None, &id, "7K2QH-3MXRA"));
        assert_ne!(
            keyed,
            reporter_key(Some(&key), &uuid::Uuid::from_u128(8), "7K2QH-3MXRA")
        );
        let mut case: civicgrid_domain::case::Case = serde_json::from_value(serde_json::json!({
            "id": id, "receipt_code": "0000-0007", "public_id": "000000000007", "reporter_key": keyed,
            "channel": "web", "description": "x", "address": null, "location": null, "grid": null,
            "region": "440305", "category": null, "attributes": {}, "priority": "normal",
            "reporter_sealed": null, "routed_units": [], "routing": "", "reported_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "clock": null,
            "state": civicgrid_domain::case::CaseState::new()
        }))
        .expect("case");
        assert!(
            is_reporter(Some(&key), &case, "7k2qh3mxra"),
            "typed as people type"
        );
        assert!(!is_reporter(Some(&other), &case, "7K2QH-3MXRA"));
        assert!(!is_reporter(None, &case, "7K2QH-3MXRA"));
        assert!(!is_reporter(Some(&key), &case, "7K2QH-3MXRB"));
        case.reporter_key = None;
        assert!(
            !is_reporter(Some(&key), &case, "7K2QH-3MXRA"),
            "no secret was issued"
        );
    }

    #[test]
    fn sealed_contacts_open_only_with_the_key_and_the_case() {
        let sealer = Sealer::from_hex(&Sealer::generate_hex()).expect("key");
        let other = Sealer::from_hex(&Sealer::generate_hex()).expect("key");
        let id = uuid::Uuid::from_u128(1);
        let r = Reporter {
            name: Some("张三".into()),
            phone: Some("13800138000".into()),
            email: None,
            notify: None,
        };
        let sealed = sealer.seal(&id, &r).expect("seal");
        assert!(!sealed.contains("13800138000") && !sealed.contains("张三"));
        assert_eq!(sealer.open(&id, &sealed).expect("open"), r);
        assert!(other.open(&id, &sealed).is_err(), "another key");
        assert!(
            sealer.open(&uuid::Uuid::from_u128(2), &sealed).is_err(),
            "another case"
        );
        assert_ne!(
            sealer.seal(&id, &r).expect("seal"),
            sealed,
            "fresh nonce each time"
        );
        assert!(Sealer::from_hex("abc").is_err());
    }

    #[test]
    fn reporter_fields_are_checked() {
        assert!(
            Reporter {
                phone: Some("138-0013-8000".into()),
                ..Default::default()
            }
            .problems()
            .is_empty()
        );
        assert_eq!(
            Reporter {
                phone: Some("call me".into()),
                ..Default::default()
            }
            .problems()
            .len(),
            1
        );
        assert_eq!(
            Reporter {
                email: Some("nobody".into()),
                ..Default::default()
            }
            .problems()
            .len(),
            1
        );
    }
}
