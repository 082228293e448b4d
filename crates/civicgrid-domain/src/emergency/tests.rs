use super::*;
use proptest::prelude::*;

fn task(key: &str, level: Level, addressee: Addressee, hours: i64) -> PlanTask {
    PlanTask {
        key: key.into(),
        level,
        addressee,
        title: format!("{key} at {}", level.as_str()),
        due_after: SignedDuration::from_hours(hours),
    }
}

/// A typhoon plan: IV watches, III adds grid checks and a unit, II and I add more; the duty
/// leader's watch is listed at every level (one task however often the level moves).
fn typhoon() -> Plan {
    let unit = |c: &str| Addressee::Unit(c.into());
    let mut tasks = Vec::new();
    for level in Level::ALL {
        tasks.push(task(
            "duty-watch",
            level,
            Addressee::Role("street_leader".into()),
            1,
        ));
    }
    tasks.push(task(
        "check-households",
        Level::III,
        Addressee::GridWorkers,
        4,
    ));
    tasks.push(task(
        "check-households",
        Level::II,
        Addressee::GridWorkers,
        2,
    ));
    tasks.push(task(
        "check-households",
        Level::I,
        Addressee::GridWorkers,
        1,
    ));
    tasks.push(task("drainage", Level::III, unit("SWJT"), 6));
    tasks.push(task("drainage", Level::II, unit("SWJT"), 3));
    tasks.push(task(
        "transfer-people",
        Level::II,
        Addressee::GridWorkers,
        3,
    ));
    tasks.push(task("transfer-people", Level::I, Addressee::GridWorkers, 2));
    tasks.push(task("shelters", Level::I, unit("MZJ"), 2));
    Plan {
        code: "typhoon-nanshan".into(),
        kind: IncidentKind::Typhoon,
        title: "南山街道防台风预案".into(),
        tasks,
        contacts: vec![PlanContact {
            name: "街道防汛办".into(),
            role: "防汛值班".into(),
            phone: "0755-26660000".into(),
            grid: None,
        }],
        resources: vec![PlanResource {
            name: "沙袋".into(),
            quantity: 2000,
            unit: "个".into(),
            grid: Some("440305001001001".parse().expect("grid")),
        }],
        shelters: vec![Shelter {
            name: "南山小学体育馆".into(),
            capacity: 300,
            grid: "440305001001002".parse().expect("grid"),
            address: "南山大道100号".into(),
        }],
    }
}

fn grids(n: usize) -> BTreeSet<GridCode> {
    (0..n)
        .map(|i| format!("44030500100100{}", i + 1).parse().expect("grid"))
        .collect()
}

fn t0() -> Timestamp {
    "2026-07-01T02:00:00Z".parse().expect("t")
}

#[test]
fn levels_read_and_order_from_the_gravest() {
    assert_eq!(Level::parse("iii"), Some(Level::III));
    assert_eq!(Level::parse("较大"), Some(Level::III));
    assert_eq!(Level::parse("1"), Some(Level::I));
    assert_eq!(Level::parse("V"), None);
    assert!(Level::I.graver_than(Level::IV));
    assert!(!Level::IV.graver_than(Level::III));
    assert_eq!(
        Level::ALL.map(Level::colour),
        ["red", "orange", "yellow", "blue"]
    );
    assert_eq!("gas_leak".parse(), Ok(IncidentKind::GasLeak));
}

#[test]
fn a_plan_names_its_problems_by_field() {
    assert!(
        typhoon().problems().is_empty(),
        "{:?}",
        typhoon().problems()
    );
    let mut bad = typhoon();
    bad.code = "台风".into();
    bad.tasks.push(task(
        "drainage",
        Level::III,
        Addressee::Unit("SWJT".into()),
        6,
    ));
    bad.tasks
        .push(task("shelters", Level::II, Addressee::GridWorkers, 0));
    bad.shelters[0].capacity = 0;
    bad.contacts[0].phone = "call the office".into();
    let fields: Vec<String> = bad.problems().into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        [
            "code",
            "contacts[0].phone",
            "shelters[0].capacity",
            "tasks[12].key",
            "tasks[13].due_after",
            "tasks[13].addressee"
        ]
    );
}

#[test]
fn activation_raising_lowering_and_lifting() {
    let plan = typhoon();
    let area = grids(3);
    let s0 = IncidentState::new();
    assert_eq!(s0.lift("x"), Err(IncidentError::NotActive));
    // Level III: the watch, a check per grid, the water company's drainage.
    let c = s0
        .set_level(&plan, Level::III, &area, t0())
        .expect("activate");
    assert_eq!(c.created.len(), 1 + 3 + 1);
    assert!(c.ended.is_empty());
    let check = c
        .created
        .iter()
        .find(|t| t.task.key == "check-households")
        .expect("a check");
    assert_eq!(check.due_at, t0() + SignedDuration::from_hours(4));
    let s1 = s0.apply(&c, Some(Level::III));
    assert_eq!(
        s1.set_level(&plan, Level::III, &area, t0()),
        Err(IncidentError::SameLevel("III"))
    );
    // Raised to II: only the transfers are new (the watch, checks and drainage exist).
    let later = t0() + SignedDuration::from_hours(1);
    let c = s1.set_level(&plan, Level::II, &area, later).expect("raise");
    assert_eq!(c.created.len(), 3);
    assert!(c.created.iter().all(|t| t.task.key == "transfer-people"));
    assert!(c.ended.is_empty());
    let s2 = s1.apply(&c, Some(Level::II));
    // Lowered to IV: everything but the watch is cancelled, with its reason.
    let c = s2.set_level(&plan, Level::IV, &area, later).expect("lower");
    assert!(c.created.is_empty());
    assert_eq!(c.ended.len(), 3 + 1 + 3);
    assert!(
        c.ended
            .iter()
            .all(|(_, s, r)| *s == TaskStatus::Cancelled && r.contains("IV"))
    );
    let s3 = s2.apply(&c, Some(Level::IV));
    assert_eq!(s3.open_tasks().count(), 1);
    // Raised to III again: the cancelled checks and drainage open once more, not twice.
    let c = s3
        .set_level(&plan, Level::III, &area, later)
        .expect("raise again");
    assert!(c.created.is_empty());
    assert_eq!(c.reopened.len(), 3 + 1);
    let again = s3.apply(&c, Some(Level::III));
    assert_eq!(again.open_tasks().count(), 1 + 3 + 1);
    assert_eq!(again.tasks.len(), s3.tasks.len());
    // Lifted: the watch is closed; nothing more may change.
    let c = s3.lift("风球除下").expect("lift");
    let s4 = s3.apply(&c, None);
    assert!(s4.lifted && s4.open_tasks().next().is_none());
    assert_eq!(
        s4.tasks
            .iter()
            .find(|t| t.task.key == "duty-watch")
            .map(|t| t.reason.clone()),
        Some(Some("incident lifted: 风球除下".into()))
    );
    assert_eq!(
        s4.set_level(&plan, Level::I, &area, later),
        Err(IncidentError::Lifted)
    );
    assert_eq!(s4.lift("again"), Err(IncidentError::Lifted));
}

proptest! {
    /// Whatever the sequence of levels, no task is created twice for one incident, every
    /// task the current level calls for exists, and lifting leaves no open task.
    #[test]
    fn no_task_twice_and_lifting_leaves_none_open(
        moves in proptest::collection::vec(0usize..4, 1..12),
        grid_count in 1usize..6,
    ) {
        let plan = typhoon();
        let area = grids(grid_count);
        let mut state = IncidentState::new();
        let mut at = t0();
        for m in moves {
            let level = Level::ALL[m];
            at += SignedDuration::from_mins(30);
            match state.set_level(&plan, level, &area, at) {
                Ok(c) => state = state.apply(&c, Some(level)),
                Err(e) => prop_assert_eq!(e, IncidentError::SameLevel(level.as_str())),
            }
            let mut keys: Vec<&TaskKey> = state.tasks.iter().map(|t| &t.task).collect();
            let all = keys.len();
            keys.sort();
            keys.dedup();
            prop_assert_eq!(keys.len(), all, "a task was created twice");
            // Every task the level calls for is there, open or done.
            for k in plan.tasks_at(level, &area).keys() {
                let t = state.tasks.iter().find(|t| &t.task == k);
                prop_assert!(
                    t.is_some_and(|t| matches!(t.status, TaskStatus::Open | TaskStatus::Done)),
                    "{:?}", k
                );
            }
        }
        let lifted = state.lift("over").map(|c| state.apply(&c, None));
        let lifted = lifted.expect("an active incident lifts");
        prop_assert!(lifted.open_tasks().next().is_none());
        prop_assert!(lifted
            .tasks
            .iter()
            .all(|t| t.status != TaskStatus::Open && (t.status == TaskStatus::Done || t.reason.is_some())));
    }
}

#[test]
fn an_area_finds_the_grids_it_touches() {
    use geo::{MultiPolygon, polygon};
    // Three grids of ~111 m side in a row along the equator-ish latitude 22.5.
    let square = |x: f64| {
        MultiPolygon::new(vec![polygon![
            (x: x, y: 22.5), (x: x + 0.001, y: 22.5), (x: x + 0.001, y: 22.501), (x: x, y: 22.501), (x: x, y: 22.5)
        ]])
    };
    let codes: Vec<GridCode> = (1..=3)
        .map(|i| format!("44030500100100{i}").parse().expect("grid"))
        .collect();
    let shapes = [square(113.900), square(113.901), square(113.905)];
    let all = || codes.iter().zip(shapes.iter());
    let picked = Area::Grids {
        grids: vec![codes[2].clone(), "440305001001009".parse().expect("grid")],
    };
    assert_eq!(picked.grids(all()), BTreeSet::from([codes[2].clone()]));
    // A circle of 150 m around the first grid's centre reaches the second, not the third
    // (~450 m away).
    let circle = Area::Circle {
        lon: 113.9005,
        lat: 22.5005,
        radius_m: 150.0,
    };
    assert_eq!(
        circle.grids(all()),
        BTreeSet::from([codes[0].clone(), codes[1].clone()])
    );
    let wide = Area::Circle {
        lon: 113.9005,
        lat: 22.5005,
        radius_m: 600.0,
    };
    assert_eq!(wide.grids(all()).len(), 3);
    let drawn = Area::Polygon {
        ring: vec![
            (113.9049, 22.4999),
            (113.907, 22.4999),
            (113.907, 22.502),
            (113.9049, 22.502),
        ],
    };
    assert_eq!(drawn.grids(all()), BTreeSet::from([codes[2].clone()]));
    assert!(
        Area::Circle {
            lon: 200.0,
            lat: 0.0,
            radius_m: 100.0
        }
        .problem()
        .is_some()
    );
    assert!(
        Area::Circle {
            lon: 113.9,
            lat: 22.5,
            radius_m: 1.0
        }
        .problem()
        .is_some()
    );
    assert!(
        Area::Polygon {
            ring: vec![(113.9, 22.5)]
        }
        .problem()
        .is_some()
    );
    assert!(Area::Grids { grids: vec![] }.problem().is_some());
    assert!(circle.problem().is_none());
}
