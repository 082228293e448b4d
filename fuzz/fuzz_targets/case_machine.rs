//! The case state machine under random sequences of actions: it never panics, and every step
//! it allows keeps the invariants: the version counts the events, a transition starts from the
//! current status and lands where it says, a case never leaves a final status except by the
//! evaluation's reopen, and the state survives its JSON form (it is stored as JSON).
#![no_main]

use arbitrary::{Result, Unstructured};
use civicgrid_domain::case::{Action, CaseState, Status, apply, decide};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const UNITS: [&str; 4] = ["SWJT", "ZJJ", "CGJ", ""];
const STAGES: [&str; 4] = ["accept", "dispatch", "handle", "verify"];
const CLOCKS: [&str; 4] = [
    "urgent_hours",
    "working_hours",
    "working_days",
    "calendar_days",
];

fn text(u: &mut Unstructured) -> Result<String> {
    Ok(["", "说明", "a note", "\u{0}"][u.choose_index(4)?].to_owned())
}

fn units(u: &mut Unstructured) -> Result<Vec<&'static str>> {
    let n = u.int_in_range(0..=3)?;
    (0..n)
        .map(|_| Ok(UNITS[u.choose_index(UNITS.len())?]))
        .collect()
}

fn action(u: &mut Unstructured) -> Result<Action> {
    let note = text(u)?;
    let value = match u.int_in_range(0..=23)? {
        0 => json!({"action": "accept"}),
        1 => json!({"action": "refuse", "reason": note}),
        2 => json!({"action": "register"}),
        3 => json!({"action": "dispatch", "units": units(u)?}),
        4 => json!({"action": "start_handling"}),
        5 => json!({"action": "report_back", "note": note}),
        6 => json!({"action": "verify", "passed": u.arbitrary::<bool>()?, "note": note}),
        7 => json!({"action": "evaluate",
            "satisfaction": (["satisfied", "basically_satisfied", "unsatisfied"][u.choose_index(3)?]),
            "comment": note}),
        8 => json!({"action": "reopen", "reason": note}),
        9 => json!({"action": "send_back", "reason": note}),
        10 => json!({"action": "transfer", "units": units(u)?, "reason": note}),
        11 => json!({"action": "request_approval", "request": {"kind": "extension",
            "stage": STAGES[u.choose_index(4)?],
            "extra": {"clock": CLOCKS[u.choose_index(4)?], "amount": u.int_in_range(0..=100u32)?},
            "reason": note}}),
        12 => json!({"action": "request_approval", "request": {"kind": "shelve", "reason": note}}),
        13 => json!({"action": "request_approval", "request": {"kind": "void", "reason": note}}),
        14 => json!({"action": "decide_approval", "approve": u.arbitrary::<bool>()?, "note": note}),
        15 => json!({"action": "resume"}),
        16 => json!({"action": "supervise", "on": u.arbitrary::<bool>()?, "note": note}),
        17 => json!({"action": "merge", "master": "0190b4a0-0000-7000-8000-000000000001"}),
        18 => json!({"action": "resolve_on_site", "note": note}),
        19 => json!({"action": "escalate",
            "tier": (["grid", "community", "street", "district"][u.choose_index(4)?]), "reason": note}),
        20 => json!({"action": "raise_alarm", "stage": STAGES[u.choose_index(4)?],
            "level": (["green", "yellow", "red"][u.choose_index(3)?])}),
        21 => json!({"action": "whistle_call", "units": units(u)?,
            "due_at": "2026-03-03T02:00:00Z", "note": note}),
        22 => json!({"action": "answer_whistle", "unit": UNITS[u.choose_index(4)?], "note": note}),
        _ => json!({"action": "miss_whistle", "unit": UNITS[u.choose_index(4)?]}),
    };
    Ok(serde_json::from_value(value).expect("a valid action"))
}

fn is_final(s: Status) -> bool {
    matches!(s, Status::Refused | Status::Voided | Status::Merged)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut state = CaseState::new();
    let mut events = 1;
    // Unstructured yields defaults once its bytes run out: stop there, and at 200 steps.
    for _ in 0..200 {
        if u.is_empty() {
            break;
        }
        let Ok(a) = action(&mut u) else { break };
        let before = state.clone();
        let Ok(t) = decide(&state, a.clone()) else {
            continue;
        };
        assert_eq!(t.from, before.status, "{a:?}");
        assert_eq!(t.version, before.version + 1, "{a:?}");
        assert!(
            !is_final(before.status),
            "left {:?} by {a:?}",
            before.status
        );
        state = apply(&before, &t);
        events += 1;
        assert_eq!(state.status, t.to);
        assert_eq!(state.version, events);
        let stored: CaseState =
            serde_json::from_str(&serde_json::to_string(&state).expect("json")).expect("back");
        assert_eq!(stored, state);
    }
});
