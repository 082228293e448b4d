//! Notifications to other systems (outgoing webhooks): which case events a subscription
//! wants, and when a failed delivery is tried again. Sending, signing and the outbox are the
//! application's and the store's; the rules are here.

use std::collections::BTreeSet;

use jiff::{SignedDuration, Timestamp};

/// Every action a case event can carry (`CaseEvent::action`): the report that opens a case,
/// then the names of `case::Action`.
pub const EVENT_ACTIONS: &[&str] = &[
    "report",
    "accept",
    "refuse",
    "register",
    "dispatch",
    "start_handling",
    "report_back",
    "verify",
    "evaluate",
    "reopen",
    "send_back",
    "transfer",
    "request_approval",
    "decide_approval",
    "resume",
    "supervise",
    "merge",
    "resolve_on_site",
    "escalate",
    "raise_alarm",
    "whistle_call",
    "answer_whistle",
    "miss_whistle",
    "attach_photo",
    "correct",
];

/// The case events a subscription wants: a set of actions, or every event when empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter(BTreeSet<&'static str>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown case event \"{0}\" (known: {known})", known = EVENT_ACTIONS.join(", "))]
pub struct UnknownEvent(pub String);

impl EventFilter {
    /// Every event.
    pub fn all() -> EventFilter {
        EventFilter::default()
    }

    /// Reads a comma-separated list of action names (`raise_alarm,escalate`); blank means
    /// every event.
    pub fn parse(text: &str) -> Result<EventFilter, UnknownEvent> {
        let mut set = BTreeSet::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let known = EVENT_ACTIONS
                .iter()
                .find(|a| **a == name)
                .ok_or_else(|| UnknownEvent(name.to_owned()))?;
            set.insert(*known);
        }
        Ok(EventFilter(set))
    }

    pub fn matches(&self, action: &str) -> bool {
        self.0.is_empty() || self.0.contains(action)
    }

    /// The stored form: `,a,b,` so that the database's trigger can match `,action,` by
    /// substring; empty for every event.
    pub fn stored(&self) -> String {
        if self.0.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = self.0.iter().copied().collect();
            format!(",{},", names.join(","))
        }
    }

    /// The human form, `a,b` (empty for every event).
    pub fn listed(&self) -> String {
        self.0.iter().copied().collect::<Vec<_>>().join(",")
    }
}

/// How many times a delivery is tried before it is given up and left for an operator.
pub const MAX_ATTEMPTS: u32 = 12;

/// The wait before the next try after `attempts` failed tries: 30 s, doubling, at most 6 h.
/// Twelve tries span about 14½ hours, so a receiver that is down overnight still gets its
/// events.
pub fn retry_delay(attempts: u32) -> SignedDuration {
    const FIRST: i64 = 30;
    const LONGEST: i64 = 6 * 3600;
    let doublings = attempts.saturating_sub(1).min(20);
    SignedDuration::from_secs((FIRST << doublings).min(LONGEST))
}

/// What becomes of a delivery after a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this instant.
    RetryAt(Timestamp),
    /// Every try failed: keep it as failed.
    GiveUp,
}

/// After the `attempts`-th failed try (counting from 1) at `now`.
pub fn after_failure(attempts: u32, now: Timestamp) -> AfterFailure {
    if attempts >= MAX_ATTEMPTS {
        return AfterFailure::GiveUp;
    }
    match now.checked_add(retry_delay(attempts)) {
        Ok(at) => AfterFailure::RetryAt(at),
        Err(_) => AfterFailure::GiveUp,
    }
}

/// Tries at sending a case upstream before it is left failed for an operator: about a day.
pub const UPSTREAM_TRIES: u32 = 48;

/// After the `attempts`-th failed try at sending a case upstream, FixMyStreet's schedule: the
/// first retry after 5 minutes, then every 30.
pub fn upstream_after_failure(attempts: u32, now: Timestamp) -> AfterFailure {
    if attempts >= UPSTREAM_TRIES {
        return AfterFailure::GiveUp;
    }
    let wait = if attempts <= 1 {
        SignedDuration::from_mins(5)
    } else {
        SignedDuration::from_mins(30)
    };
    match now.checked_add(wait) {
        Ok(at) => AfterFailure::RetryAt(at),
        Err(_) => AfterFailure::GiveUp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn upstream_sends_retry_after_five_minutes_then_every_thirty() {
        let t: Timestamp = "2026-12-07T02:00:00Z".parse().expect("t");
        let at = |a| match upstream_after_failure(a, t) {
            AfterFailure::RetryAt(next) => Some(next.duration_since(t).as_mins()),
            AfterFailure::GiveUp => None,
        };
        assert_eq!(at(1), Some(5));
        assert_eq!(at(2), Some(30));
        assert_eq!(at(47), Some(30));
        assert_eq!(at(48), None);
    }

    #[test]
    fn filters_read_names_and_refuse_unknown_ones() {
        let f = EventFilter::parse(" raise_alarm, escalate ,,").expect("known");
        assert_eq!(f.stored(), ",escalate,raise_alarm,");
        assert_eq!(f.listed(), "escalate,raise_alarm");
        assert!(f.matches("escalate") && !f.matches("accept"));
        assert_eq!(
            EventFilter::parse("escalate,explode"),
            Err(UnknownEvent("explode".into()))
        );
        let all = EventFilter::parse("  ").expect("blank");
        assert_eq!(all, EventFilter::all());
        assert_eq!(all.stored(), "");
        assert!(EVENT_ACTIONS.iter().all(|a| all.matches(a)));
    }

    #[test]
    fn retries_back_off_to_six_hours_then_give_up() {
        let now: Timestamp = "2026-12-02T00:00:00Z".parse().expect("t");
        assert_eq!(retry_delay(1), SignedDuration::from_secs(30));
        assert_eq!(retry_delay(2), SignedDuration::from_secs(60));
        assert_eq!(retry_delay(10), SignedDuration::from_secs(30 << 9));
        assert_eq!(retry_delay(11), SignedDuration::from_secs(6 * 3600));
        assert_eq!(
            after_failure(1, now),
            AfterFailure::RetryAt(now + SignedDuration::from_secs(30))
        );
        assert_eq!(after_failure(MAX_ATTEMPTS, now), AfterFailure::GiveUp);
        let span: i64 = (1..MAX_ATTEMPTS).map(|a| retry_delay(a).as_secs()).sum();
        assert_eq!(span, 30 * 1023 + 6 * 3600, "about 14½ hours");
    }

    proptest! {
        #[test]
        fn delays_never_shrink_and_stay_bounded(a in 0u32..1000) {
            prop_assert!(retry_delay(a) <= retry_delay(a + 1));
            prop_assert!(retry_delay(a) >= SignedDuration::from_secs(30));
            prop_assert!(retry_delay(a) <= SignedDuration::from_hours(6));
        }

        #[test]
        fn a_filter_reads_back_from_its_stored_form(picks in proptest::collection::btree_set(0..EVENT_ACTIONS.len(), 0..6)) {
            let names: Vec<&str> = picks.iter().map(|i| EVENT_ACTIONS[*i]).collect();
            let f = EventFilter::parse(&names.join(",")).expect("known");
            prop_assert_eq!(EventFilter::parse(&f.stored()).expect("again"), f.clone());
            for a in EVENT_ACTIONS {
                // What the trigger does: a substring match of ",action,".
                let by_trigger = f.stored().is_empty() || f.stored().contains(&format!(",{a},"));
                prop_assert_eq!(by_trigger, f.matches(a));
            }
        }
    }
}
