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
    pub receipt_code: String,
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
    let mut chars = Vec::with_capacity(8);
    for c in input.chars().filter(|c| !matches!(c, '-' | ' ')) {
        let c = match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !ALPHABET.contains(&(c as u8)) || !c.is_ascii() {
            return None;
        }
        chars.push(c);
    }
    if chars.len() != 8 {
        return None;
    }
    let mut out: String = chars[..4].iter().collect();
    out.push('-');
    out.extend(&chars[4..]);
    Some(out)
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
}
