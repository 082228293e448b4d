//! Volunteers and their service: who gets a place on a shift (capacity, and a waiting list
//! that moves up), how long a check-in lasted, and the hours ledger — append-only, each entry
//! pending, approved or declined once, never removed.

use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a sign-up stands on its shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "placement", content = "position")]
pub enum Placement {
    /// Has a place.
    Confirmed,
    /// On the waiting list, at this position (1 = next to move up).
    Waiting(usize),
}

/// Places the active sign-ups of a shift, given in the order they were made: the first
/// `capacity` have places, the rest wait in order. A cancellation frees a place and the
/// waiting list moves up by itself, because placement is always computed from the order.
pub fn place(active_in_order: usize, capacity: u32) -> Vec<Placement> {
    let cap = capacity as usize;
    (0..active_in_order)
        .map(|i| {
            if i < cap {
                Placement::Confirmed
            } else {
                Placement::Waiting(i - cap + 1)
            }
        })
        .collect()
}

/// Whether a volunteer's skills include every skill a shift asks for.
pub fn has_skills(volunteer: &[String], required: &[String]) -> bool {
    required.iter().all(|r| volunteer.iter().any(|s| s == r))
}

/// Minutes served between check-in and check-out, rounded down, and never more than the
/// shift's own length plus an hour (a forgotten check-out does not earn a night), nor than a
/// ledger entry holds (a day).
pub fn served_minutes(
    checked_in: Timestamp,
    checked_out: Timestamp,
    shift_start: Timestamp,
    shift_end: Timestamp,
) -> Result<u32, String> {
    if checked_out <= checked_in {
        return Err("check-out must come after check-in".into());
    }
    let served = checked_out.duration_since(checked_in).as_secs() / 60;
    let cap = (shift_end.duration_since(shift_start).as_secs().max(0) / 60 + 60)
        .min(i64::from(MAX_ENTRY_MINUTES));
    u32::try_from(served.min(cap)).map_err(|_| "too long".into())
}

/// A ledger entry's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoursStatus {
    Pending,
    Approved,
    Declined,
}

impl HoursStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HoursStatus::Pending => "pending",
            HoursStatus::Approved => "approved",
            HoursStatus::Declined => "declined",
        }
    }
}

impl FromStr for HoursStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(HoursStatus::Pending),
            "approved" => Ok(HoursStatus::Approved),
            "declined" => Ok(HoursStatus::Declined),
            _ => Err(format!(
                "`{s}` is not an hours status (pending, approved, declined)"
            )),
        }
    }
}

/// One entry of the hours ledger as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoursEntry {
    pub id: uuid::Uuid,
    pub minutes: u32,
    pub status: HoursStatus,
}

/// The hours ledger of a volunteer (or of any set of entries): entries are added pending and
/// decided once; nothing is removed or changed otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    entries: Vec<HoursEntry>,
}

/// Longest single entry: a day.
pub const MAX_ENTRY_MINUTES: u32 = 24 * 60;

impl Ledger {
    pub fn from_entries(entries: Vec<HoursEntry>) -> Self {
        Ledger { entries }
    }

    pub fn entries(&self) -> &[HoursEntry] {
        &self.entries
    }

    /// Records a new pending entry.
    pub fn record(&mut self, id: uuid::Uuid, minutes: u32) -> Result<(), String> {
        if minutes == 0 || minutes > MAX_ENTRY_MINUTES {
            return Err(format!("1 to {MAX_ENTRY_MINUTES} minutes"));
        }
        if self.entries.iter().any(|e| e.id == id) {
            return Err("this entry is already in the ledger".into());
        }
        self.entries.push(HoursEntry {
            id,
            minutes,
            status: HoursStatus::Pending,
        });
        Ok(())
    }

    /// Approves or declines a pending entry; a decided entry stays as it was decided.
    pub fn decide(&mut self, id: uuid::Uuid, approve: bool) -> Result<(), String> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| e.id == id)
            .ok_or("no such entry")?;
        if entry.status != HoursStatus::Pending {
            return Err(format!("the entry is already {}", entry.status.as_str()));
        }
        entry.status = if approve {
            HoursStatus::Approved
        } else {
            HoursStatus::Declined
        };
        Ok(())
    }

    pub fn minutes(&self, status: HoursStatus) -> u64 {
        self.entries
            .iter()
            .filter(|e| e.status == status)
            .map(|e| u64::from(e.minutes))
            .sum()
    }

    /// What a certificate may state: approved minutes only.
    pub fn approved_minutes(&self) -> u64 {
        self.minutes(HoursStatus::Approved)
    }
}

/// Hours as a certificate writes them: 12.5.
pub fn hours_text(minutes: u64) -> String {
    let tenths = (minutes * 10 + 30) / 60;
    format!("{}.{}", tenths / 10, tenths % 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn places_and_waiting_list() {
        assert_eq!(
            place(4, 2),
            vec![
                Placement::Confirmed,
                Placement::Confirmed,
                Placement::Waiting(1),
                Placement::Waiting(2)
            ]
        );
        // One of the confirmed cancels: the first on the waiting list has a place now.
        assert_eq!(place(3, 2)[2], Placement::Waiting(1));
        assert_eq!(place(2, 2), vec![Placement::Confirmed; 2]);
        assert!(has_skills(
            &["first_aid".into(), "driving".into()],
            &["driving".into()]
        ));
        assert!(!has_skills(&[], &["driving".into()]));
    }

    #[test]
    fn served_minutes_are_capped_by_the_shift() {
        let t = |s: &str| -> Timestamp { s.parse().expect("time") };
        let (a, b) = (t("2026-05-01T01:00:00Z"), t("2026-05-01T03:00:00Z"));
        assert_eq!(served_minutes(a, t("2026-05-01T02:30:59Z"), a, b), Ok(90));
        let day_later = t("2026-05-02T01:00:00Z");
        assert_eq!(
            served_minutes(a, t("2026-05-02T03:00:00Z"), a, day_later),
            Ok(MAX_ENTRY_MINUTES)
        );
        assert_eq!(served_minutes(a, t("2026-05-02T01:00:00Z"), a, b), Ok(180));
        assert!(served_minutes(b, a, a, b).is_err());
        assert_eq!(hours_text(90), "1.5");
        assert_eq!(hours_text(100), "1.7");
    }

    #[derive(Debug, Clone)]
    enum Step {
        Record(u8, u32),
        Decide(u8, bool),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..12, 0u32..1500).prop_map(|(i, m)| Step::Record(i, m)),
            (0u8..12, any::<bool>()).prop_map(|(i, a)| Step::Decide(i, a)),
        ]
    }

    proptest! {
        /// Whatever is recorded and decided: the approved total is the sum of the approved
        /// entries, nothing recorded ever disappears, and a decided entry never changes.
        #[test]
        fn the_ledger_only_grows_and_totals_its_approved_entries(steps in proptest::collection::vec(step(), 0..60)) {
            let mut ledger = Ledger::default();
            let id = |i: u8| uuid::Uuid::from_u128(u128::from(i));
            for s in steps {
                let before = ledger.clone();
                let _ = match s {
                    Step::Record(i, m) => ledger.record(id(i), m),
                    Step::Decide(i, a) => ledger.decide(id(i), a),
                };
                prop_assert!(ledger.entries().len() >= before.entries().len());
                for (old, new) in before.entries().iter().zip(ledger.entries()) {
                    prop_assert_eq!(old.id, new.id);
                    prop_assert_eq!(old.minutes, new.minutes);
                    if old.status != HoursStatus::Pending {
                        prop_assert_eq!(old.status, new.status);
                    }
                }
                let sum: u64 = ledger.entries().iter().filter(|e| e.status == HoursStatus::Approved).map(|e| u64::from(e.minutes)).sum();
                prop_assert_eq!(ledger.approved_minutes(), sum);
                prop_assert!(ledger.approved_minutes() >= before.approved_minutes());
            }
        }

        /// Placement: never more confirmed than capacity, and the waiting list is numbered 1..
        #[test]
        fn placement_respects_capacity(active in 0usize..40, capacity in 0u32..20) {
            let p = place(active, capacity);
            let confirmed = p.iter().filter(|x| **x == Placement::Confirmed).count();
            prop_assert_eq!(confirmed, active.min(capacity as usize));
            let waiting: Vec<usize> = p.iter().filter_map(|x| match x { Placement::Waiting(n) => Some(*n), _ => None }).collect();
            prop_assert_eq!(waiting, (1..=active.saturating_sub(capacity as usize)).collect::<Vec<_>>());
        }
    }
}
