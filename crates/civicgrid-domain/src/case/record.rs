//! The case as a whole: what was reported, where, how it was routed, and its loop state.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::CaseState;
use crate::calendar::TimeLimit;
use crate::catalogue::{CategoryCode, Priority, Stage};
use crate::territory::{GridCode, RegionCode};

/// How a case entered the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Web,
    Open311,
    Hotline,
    Patrol,
    Import,
}

impl Channel {
    pub const ALL: &[Channel] = &[
        Channel::Web,
        Channel::Open311,
        Channel::Hotline,
        Channel::Patrol,
        Channel::Import,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::Open311 => "open311",
            Channel::Hotline => "hotline",
            Channel::Patrol => "patrol",
            Channel::Import => "import",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Channel::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!("unknown channel `{s}` (expected web, open311, hotline, patrol or import)")
            })
    }
}

/// The running clock of the current stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageClock {
    pub stage: Stage,
    pub limit: TimeLimit,
    pub started_at: Timestamp,
    /// The deadline, already moved by extensions and past pauses.
    pub due_at: Timestamp,
    /// Set while the case is shelved: the clock stopped then.
    pub paused_at: Option<Timestamp>,
}

/// A case with everything the loop knows about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: Uuid,
    /// The reporter's code to follow the case (see [`receipt_code`]); never on a public list.
    pub receipt_code: String,
    /// The case's number on public lists, maps and Open311 (see [`public_id`]): it grants
    /// nothing and says nothing about the receipt code.
    pub public_id: String,
    /// The digest of the reporter's secret (shown once with the receipt), which together with
    /// the receipt code lets the reporter evaluate the case or add to it. None for cases taken
    /// in before secrets were issued.
    pub reporter_key: Option<String>,
    pub channel: Channel,
    pub description: String,
    pub address: Option<String>,
    /// WGS84 (lon, lat).
    pub location: Option<(f64, f64)>,
    pub grid: Option<GridCode>,
    /// The region the case belongs to (its grid's region), for scoping and distribution.
    pub region: RegionCode,
    pub category: Option<CategoryCode>,
    pub attributes: BTreeMap<String, String>,
    pub priority: Priority,
    /// The reporter's contact details, sealed (encrypted) by the application; never plain.
    pub reporter_sealed: Option<String>,
    /// The units the responsibility list names for the case, primary first (首接负责); the
    /// dispatcher dispatches to them unless it decides otherwise.
    pub routed_units: Vec<String>,
    /// Why the case went to its units, as routing explained it.
    pub routing: String,
    pub reported_at: Timestamp,
    pub updated_at: Timestamp,
    pub clock: Option<StageClock>,
    pub state: CaseState,
}

/// Crockford's base-32 alphabet: no I, L, O or U, so a code read out on the phone is not
/// mistaken.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The public receipt code of a case: 40 random bits of its id, as 8 characters in two groups
/// (e.g. `K7QH-3MXR`).
pub fn receipt_code(id: &Uuid) -> String {
    let bits = id.as_u128() & ((1u128 << 40) - 1);
    let mut out = String::with_capacity(9);
    for i in (0..8).rev() {
        out.push(ALPHABET[((bits >> (i * 5)) & 31) as usize] as char);
        if i == 4 {
            out.push('-');
        }
    }
    out
}

/// Reads a receipt code as a person may type it: any case, with or without the dash, with
/// O for 0 and I or L for 1.
pub fn normalize_receipt_code(input: &str) -> Option<String> {
    read_crockford(input, 8).map(|c| grouped(&c, 4))
}

/// The public number of a case: 60 random bits as 12 characters, unrelated to its id and its
/// receipt code, so showing it lets nobody follow or act on the case as its reporter.
pub fn public_id(random: u64) -> String {
    crockford(random & ((1 << 60) - 1), 12)
}

/// Reads a public number as typed (any case, O for 0, I or L for 1).
pub fn normalize_public_id(input: &str) -> Option<String> {
    read_crockford(input, 12)
}

/// The reporter's secret: 50 random bits as 10 characters in two groups (`7K2QH-3MXRA`),
/// shown once with the receipt; only its digest is kept.
pub fn reporter_secret(random: u64) -> String {
    grouped(&crockford(random & ((1 << 50) - 1), 10), 5)
}

/// Reads a reporter's secret as typed, in the form it was issued (with the dash).
pub fn normalize_reporter_secret(input: &str) -> Option<String> {
    read_crockford(input, 10).map(|c| grouped(&c, 5))
}

/// `bits` as `len` Crockford base-32 characters, most significant first.
fn crockford(bits: u64, len: u32) -> String {
    (0..len)
        .rev()
        .map(|i| ALPHABET[((bits >> (i * 5)) & 31) as usize] as char)
        .collect()
}

fn grouped(code: &str, at: usize) -> String {
    format!("{}-{}", &code[..at], &code[at..])
}

/// `len` characters of Crockford's alphabet as a person may type them: any case, dashes and
/// spaces ignored, O read as 0 and I or L as 1.
fn read_crockford(input: &str, len: usize) -> Option<String> {
    let mut out = String::with_capacity(len);
    for c in input.chars().filter(|c| !matches!(c, '-' | ' ')) {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_codes_are_short_and_forgiving() {
        let id = Uuid::from_u128(0x0193_0000_0000_7000_8000_00ab_cdef_1234);
        let code = receipt_code(&id);
        assert_eq!(code.len(), 9);
        assert_eq!(&code[4..5], "-");
        assert!(!code.contains(['I', 'L', 'O', 'U']));
        assert_eq!(
            normalize_receipt_code(&code.to_lowercase().replace('-', "")),
            Some(code.clone())
        );
        assert_eq!(
            normalize_receipt_code("0000-000O"),
            Some("0000-0000".into())
        );
        assert_eq!(normalize_receipt_code("ABCD-EFGU"), None);
        assert_eq!(normalize_receipt_code("ABC"), None);
        assert_eq!(normalize_receipt_code("中文中文中文中文"), None);
    }

    #[test]
    fn public_ids_and_secrets_read_back_as_typed() {
        let id = public_id(u64::MAX);
        assert_eq!(id.len(), 12);
        assert_eq!(normalize_public_id(&id.to_lowercase()), Some(id.clone()));
        assert_eq!(
            normalize_public_id("0000-0000-000O"),
            Some("000000000000".into())
        );
        assert_eq!(normalize_public_id("0000-0000"), None);
        let secret = reporter_secret(0x3_1234_5678_9abc);
        assert_eq!(secret.len(), 11);
        assert_eq!(&secret[5..6], "-");
        assert_eq!(
            normalize_reporter_secret(&secret.replace('-', " ").to_lowercase()),
            Some(secret.clone())
        );
        assert_eq!(normalize_reporter_secret("ABCDE-FGHJKM"), None);
        // Different random bits, different values; the id and the secret share no format.
        assert_ne!(public_id(1), public_id(2));
        assert_ne!(reporter_secret(1), reporter_secret(2));
    }

    proptest::proptest! {
        #[test]
        fn every_public_id_and_secret_reads_back(bits: u64) {
            let id = public_id(bits);
            proptest::prop_assert_eq!(normalize_public_id(&id), Some(id.clone()));
            let secret = reporter_secret(bits);
            proptest::prop_assert_eq!(normalize_reporter_secret(&secret), Some(secret.clone()));
            proptest::prop_assert!(normalize_receipt_code(&id).is_none());
        }
    }
}
