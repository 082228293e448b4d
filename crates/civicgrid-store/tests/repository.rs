//! One suite, two backends: every test here runs against SQLite and against PostgreSQL, each
//! on its own fresh database (a temporary file, or a schema of its own).

use std::collections::BTreeMap;
use std::sync::Arc;

use civicgrid_domain::access::{Grant, Permission, Role, Scope};
use civicgrid_domain::calendar::{ClockType, DayKind, SpecialDay, TimeLimit, WorkingCalendar};
use civicgrid_domain::catalogue::{Category, CategoryKind, Priority, Stage};
use civicgrid_domain::routing::{Basis, ResponsibilityRule, Unit, UnitKind};
use civicgrid_domain::territory::{Beat, Grid, Region};
use civicgrid_store::postgres::PgRepository;
use civicgrid_store::prelude::*;
use civicgrid_store::{ApiKeyRecord, Batch, CalendarUpdate, NewUser, StoreError};
use geo::{MultiPolygon, polygon};
use jiff::Timestamp;
use jiff::civil::date;

struct TestDb {
    repo: Arc<dyn Repository>,
    pg: Option<(Arc<PgRepository>, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("test.db");
        let repo = civicgrid_store::connect(&format!("sqlite:{}", path.display()))
            .await
            .expect("sqlite opens");
        TestDb {
            repo,
            pg: None,
            _dir: Some(dir),
        }
    }

    /// `None` only when PostgreSQL is unreachable and the run explicitly allows skipping it
    /// outside CI; in CI an unreachable PostgreSQL fails the test.
    async fn postgres(test: &str) -> Option<TestDb> {
        let url = std::env::var("CIVICGRID_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let id = uuid::Uuid::now_v7().simple().to_string();
        let schema = format!("t_{test}_{}", &id[id.len() - 8..]);
        match PgRepository::connect_in_schema(&url, &schema).await {
            Ok(repo) => {
                let repo = Arc::new(repo);
                Some(TestDb {
                    repo: repo.clone(),
                    pg: Some((repo, schema)),
                    _dir: None,
                })
            }
            Err(e) => {
                let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
                let may_skip = std::env::var("CIVICGRID_SKIP_POSTGRES").is_ok_and(|v| v == "1");
                if may_skip && !in_ci {
                    eprintln!(
                        "SKIPPING the PostgreSQL half of `{test}`: {e} (CIVICGRID_SKIP_POSTGRES=1)"
                    );
                    return None;
                }
                panic!(
                    "PostgreSQL at {url} is unreachable: {e}. Start it (see .ci/run) or, outside CI only, set CIVICGRID_SKIP_POSTGRES=1"
                );
            }
        }
    }

    async fn finish(self) {
        if let Some((pg, schema)) = self.pg {
            pg.drop_schema(&schema).await.expect("schema dropped");
        }
    }
}

/// Runs `$body` (an async fn taking `&dyn Repository`) on both backends.
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = super::TestDb::sqlite().await;
                    super::$name(db.repo.as_ref()).await;
                    db.finish().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(db) = super::TestDb::postgres(stringify!($name)).await {
                        super::$name(db.repo.as_ref()).await;
                        db.finish().await;
                    }
                }
            )+
        }
    };
}

both_backends!(
    accountability_records_deduct_and_list_versions_stay,
    supervision_reports_keep_days_and_erase_only_closed,
    territory_round_trips_and_upserts_in_place,
    a_failing_batch_changes_nothing,
    catalogue_and_responsibility_list_round_trip,
    calendar_round_trips_and_replaces_whole_years,
    users_roles_grants_and_api_keys,
    migrations_are_idempotent,
    cases_and_their_events_with_optimistic_concurrency,
    listing_cases_filters_and_pages,
    a_batch_of_new_cases_is_written_whole_or_not_at_all,
    a_group_commit_of_reports_and_changes_fails_only_stale_changes,
    job_leases_divide_a_round_and_expire,
    cases_of_every_year_are_kept_and_found,
    abuse_counters_count_per_key_and_window,
    any_capability_queues_and_applies_its_records,
    sessions_expire_and_end,
    settings_are_set_once_or_replaced,
    photos_are_stored_with_their_event,
    personal_data_reads_are_recorded,
    appeals_move_on_only_from_the_expected_status,
    surveys_take_one_answer_per_respondent,
    kpi_rollups_queue_apply_and_sum,
    webhook_deliveries_are_leased_and_finished,
    notification_messages_come_from_events_and_are_leased_once,
    a_recipients_digest_notices_are_claimed_together,
    operations_gauges_count_what_is_open,
    placing_a_case_moves_it_and_its_rows_to_the_new_region,
    the_gazetteer_is_replaced_whole_and_found_by_name,
    party_organisations_alliances_and_members,
    households_assignments_plans_and_visits,
    wishes_change_with_their_events,
    volunteers_shifts_and_the_hours_ledger,
    a_voting_code_counts_once_under_fifty_concurrent_uses,
    topics_opinions_meetings_and_results_keep_their_events,
    incidents_activate_once_and_keep_their_log,
    the_search_indexer_reads_changed_cases_in_update_order,
);

fn t0() -> Timestamp {
    "2026-11-25T08:00:00Z".parse().expect("timestamp")
}

fn region(code: &str, name: &str) -> Region {
    Region {
        code: code.parse().expect("region"),
        name: name.into(),
    }
}

fn square_grid(code: &str, region: &str, x: f64, y: f64) -> Grid {
    Grid {
        code: code.parse().expect("grid"),
        name: format!("网格{code}"),
        region: region.parse().expect("region"),
        geometry: MultiPolygon::new(vec![polygon![
            (x: x, y: y), (x: x + 0.001, y: y), (x: x + 0.001, y: y + 0.001), (x: x, y: y + 0.001), (x: x, y: y)
        ]]),
    }
}

fn territory() -> Batch {
    Batch {
        at: t0(),
        regions: vec![
            region("440305", "南山区"),
            region("440305001", "南头街道"),
            region("440305001001", "安乐社区"),
            region("440305001002", "同乐社区"),
        ],
        grids: vec![
            square_grid("440305001001001", "440305001001", 113.9, 22.5),
            square_grid("440305001001002", "440305001001", 113.901, 22.5),
            square_grid("440305001002001", "440305001002", 113.9, 22.501),
        ],
        units: vec![
            Unit {
                code: "NT-JD".into(),
                name: "南头街道办事处".into(),
                kind: UnitKind::StreetOffice,
                region: "440305001".parse().expect("r"),
            },
            Unit {
                code: "CGJ".into(),
                name: "区城市管理和综合执法局".into(),
                kind: UnitKind::Department,
                region: "440305".parse().expect("r"),
            },
        ],
        ..Batch::default()
    }
}

async fn territory_round_trips_and_upserts_in_place(repo: &dyn Repository) {
    repo.apply(&territory()).await.expect("applies");
    let regions = repo.regions().await.expect("regions");
    assert_eq!(regions.len(), 4);
    assert_eq!(regions[0].name, "南山区");
    let grids = repo.grids(None).await.expect("grids");
    assert_eq!(grids, territory().grids);
    let in_anle = repo
        .grids(Some(&"440305001001".parse().expect("r")))
        .await
        .expect("grids");
    assert_eq!(in_anle.len(), 2);

    // Applying the same data again with a new name updates in place.
    let mut again = territory();
    again.grids[0].name = "安乐一网格".into();
    repo.apply(&again).await.expect("applies again");
    let grids = repo.grids(None).await.expect("grids");
    assert_eq!(grids.len(), 3);
    assert_eq!(grids[0].name, "安乐一网格");

    let beat = Beat {
        code: "AL-01".into(),
        name: "安乐第一责任网格".into(),
        region: "440305001001".parse().expect("r"),
        grids: vec![grids[0].code.clone(), grids[1].code.clone()],
        workers: vec!["wang.gw".into()],
    };
    repo.apply(&Batch {
        at: t0(),
        users: vec![new_user("wang.gw")],
        beats: vec![beat.clone()],
        ..Batch::default()
    })
    .await
    .expect("beat");
    assert_eq!(repo.beats().await.expect("beats"), vec![beat]);
    let units = repo.units().await.expect("units");
    assert_eq!(units.len(), 2);
    let summary = repo.summary().await.expect("summary");
    assert_eq!(
        (
            summary.regions,
            summary.grids,
            summary.beats,
            summary.units,
            summary.users
        ),
        (4, 3, 1, 2, 1)
    );
}

async fn a_failing_batch_changes_nothing(repo: &dyn Repository) {
    repo.apply(&territory()).await.expect("applies");
    let before = repo.summary().await.expect("summary");

    // A new region and a grid whose region does not exist: refused, and the region is not kept.
    let bad = Batch {
        at: t0(),
        regions: vec![region("440305002", "桃源街道")],
        grids: vec![square_grid(
            "440305009009001",
            "440305009009",
            113.95,
            22.55,
        )],
        ..Batch::default()
    };
    assert!(matches!(
        repo.apply(&bad).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(repo.summary().await.expect("summary"), before);

    // A duplicate user in one batch: the first is not kept either.
    let dup = Batch {
        at: t0(),
        users: vec![new_user("li.dispatch"), new_user("li.dispatch")],
        ..Batch::default()
    };
    assert!(matches!(
        repo.apply(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(repo.summary().await.expect("summary"), before);

    // A beat naming a worker that does not exist.
    let beat = Batch {
        at: t0(),
        beats: vec![Beat {
            code: "B".into(),
            name: "B".into(),
            region: "440305001001".parse().expect("r"),
            grids: vec![],
            workers: vec!["nobody".into()],
        }],
        ..Batch::default()
    };
    assert!(matches!(
        repo.apply(&beat).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(repo.summary().await.expect("summary"), before);
}

fn deadlines() -> BTreeMap<Priority, BTreeMap<Stage, TimeLimit>> {
    Priority::ALL
        .iter()
        .map(|&p| {
            let clock = if p == Priority::Urgent {
                ClockType::UrgentHours
            } else {
                ClockType::WorkingHours
            };
            (
                p,
                Stage::ALL
                    .iter()
                    .map(|&s| (s, TimeLimit { clock, amount: 30 }))
                    .collect(),
            )
        })
        .collect()
}

fn categories() -> Vec<Category> {
    vec![
        Category {
            code: "01".parse().expect("c"),
            name_zh: "市政公用设施".into(),
            name_en: "Municipal utilities".into(),
            kind: CategoryKind::Component,
            default_priority: Priority::Normal,
            service_type: civicgrid_domain::catalogue::ServiceType::Realtime,
            deadlines: BTreeMap::new(),
            attributes: vec![],
        },
        Category {
            code: "01001".parse().expect("c"),
            name_zh: "上水井盖".into(),
            name_en: "Water manhole cover".into(),
            kind: CategoryKind::Component,
            default_priority: Priority::High,
            service_type: civicgrid_domain::catalogue::ServiceType::Batch,
            deadlines: deadlines(),
            attributes: vec![civicgrid_domain::catalogue::AttributeDef {
                code: "damage".into(),
                datatype: civicgrid_domain::catalogue::AttributeType::SingleValueList,
                required: true,
                description: "损坏情况".into(),
                order: 1,
                values: vec![civicgrid_domain::catalogue::AttributeValue {
                    key: "missing".into(),
                    name: "丢失".into(),
                }],
            }],
        },
    ]
}

fn rule(line: u32, primary: &str, co: &[&str]) -> ResponsibilityRule {
    ResponsibilityRule {
        line,
        category: "01".parse().expect("c"),
        region: "440305".parse().expect("r"),
        condition: None,
        basis: Basis::Owner,
        primary: primary.into(),
        co_handlers: co.iter().map(|s| (*s).to_owned()).collect(),
        note: "测试".into(),
    }
}

async fn catalogue_and_responsibility_list_round_trip(repo: &dyn Repository) {
    let mut batch = territory();
    batch.categories = categories();
    batch.responsibility_list = Some(vec![rule(1, "CGJ", &["NT-JD"])]);
    repo.apply(&batch).await.expect("applies");
    assert_eq!(repo.categories().await.expect("categories"), categories());
    assert_eq!(
        repo.responsibility_list().await.expect("rules"),
        vec![rule(1, "CGJ", &["NT-JD"])]
    );

    // Replacing the list with one naming an unknown co-handler is refused and keeps the old list.
    let bad = Batch {
        at: t0(),
        responsibility_list: Some(vec![rule(1, "CGJ", &[]), rule(2, "CGJ", &["GHOST"])]),
        ..Batch::default()
    };
    assert!(matches!(
        repo.apply(&bad).await,
        Err(StoreError::Invalid(_))
    ));
    let bad_primary = Batch {
        at: t0(),
        responsibility_list: Some(vec![rule(1, "GHOST", &[])]),
        ..Batch::default()
    };
    assert!(matches!(
        repo.apply(&bad_primary).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        repo.responsibility_list().await.expect("rules"),
        vec![rule(1, "CGJ", &["NT-JD"])]
    );
}

async fn calendar_round_trips_and_replaces_whole_years(repo: &dyn Repository) {
    assert_eq!(repo.calendar().await.expect("calendar"), None);
    let day = |m, d, kind, name: &str| SpecialDay {
        date: date(2026, m, d),
        kind,
        name: name.into(),
    };
    let update = |days| CalendarUpdate {
        time_zone: "Asia/Shanghai".into(),
        windows: WorkingCalendar::standard_windows(),
        years: vec![(2026, days)],
    };
    repo.apply(&Batch {
        at: t0(),
        calendar: Some(update(vec![
            day(2, 16, DayKind::Holiday, "春节"),
            day(2, 14, DayKind::MakeUpWorkday, "春节调休"),
        ])),
        ..Batch::default()
    })
    .await
    .expect("applies");
    let cal = repo
        .calendar()
        .await
        .expect("calendar")
        .expect("configured");
    assert!(cal.is_working_day(date(2026, 2, 14)));
    assert!(!cal.is_working_day(date(2026, 2, 16)));
    assert_eq!(cal.time_zone_name(), "Asia/Shanghai");

    repo.apply(&Batch {
        at: t0(),
        calendar: Some(update(vec![day(10, 1, DayKind::Holiday, "国庆节")])),
        ..Batch::default()
    })
    .await
    .expect("applies");
    let cal = repo
        .calendar()
        .await
        .expect("calendar")
        .expect("configured");
    assert!(
        cal.is_working_day(date(2026, 2, 16)),
        "2026 was replaced whole"
    );
    assert!(!cal.is_working_day(date(2026, 10, 1)));
    assert_eq!(cal.special_days().count(), 1);
}

fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: username.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        unit: None,
        grants: vec![],
    }
}

async fn users_roles_grants_and_api_keys(repo: &dyn Repository) {
    repo.apply(&territory()).await.expect("territory");
    let role = Role {
        code: "dispatcher".into(),
        name_zh: "派遣员".into(),
        name_en: "Dispatcher".into(),
        permissions: [Permission::CaseRead, Permission::CaseDispatch]
            .into_iter()
            .collect(),
    };
    let mut user = new_user("li.dispatch");
    user.unit = Some("NT-JD".into());
    user.grants = vec![Grant {
        role: "dispatcher".into(),
        scope: Scope::Region("440305001".parse().expect("r")),
    }];
    repo.apply(&Batch {
        at: t0(),
        roles: vec![role.clone()],
        users: vec![user],
        ..Batch::default()
    })
    .await
    .expect("applies");
    assert_eq!(repo.roles().await.expect("roles"), vec![role]);
    let stored = repo
        .user("li.dispatch")
        .await
        .expect("user")
        .expect("exists");
    assert_eq!(stored.unit.as_deref(), Some("NT-JD"));
    assert_eq!(stored.grants.len(), 1);
    assert_eq!(stored.created_at, t0());
    assert!(repo.user("nobody").await.expect("query").is_none());

    // A grant for a role that does not exist is refused.
    let bad = Batch {
        at: t0(),
        grants: vec![(
            "li.dispatch".into(),
            Grant {
                role: "emperor".into(),
                scope: Scope::Unit("CGJ".into()),
            },
        )],
        ..Batch::default()
    };
    assert!(matches!(
        repo.apply(&bad).await,
        Err(StoreError::Invalid(_))
    ));

    let key = ApiKeyRecord {
        id: uuid::Uuid::now_v7().to_string(),
        name: "12345 hotline".into(),
        prefix: "cg_ab12".into(),
        key_hash: "f".repeat(64),
        username: Some("li.dispatch".into()),
        created_at: t0(),
        revoked_at: None,
    };
    repo.create_api_key(&key).await.expect("key");
    assert_eq!(
        repo.api_key_by_hash(&"f".repeat(64)).await.expect("lookup"),
        Some(key.clone())
    );
    assert_eq!(
        repo.api_key_by_hash(&"0".repeat(64)).await.expect("lookup"),
        None
    );
    let mut same_name = key.clone();
    same_name.id = uuid::Uuid::now_v7().to_string();
    same_name.key_hash = "e".repeat(64);
    assert!(matches!(
        repo.create_api_key(&same_name).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn migrations_are_idempotent(repo: &dyn Repository) {
    repo.migrate().await.expect("first");
    repo.migrate().await.expect("second");
    assert_eq!(repo.summary().await.expect("summary"), Default::default());
}

fn new_case(id: uuid::Uuid, grid: &str, at: Timestamp) -> civicgrid_domain::case::Case {
    use civicgrid_domain::case::{Case, CaseState, Channel, StageClock, receipt_code};
    Case {
        id,
        receipt_code: receipt_code(&id),
        public_id: civicgrid_domain::case::public_id(id.as_u128() as u64 >> 3),
        reporter_key: Some("digest".into()),
        channel: Channel::Web,
        description: "井盖缺失，夜间危险".into(),
        address: Some("南头街道安乐社区".into()),
        location: Some((113.9005, 22.5005)),
        grid: Some(grid.parse().expect("grid")),
        region: grid[..12].parse().expect("region"),
        category: Some("01001".parse().expect("category")),
        attributes: [("damage".to_owned(), "missing".to_owned())]
            .into_iter()
            .collect(),
        priority: Priority::High,
        reporter_sealed: None,
        routed_units: vec!["CGJ".into()],
        routing: "rule 1".into(),
        reported_at: at,
        updated_at: at,
        clock: Some(StageClock {
            stage: Stage::Accept,
            limit: TimeLimit {
                clock: ClockType::WorkingHours,
                amount: 30,
            },
            started_at: at,
            due_at: at + jiff::SignedDuration::from_mins(30),
            paused_at: None,
        }),
        state: CaseState::new(),
    }
}

fn report_event(case: &civicgrid_domain::case::Case) -> civicgrid_store::CaseEvent {
    civicgrid_store::CaseEvent {
        case_id: case.id,
        seq: 1,
        action: "report".into(),
        from: None,
        to: civicgrid_domain::case::Status::Reported,
        actor: "resident".into(),
        at: case.reported_at,
        payload: serde_json::json!({"channel": "web"}),
    }
}

/// The stored event of a transition of case `id`.
fn transition_event(
    id: uuid::Uuid,
    t: &civicgrid_domain::case::Transition,
    actor: &str,
    at: Timestamp,
) -> civicgrid_store::CaseEvent {
    civicgrid_store::CaseEvent {
        case_id: id,
        seq: t.version,
        action: t.action.name().into(),
        from: Some(t.from),
        to: t.to,
        actor: actor.into(),
        at,
        payload: serde_json::to_value(t).expect("json"),
    }
}

async fn with_catalogue(repo: &dyn Repository) {
    let mut batch = territory();
    batch.categories = categories();
    repo.apply(&batch).await.expect("territory and catalogue");
}

async fn cases_and_their_events_with_optimistic_concurrency(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, Status, apply, decide};
    with_catalogue(repo).await;
    let id = uuid::Uuid::now_v7();
    let case = new_case(id, "440305001001001", t0());
    repo.create_case(&case, &report_event(&case))
        .await
        .expect("created");
    assert_eq!(repo.case(&id).await.expect("read"), Some(case.clone()));
    assert_eq!(
        repo.case_by_receipt(&case.receipt_code)
            .await
            .expect("read"),
        Some(case.clone())
    );
    assert_eq!(
        repo.case_by_public_id(&case.public_id).await.expect("read"),
        Some(case.clone())
    );
    assert_eq!(
        repo.case_by_public_id(&case.receipt_code.replace('-', ""))
            .await
            .expect("read"),
        None,
        "a receipt code is not a public number"
    );

    // Two people act on version 1; the first wins, the second is told the current version.
    let accept = decide(&case.state, Action::Accept).expect("accept");
    let mut accepted = case.clone();
    accepted.state = apply(&case.state, &accept);
    let event = |c: &civicgrid_domain::case::Case,
                 t: &civicgrid_domain::case::Transition,
                 who: &str| transition_event(c.id, t, who, t0());
    repo.record_change(&accepted, 1, &[event(&accepted, &accept, "calltaker1")])
        .await
        .expect("first wins");
    let refuse = decide(
        &case.state,
        Action::Refuse {
            reason: "重复".into(),
        },
    )
    .expect("refuse");
    let mut refused = case.clone();
    refused.state = apply(&case.state, &refuse);
    assert!(matches!(
        repo.record_change(&refused, 1, &[event(&refused, &refuse, "calltaker2")])
            .await,
        Err(StoreError::Stale { current: 2 })
    ));
    let stored = repo.case(&id).await.expect("read").expect("exists");
    assert_eq!(stored.state.status, Status::Accepted);
    let events = repo.case_events(&id).await.expect("events");
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(events[1].actor, "calltaker1");
    // The events replay to the stored state.
    let transitions: Vec<civicgrid_domain::case::Transition> = events[1..]
        .iter()
        .map(|e| serde_json::from_value(e.payload.clone()).expect("transition"))
        .collect();
    assert_eq!(civicgrid_domain::case::replay(&transitions), stored.state);

    // A change to a case that does not exist.
    let ghost = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    assert!(matches!(
        repo.record_change(&ghost, 1, &[report_event(&ghost)]).await,
        Err(StoreError::NotFound(_))
    ));
    // The same receipt code twice is refused (and would be retried with a new id).
    let mut twin = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    twin.receipt_code = case.receipt_code.clone();
    assert!(matches!(
        repo.create_case(&twin, &report_event(&twin)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(repo.case(&twin.id).await.expect("read").is_none());
}

async fn listing_cases_filters_and_pages(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, Status, apply, decide};
    with_catalogue(repo).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let grid = if i % 2 == 0 {
            "440305001001001"
        } else {
            "440305001002001"
        };
        let at = t0() + jiff::SignedDuration::from_hours(i);
        let mut case = new_case(uuid::Uuid::now_v7(), grid, at);
        repo.create_case(&case, &report_event(&case))
            .await
            .expect("created");
        if i == 4 {
            for action in [
                Action::Accept,
                Action::Register,
                Action::Dispatch {
                    units: vec!["CGJ".into(), "NT-JD".into()],
                },
            ] {
                let t = decide(&case.state, action).expect("legal");
                let before = case.state.version;
                case.state = apply(&case.state, &t);
                let e = transition_event(case.id, &t, "dispatcher", at);
                repo.record_change(&case, before, std::slice::from_ref(&e))
                    .await
                    .expect("change");
            }
        }
        ids.push(case.id);
    }
    let list = |f: civicgrid_store::CaseFilter| async move {
        repo.cases(&f)
            .await
            .expect("list")
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    let all = list(civicgrid_store::CaseFilter {
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(
        all,
        ids.iter().rev().copied().collect::<Vec<_>>(),
        "newest first"
    );
    let page1 = list(civicgrid_store::CaseFilter {
        limit: 2,
        ..Default::default()
    })
    .await;
    let page2 = list(civicgrid_store::CaseFilter {
        limit: 2,
        before: page1.last().copied(),
        ..Default::default()
    })
    .await;
    assert_eq!([page1, page2].concat(), all[..4]);
    let in_grid = list(civicgrid_store::CaseFilter {
        grid: Some("440305001002001".into()),
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(in_grid, [ids[3], ids[1]]);
    let with_unit = list(civicgrid_store::CaseFilter {
        unit: Some("NT-JD".into()),
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(with_unit, [ids[4]]);
    let dispatched = list(civicgrid_store::CaseFilter {
        status: Some(Status::Dispatched),
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(dispatched, [ids[4]]);
    let in_region = list(civicgrid_store::CaseFilter {
        within: Some("440305001001".parse().expect("r")),
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(in_region.len(), 3);
    // Due 30 minutes after report: at t0+2h30m the cases reported at t0 and t0+1h are overdue.
    let overdue = list(civicgrid_store::CaseFilter {
        overdue_at: Some(t0() + jiff::SignedDuration::from_mins(150)),
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(overdue, [ids[1], ids[0]]);
    let window = list(civicgrid_store::CaseFilter {
        reported_from: Some(t0() + jiff::SignedDuration::from_hours(1)),
        reported_to: Some(t0() + jiff::SignedDuration::from_hours(3)),
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(window, [ids[2], ids[1]]);
    let any_of = list(civicgrid_store::CaseFilter {
        statuses: vec![Status::Dispatched, Status::Reported],
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(
        any_of.len(),
        all.len(),
        "every case is reported or dispatched"
    );
    let none_of = list(civicgrid_store::CaseFilter {
        statuses: vec![Status::Closed, Status::Voided],
        limit: 100,
        ..Default::default()
    })
    .await;
    assert!(none_of.is_empty());
    let dispatched_only = list(civicgrid_store::CaseFilter {
        statuses: vec![Status::Dispatched],
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(dispatched_only, [ids[4]]);
    let skip_two = list(civicgrid_store::CaseFilter {
        limit: 2,
        offset: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(skip_two, all[2..4]);
    let in_categories = list(civicgrid_store::CaseFilter {
        categories: vec!["09001".into(), "01001".into()],
        limit: 100,
        ..Default::default()
    })
    .await;
    assert_eq!(in_categories, all);
    let other_categories = list(civicgrid_store::CaseFilter {
        categories: vec!["09001".into(), "0100".into()],
        limit: 100,
        ..Default::default()
    })
    .await;
    assert!(
        other_categories.is_empty(),
        "codes match whole, not by prefix"
    );
    // The alert feed: dispatch events of the case in 440305001001, since t0.
    let feed = repo
        .events_since(
            &["dispatch", "accept"],
            Some(&"440305001001".parse().expect("r")),
            t0(),
            100,
        )
        .await
        .expect("feed");
    assert_eq!(
        feed.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["accept", "dispatch"]
    );
    assert!(
        repo.events_since(
            &["dispatch"],
            Some(&"440305001002".parse().expect("r")),
            t0(),
            100
        )
        .await
        .expect("feed")
        .is_empty()
    );
}

async fn a_batch_of_new_cases_is_written_whole_or_not_at_all(repo: &dyn Repository) {
    with_catalogue(repo).await;
    let batch: Vec<_> = (0..3)
        .map(|i| {
            let grid = if i == 1 {
                "440305001002001"
            } else {
                "440305001001001"
            };
            let c = new_case(uuid::Uuid::now_v7(), grid, t0());
            let e = report_event(&c);
            (c, e)
        })
        .collect();
    repo.create_cases(&batch).await.expect("batch");
    for (c, _) in &batch {
        assert_eq!(repo.case(&c.id).await.expect("read").as_ref(), Some(c));
        let events = repo.case_events(&c.id).await.expect("events");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0], report_event(c));
    }
    // The events carry their own case's region.
    let feed = repo
        .events_since(
            &["report"],
            Some(&"440305001002".parse().expect("r")),
            t0(),
            100,
        )
        .await
        .expect("feed");
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].case_id, batch[1].0.id);
    // A batch with one bad case (a receipt code already taken) writes nothing.
    let mut bad: Vec<_> = (0..3)
        .map(|_| {
            let c = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
            let e = report_event(&c);
            (c, e)
        })
        .collect();
    bad[2].0.receipt_code = batch[0].0.receipt_code.clone();
    assert!(matches!(
        repo.create_cases(&bad).await,
        Err(StoreError::Conflict(_))
    ));
    for (c, _) in &bad {
        assert!(repo.case(&c.id).await.expect("read").is_none());
    }
}

async fn a_group_commit_of_reports_and_changes_fails_only_stale_changes(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, Case, Status, apply, decide};
    use civicgrid_store::CaseWrite;
    with_catalogue(repo).await;
    let (a, b) = (
        new_case(uuid::Uuid::now_v7(), "440305001001001", t0()),
        new_case(uuid::Uuid::now_v7(), "440305001002001", t0()),
    );
    for c in [&a, &b] {
        repo.create_case(c, &report_event(c))
            .await
            .expect("created");
    }
    let step = |c: &Case, action: Action| {
        let t = decide(&c.state, action).expect("allowed");
        let mut next = c.clone();
        next.state = apply(&c.state, &t);
        let event = transition_event(c.id, &t, "calltaker1", t0());
        (next, event)
    };
    let (a2, a2_event) = step(&a, Action::Accept);
    let (a3, a3_event) = step(&a2, Action::Register);
    let (b2, b2_event) = step(&b, Action::Accept);
    let c = new_case(uuid::Uuid::now_v7(), "440305001001002", t0());
    let ghost = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    let (ghost2, ghost2_event) = step(&ghost, Action::Accept);
    let answers = repo
        .write_cases(&[
            CaseWrite::Change {
                case: a2.clone(),
                expected_version: 1,
                events: vec![a2_event],
            },
            // Someone else's view of b, one version behind.
            CaseWrite::Change {
                case: b2.clone(),
                expected_version: 0,
                events: vec![b2_event],
            },
            CaseWrite::New {
                case: c.clone(),
                event: report_event(&c),
            },
            // A second change of a in the same commit sees the first.
            CaseWrite::Change {
                case: a3.clone(),
                expected_version: 2,
                events: vec![a3_event],
            },
            CaseWrite::Change {
                case: ghost2,
                expected_version: 1,
                events: vec![ghost2_event],
            },
        ])
        .await
        .expect("committed");
    assert_eq!(answers.len(), 5);
    assert!(
        answers[0].is_ok() && answers[2].is_ok() && answers[3].is_ok(),
        "{answers:?}"
    );
    assert!(
        matches!(answers[1], Err(StoreError::Stale { current: 1 })),
        "{answers:?}"
    );
    assert!(
        matches!(answers[4], Err(StoreError::NotFound(_))),
        "{answers:?}"
    );
    let stored_a = repo.case(&a.id).await.expect("read").expect("a");
    assert_eq!(stored_a.state.status, Status::Registered);
    assert_eq!(
        repo.case_events(&a.id)
            .await
            .expect("events")
            .iter()
            .map(|e| e.seq)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(repo.case(&b.id).await.expect("read"), Some(b.clone()));
    assert_eq!(repo.case_events(&b.id).await.expect("events").len(), 1);
    assert_eq!(repo.case(&c.id).await.expect("read"), Some(c.clone()));
    assert!(repo.case(&ghost.id).await.expect("read").is_none());
    assert!(repo.check_integrity().await.expect("check").is_empty());

    // Any other failure (here a receipt code already taken) stores nothing of the batch.
    let (b3, b3_event) = step(
        &repo.case(&b.id).await.expect("read").expect("b"),
        Action::Accept,
    );
    let mut twin = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    twin.receipt_code = c.receipt_code.clone();
    let failed = repo
        .write_cases(&[
            CaseWrite::Change {
                case: b3,
                expected_version: 1,
                events: vec![b3_event],
            },
            CaseWrite::New {
                case: twin.clone(),
                event: report_event(&twin),
            },
        ])
        .await;
    assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
    assert_eq!(repo.case(&b.id).await.expect("read"), Some(b.clone()));
    assert!(repo.case(&twin.id).await.expect("read").is_none());

    // A change alone (one statement on PostgreSQL) keeps the case's units: added, kept,
    // dropped.
    let with_unit = |unit: &str| civicgrid_store::CaseFilter {
        unit: Some(unit.into()),
        limit: 10,
        ..civicgrid_store::CaseFilter::default()
    };
    let mut current = b;
    for (version, units) in (1..).zip([vec!["NT-JD", "CGJ"], vec!["CGJ"], vec![]]) {
        let (mut next, event) = step(&current, Action::Accept);
        next.state.units = units.iter().map(|u| u.to_string()).collect();
        let answers = repo
            .write_cases(&[CaseWrite::Change {
                case: next.clone(),
                expected_version: version,
                events: vec![event],
            }])
            .await
            .expect("committed");
        assert!(answers[0].is_ok(), "{answers:?}");
        for unit in ["NT-JD", "CGJ"] {
            let found = repo.cases(&with_unit(unit)).await.expect("list");
            assert_eq!(
                found.iter().any(|c| c.id == next.id),
                units.contains(&unit),
                "{unit} after {units:?}"
            );
        }
        assert_eq!(repo.case(&next.id).await.expect("read"), Some(next.clone()));
        // Back to the state the next accept starts from, at the new version.
        current = next;
        current.state.status = Status::Reported;
    }
    assert_eq!(
        repo.case_events(&current.id).await.expect("events").len(),
        4
    );
}

async fn job_leases_divide_a_round_and_expire(repo: &dyn Repository) {
    let scopes: Vec<String> = ["a", "b", "c"].map(str::to_owned).to_vec();
    repo.ensure_leases("sweep", &scopes).await.expect("ensure");
    // Again, and with one more scope: existing rows stay as they are.
    repo.ensure_leases("sweep", &scopes[..2])
        .await
        .expect("ensure");
    let min = jiff::SignedDuration::from_mins;
    let (now, round) = (t0() + min(5), t0());
    let until = now + min(1);
    let claim = |owner: &'static str, now: Timestamp, until: Timestamp, round: Timestamp| async move {
        repo.claim_lease("sweep", owner, now, until, round)
            .await
            .expect("claim")
    };
    // Two instances take different scopes; the third scope goes to whoever asks next.
    let a1 = claim("A", now, until, round).await.expect("a scope for A");
    let b1 = claim("B", now, until, round).await.expect("a scope for B");
    assert_ne!(a1, b1);
    repo.finish_lease("sweep", &a1, "A", now)
        .await
        .expect("finish");
    let a2 = claim("A", now, until, round)
        .await
        .expect("the third scope");
    assert!(a2 != a1 && a2 != b1);
    // Nothing is left in this round: B holds one, the others are finished.
    assert_eq!(claim("A", now, until, round).await, None);
    assert_eq!(
        repo.leases_unfinished("sweep", round).await.expect("count"),
        2
    );
    // A renews; B dies holding b1. A finishes a2; B's lease runs out and A takes b1 over.
    assert!(
        repo.renew_lease("sweep", &a2, "A", now + min(2))
            .await
            .expect("renew")
    );
    assert!(
        !repo
            .renew_lease("sweep", &a2, "B", now + min(2))
            .await
            .expect("renew")
    );
    repo.finish_lease("sweep", &a2, "A", now)
        .await
        .expect("finish");
    assert_eq!(
        claim(
            "A",
            now + min(1) - jiff::SignedDuration::from_secs(1),
            until,
            round
        )
        .await,
        None
    );
    let later = now + min(1);
    assert_eq!(
        claim("A", later, later + min(1), round).await.as_deref(),
        Some(b1.as_str())
    );
    // B, come back, cannot renew or finish what it lost.
    assert!(
        !repo
            .renew_lease("sweep", &b1, "B", later + min(5))
            .await
            .expect("renew")
    );
    repo.finish_lease("sweep", &b1, "B", later)
        .await
        .expect("noop");
    assert_eq!(claim("B", later, later + min(1), round).await, None);
    repo.finish_lease("sweep", &b1, "A", later)
        .await
        .expect("finish");
    // The next round opens every scope again.
    let next = t0() + min(10);
    let mut taken = Vec::new();
    while let Some(s) = claim("A", next, next + min(1), next).await {
        taken.push(s);
    }
    taken.sort();
    assert_eq!(taken, scopes);
    // Shutting down frees the leases unfinished: another instance takes them at once.
    assert_eq!(repo.release_leases("A").await.expect("release"), 3);
    assert!(claim("B", next, next + min(1), next).await.is_some());
}

/// A UUID v7 of an instant, as intake makes them.
fn id_at(at: &str) -> uuid::Uuid {
    let t: Timestamp = at.parse().expect("instant");
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        u64::try_from(t.as_second()).expect("after 1970"),
        0,
    );
    uuid::Uuid::new_v7(ts)
}

const YEARS: [&str; 4] = [
    "2019-05-01T02:00:00Z",
    "2026-11-25T08:00:00Z",
    "2031-03-01T00:00:00Z",
    "2040-07-01T00:00:00Z",
];

/// Cases of any year are stored, read by id and receipt, listed newest first and changed,
/// whether their year has a partition of its own (PostgreSQL) or not.
async fn cases_of_every_year_are_kept_and_found(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, apply, decide};
    with_catalogue(repo).await;
    // 2026-2027 and 2031-2032 (the migration made those of the real year, before and after).
    let mut made = 0;
    for at in ["2026-06-01T00:00:00Z", "2031-06-01T00:00:00Z"] {
        made += repo
            .prepare_partitions(at.parse().expect("t"))
            .await
            .expect("partitions");
    }
    let again = repo
        .prepare_partitions("2031-06-01T00:00:00Z".parse().expect("t"))
        .await
        .expect("partitions");
    match repo.backend() {
        "postgres" => assert!(made >= 2 && again == 0, "{made} {again}"),
        _ => assert_eq!((made, again), (0, 0)),
    }
    let mut cases = Vec::new();
    for at in YEARS {
        let case = new_case(id_at(at), "440305001001001", at.parse().expect("t"));
        repo.create_case(&case, &report_event(&case))
            .await
            .expect("created");
        cases.push(case);
    }
    for case in &cases {
        assert_eq!(
            repo.case(&case.id).await.expect("read").as_ref(),
            Some(case)
        );
        assert_eq!(
            repo.case_by_receipt(&case.receipt_code)
                .await
                .expect("read")
                .as_ref(),
            Some(case)
        );
        let accept = decide(&case.state, Action::Accept).expect("accept");
        let mut accepted = case.clone();
        accepted.state = apply(&case.state, &accept);
        let event = civicgrid_store::CaseEvent {
            seq: 2,
            action: "accept".into(),
            from: Some(case.state.status),
            to: accepted.state.status,
            actor: "calltaker1".into(),
            ..report_event(case)
        };
        repo.record_change(&accepted, 1, &[event])
            .await
            .expect("changed");
        assert_eq!(repo.case_events(&case.id).await.expect("events").len(), 2);
    }
    let listed: Vec<uuid::Uuid> = repo
        .cases(&civicgrid_store::CaseFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut newest_first: Vec<uuid::Uuid> = cases.iter().map(|c| c.id).collect();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    assert!(repo.check_integrity().await.expect("check").is_empty());
}

/// Where the rows went on PostgreSQL: a year with a partition keeps its cases and their events
/// there, other years in the default partitions.
/// Prepared statements keep their generic plan (see `PgRepository::connect_with`): without it
/// PostgreSQL re-plans every lookup on the partitioned tables.
#[tokio::test]
async fn postgres_connections_keep_generic_plans() {
    let Some(db) = TestDb::postgres("plans").await else {
        return;
    };
    let (pg, _) = db.pg.as_ref().expect("postgres");
    let (mode,): (String,) = sqlx::query_as("SHOW plan_cache_mode")
        .fetch_one(pg.pool())
        .await
        .expect("show");
    assert_eq!(mode, "force_generic_plan");
    db.finish().await;
}

#[tokio::test]
async fn postgres_partitions_cases_and_events_by_year() {
    let Some(db) = TestDb::postgres("partitions").await else {
        return;
    };
    cases_of_every_year_are_kept_and_found(db.repo.as_ref()).await;
    let (pg, _) = db.pg.as_ref().expect("postgres");
    let mut places = Vec::new();
    for at in YEARS {
        let prefix = &id_at(at).to_string()[..13];
        let row: (String, String) = sqlx::query_as(
            "SELECT (SELECT tableoid::regclass::text FROM cases WHERE id LIKE $1 || '%'),
                    (SELECT MIN(tableoid::regclass::text) FROM case_events WHERE case_id LIKE $1 || '%')",
        )
        .bind(prefix)
        .fetch_one(pg.pool())
        .await
        .expect("partition");
        places.push(row);
    }
    let p = |c: &str, e: &str| (c.to_owned(), e.to_owned());
    assert_eq!(
        places,
        [
            p("cases_default", "case_events_default"),
            p("cases_2026", "case_events_2026"),
            p("cases_2031", "case_events_2031"),
            p("cases_default", "case_events_default"),
        ]
    );
    db.finish().await;
}

/// A deployment made before cases were partitioned keeps every case, event and receipt code
/// through the migration, and its triggers still queue new events.
#[tokio::test]
async fn partitioning_an_existing_postgres_deployment_keeps_its_cases() {
    let url = std::env::var("CIVICGRID_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let id = uuid::Uuid::now_v7().simple().to_string();
    let schema = format!("t_partition_upgrade_{}", &id[id.len() - 8..]);
    // The schema as it was before migration 15.
    let options: sqlx::postgres::PgConnectOptions = url.parse().expect("url");
    let admin = match sqlx::PgPool::connect_with(options.clone()).await {
        Ok(p) => p,
        Err(e) => {
            let may_skip = std::env::var("CIVICGRID_SKIP_POSTGRES").is_ok_and(|v| v == "1")
                && !std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(may_skip, "PostgreSQL at {url} is unreachable: {e}");
            return;
        }
    };
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .expect("schema");
    let old = sqlx::PgPool::connect_with(options.options([("search_path", schema.as_str())]))
        .await
        .expect("pool");
    let mut before = sqlx::migrate!("./migrations/postgres");
    before.migrations = before
        .migrations
        .iter()
        .filter(|m| m.version < 15)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    before.run(&old).await.expect("migrations 1-14");
    let state = serde_json::to_string(&civicgrid_domain::case::CaseState::new()).expect("json");
    let ids: Vec<uuid::Uuid> = ["2025-12-31T23:59:59Z", "2026-11-25T08:00:00Z"]
        .into_iter()
        .map(id_at)
        .collect();
    for (i, id) in ids.iter().enumerate() {
        sqlx::query(
            "INSERT INTO cases (id, receipt_code, channel, description, region_code, attributes, priority,
               routed_units, routing, status, state, version, reported_at, updated_at)
             VALUES ($1, $2, 'web', '路灯不亮', '440305001001', '{}', 'normal', '[]', '', 'reported', $3, 1, $4, $4)",
        )
        .bind(id.to_string())
        .bind(civicgrid_domain::case::receipt_code(id))
        .bind(&state)
        .bind(1_760_000_000_000_000_i64 + i as i64)
        .execute(&old)
        .await
        .expect("case");
        sqlx::query(
            "INSERT INTO case_events (case_id, seq, action, to_status, actor, at, payload, region_code)
             VALUES ($1, 1, 'report', 'reported', 'resident', 1, '{}', '440305001001')",
        )
        .bind(id.to_string())
        .execute(&old)
        .await
        .expect("event");
    }
    old.close().await;

    let repo = PgRepository::connect_in_schema(&url, &schema)
        .await
        .expect("migrated");
    for id in &ids {
        let case = repo.case(id).await.expect("read").expect("kept");
        assert_eq!(
            repo.case_by_receipt(&case.receipt_code)
                .await
                .expect("read")
                .map(|c| c.id),
            Some(*id)
        );
        assert_eq!(repo.case_events(id).await.expect("events").len(), 1);
    }
    let (receipts, partitions, queued): (i64, String, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM case_receipts),
                (SELECT string_agg(DISTINCT tableoid::regclass::text, ',' ORDER BY tableoid::regclass::text) FROM cases),
                (SELECT COUNT(*) FROM kpi_dirty WHERE region_code = '440305001001')",
    )
    .fetch_one(repo.pool())
    .await
    .expect("counts");
    assert_eq!(
        (receipts, partitions.as_str(), queued),
        (2, "cases_2025,cases_2026", 2)
    );
    // The triggers moved to the partitioned table: a new event queues its case again.
    sqlx::query(
        "INSERT INTO case_events (case_id, seq, action, to_status, actor, at, payload, region_code)
         VALUES ($1, 2, 'accept', 'accepted', 'calltaker1', 2, '{}', '440305001001')",
    )
    .bind(ids[1].to_string())
    .execute(repo.pool())
    .await
    .expect("event");
    let (marked,): (i64,) = sqlx::query_as("SELECT marked FROM kpi_dirty WHERE item_id = $1")
        .bind(ids[1].to_string())
        .fetch_one(repo.pool())
        .await
        .expect("queue");
    assert_eq!(marked, 2);
    repo.drop_schema(&schema).await.expect("drop");
}

async fn abuse_counters_count_per_key_and_window(repo: &dyn Repository) {
    let minute = jiff::SignedDuration::from_mins(1);
    let t = t0();
    let at = |secs: i64| t + jiff::SignedDuration::from_secs(secs);
    assert_eq!(repo.window_count("a", t).await.expect("count").hits, 0);
    for n in 1..=3 {
        let c = repo.count_hit("a", at(n), minute).await.expect("hit");
        assert_eq!(c.hits, n as u64);
        // The window runs from the first hit.
        assert_eq!(c.resets_at, at(1) + minute);
    }
    assert_eq!(
        repo.count_hit("b", at(5), minute).await.expect("hit").hits,
        1
    );
    assert_eq!(repo.window_count("a", at(30)).await.expect("count").hits, 3);
    // A new window starts once the last one has ended.
    assert_eq!(repo.window_count("a", at(61)).await.expect("count").hits, 0);
    let c = repo.count_hit("a", at(61), minute).await.expect("hit");
    assert_eq!((c.hits, c.resets_at), (1, at(61) + minute));
    repo.clear_hits("a").await.expect("cleared");
    assert_eq!(repo.window_count("a", at(62)).await.expect("count").hits, 0);
    // Hits at the same moment from several connections are all counted.
    let burst = |_| async {
        for _ in 0..5 {
            repo.count_hit("c", at(70), minute).await.expect("hit");
        }
    };
    tokio::join!(burst(0), burst(1), burst(2), burst(3));
    assert_eq!(
        repo.window_count("c", at(70)).await.expect("count").hits,
        20
    );
    // Ended windows are forgotten: "b" (ended at 65 s), not "c".
    assert_eq!(repo.forget_ended_windows(at(66)).await.expect("forget"), 1);
    assert_eq!(
        repo.window_count("c", at(71)).await.expect("count").hits,
        20
    );
    assert_eq!(repo.forget_ended_windows(at(200)).await.expect("forget"), 1);
}

async fn sessions_expire_and_end(repo: &dyn Repository) {
    repo.apply(&Batch {
        at: t0(),
        users: vec![new_user("wang.gw"), new_user("li.dispatch")],
        ..Batch::default()
    })
    .await
    .expect("users");
    let users = repo.users().await.expect("users");
    assert_eq!(
        users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["li.dispatch", "wang.gw"]
    );
    assert!(
        users
            .iter()
            .all(|u| u.active && u.created_at == t0() && u.grants.is_empty())
    );
    assert_eq!(
        repo.user("li.dispatch").await.expect("user").as_ref(),
        Some(&users[0])
    );

    let hours = jiff::SignedDuration::from_hours;
    let (li, wang) = ("1".repeat(64), "2".repeat(64));
    repo.create_session(&li, "li.dispatch", t0(), t0() + hours(8))
        .await
        .expect("session");
    repo.create_session(&wang, "wang.gw", t0(), t0() + hours(1))
        .await
        .expect("session");
    let who = |token: &str, now: Timestamp| {
        let token = token.to_owned();
        async move { repo.session_user(&token, now).await.expect("lookup") }
    };
    // Found until its expiry, not at it.
    assert_eq!(who(&li, t0()).await.as_deref(), Some("li.dispatch"));
    assert_eq!(
        who(&li, t0() + hours(8) - jiff::SignedDuration::from_micros(1))
            .await
            .as_deref(),
        Some("li.dispatch")
    );
    assert_eq!(who(&li, t0() + hours(8)).await, None);
    assert_eq!(
        who(&wang, t0() + jiff::SignedDuration::from_mins(30))
            .await
            .as_deref(),
        Some("wang.gw")
    );
    assert_eq!(who(&wang, t0() + hours(2)).await, None);
    assert_eq!(who(&"3".repeat(64), t0()).await, None);
    // One token, one session; and only for an account that exists.
    assert!(matches!(
        repo.create_session(&li, "wang.gw", t0(), t0() + hours(8))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(who(&li, t0()).await.as_deref(), Some("li.dispatch"));
    assert!(matches!(
        repo.create_session(&"4".repeat(64), "nobody", t0(), t0() + hours(8))
            .await,
        Err(StoreError::Invalid(_))
    ));
    // Logging out ends that session alone.
    repo.delete_session(&li).await.expect("logout");
    assert_eq!(who(&li, t0() + hours(1)).await, None);
    assert_eq!(who(&wang, t0()).await.as_deref(), Some("wang.gw"));
    repo.delete_session(&li).await.expect("logout again");
}

async fn settings_are_set_once_or_replaced(repo: &dyn Repository) {
    let hours = jiff::SignedDuration::from_hours;
    let get = |key: &'static str| async move { repo.setting(key).await.expect("setting") };
    let key = "survey.respondent_key";
    assert_eq!(get(key).await, None);
    repo.put_setting_if_absent(key, "\"k1\"", t0(), "system")
        .await
        .expect("put");
    assert_eq!(get(key).await.as_deref(), Some("\"k1\""));
    // Set once: a second instance starting up does not replace it.
    repo.put_setting_if_absent(key, "\"k2\"", t0() + hours(1), "system")
        .await
        .expect("put");
    assert_eq!(get(key).await.as_deref(), Some("\"k1\""));

    let scheme = "assessment.scheme";
    repo.put_setting(scheme, r#"{"weights":{"handled":40}}"#, t0(), "admin")
        .await
        .expect("put");
    repo.put_setting(
        scheme,
        r#"{"weights":{"handled":50}}"#,
        t0() + hours(1),
        "admin",
    )
    .await
    .expect("put");
    assert_eq!(
        get(scheme).await.as_deref(),
        Some(r#"{"weights":{"handled":50}}"#)
    );
    // Replacing works on a value set once too, and then set-once leaves it be.
    repo.put_setting(key, "\"k3\"", t0() + hours(2), "admin")
        .await
        .expect("put");
    repo.put_setting_if_absent(key, "\"k4\"", t0() + hours(3), "system")
        .await
        .expect("put");
    assert_eq!(get(key).await.as_deref(), Some("\"k3\""));
    assert_eq!(
        get(scheme).await.as_deref(),
        Some(r#"{"weights":{"handled":50}}"#)
    );
    assert_eq!(get("other").await, None);
}

async fn photos_are_stored_with_their_event(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, PhotoStage, apply, decide};
    use civicgrid_store::Photo;
    with_catalogue(repo).await;
    let case = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    repo.create_case(&case, &report_event(&case))
        .await
        .expect("created");
    let at = t0() + jiff::SignedDuration::from_mins(5);
    let attach = |c: &civicgrid_domain::case::Case, stage, sha256: &str, who: &str| {
        let t = decide(
            &c.state,
            Action::AttachPhoto {
                stage,
                sha256: sha256.to_owned(),
            },
        )
        .expect("attach");
        let mut next = c.clone();
        next.state = apply(&c.state, &t);
        next.updated_at = at;
        let event = transition_event(c.id, &t, who, at);
        (next, event)
    };
    let sha = "ab".repeat(32);
    let photo = Photo {
        sha256: sha.clone(),
        stage: "report".into(),
        content_type: "image/jpeg".into(),
        data: vec![0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3],
        added_by: "resident".into(),
        added_at: at,
    };
    let (with_photo, event) = attach(&case, PhotoStage::Report, &sha, "resident");
    repo.attach_photo(&with_photo, 1, &event, &photo)
        .await
        .expect("attached");
    assert_eq!(
        repo.photo(&case.id, &sha).await.expect("read"),
        Some(photo.clone())
    );
    assert_eq!(
        repo.case(&case.id).await.expect("read"),
        Some(with_photo.clone())
    );
    let events = repo.case_events(&case.id).await.expect("events");
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["report", "attach_photo"]
    );
    assert_eq!(events[1], event);
    // Found by its case and its hash only.
    let sha2 = "cd".repeat(32);
    assert_eq!(repo.photo(&case.id, &sha2).await.expect("read"), None);
    assert_eq!(
        repo.photo(&uuid::Uuid::now_v7(), &sha).await.expect("read"),
        None
    );

    // A second photo sent against version 1: stale, and neither photo nor event is kept.
    let photo2 = Photo {
        sha256: sha2.clone(),
        stage: "before".into(),
        added_by: "wang.gw".into(),
        ..photo.clone()
    };
    let (stale, stale_event) = attach(&case, PhotoStage::Before, &sha2, "wang.gw");
    assert!(matches!(
        repo.attach_photo(&stale, 1, &stale_event, &photo2).await,
        Err(StoreError::Stale { current: 2 })
    ));
    assert_eq!(repo.photo(&case.id, &sha2).await.expect("read"), None);
    assert_eq!(repo.case_events(&case.id).await.expect("events").len(), 2);

    // A photo the schema refuses (an unknown stage) takes its event and case change with it.
    let (next, next_event) = attach(&with_photo, PhotoStage::Before, &sha2, "wang.gw");
    let odd = Photo {
        stage: "selfie".into(),
        ..photo2.clone()
    };
    assert!(
        repo.attach_photo(&next, 2, &next_event, &odd)
            .await
            .is_err()
    );
    assert_eq!(
        repo.case(&case.id).await.expect("read"),
        Some(with_photo.clone())
    );
    assert_eq!(repo.case_events(&case.id).await.expect("events").len(), 2);
    assert_eq!(repo.photo(&case.id, &sha2).await.expect("read"), None);
    // At the current version it is kept, beside the first.
    repo.attach_photo(&next, 2, &next_event, &photo2)
        .await
        .expect("attached");
    assert_eq!(
        repo.photo(&case.id, &sha2).await.expect("read"),
        Some(photo2)
    );
    assert_eq!(repo.photo(&case.id, &sha).await.expect("read"), Some(photo));
    assert_eq!(repo.case(&case.id).await.expect("read"), Some(next));
    assert!(repo.check_integrity().await.expect("check").is_empty());
}

async fn personal_data_reads_are_recorded(repo: &dyn Repository) {
    with_catalogue(repo).await;
    let a = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    let b = new_case(uuid::Uuid::now_v7(), "440305001002001", t0());
    for c in [&a, &b] {
        repo.create_case(c, &report_event(c))
            .await
            .expect("created");
    }
    let at = |mins: i64| t0() + jiff::SignedDuration::from_mins(mins);
    // Recorded out of order: listed oldest first.
    for (case, actor, what, mins) in [
        (&a, "li.dispatch", "reporter_phone", 120),
        (&b, "li.dispatch", "reporter_name", 90),
        (&a, "wang.gw", "reporter_name", 60),
        (&a, "li.dispatch", "reporter_phone", 180),
    ] {
        repo.record_personal_data_read(case, actor, what, at(mins))
            .await
            .expect("recorded");
    }
    let read = |mins: i64, actor: &str, what: &str| (at(mins), actor.to_owned(), what.to_owned());
    assert_eq!(
        repo.personal_data_reads(&a.id).await.expect("reads"),
        vec![
            read(60, "wang.gw", "reporter_name"),
            read(120, "li.dispatch", "reporter_phone"),
            read(180, "li.dispatch", "reporter_phone"),
        ]
    );
    assert_eq!(
        repo.personal_data_reads(&b.id).await.expect("reads"),
        vec![read(90, "li.dispatch", "reporter_name")]
    );
    // A read of a case that is not stored is refused, and nothing is recorded for it.
    let ghost = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    assert!(matches!(
        repo.record_personal_data_read(&ghost, "li.dispatch", "reporter_phone", at(200))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(
        repo.personal_data_reads(&ghost.id)
            .await
            .expect("reads")
            .is_empty()
    );
}

async fn appeals_move_on_only_from_the_expected_status(repo: &dyn Repository) {
    use civicgrid_domain::kpi::{AppealStatus, Subject};
    use civicgrid_store::{Appeal, ScoreAdjustment};
    let (november, october) = ("2026-11-01..2026-12-01", "2026-10-01..2026-11-01");
    let hours = jiff::SignedDuration::from_hours;
    let appeal = |subject: Subject, period: &str, region: &str, h: i64| Appeal {
        id: uuid::Uuid::now_v7(),
        subject,
        period: period.into(),
        points: 2.5,
        reason: "暴雨期间道路封闭，无法按时处置".into(),
        status: AppealStatus::Submitted,
        history: serde_json::json!([{"step": "submitted", "by": "cgj.head", "note": "暴雨"}]),
        submitted_by: "cgj.head".into(),
        submitted_at: t0() + hours(h),
        region: region.into(),
    };
    let unit = appeal(Subject::Unit("CGJ".into()), november, "440305", 0);
    let grid = appeal(
        Subject::Grid("440305001001001".into()),
        november,
        "440305001001",
        1,
    );
    let old = appeal(Subject::Staff("wang.gw".into()), october, "440305", 2);
    for a in [&unit, &grid, &old] {
        repo.create_appeal(a).await.expect("created");
    }
    assert_eq!(
        repo.appeal(&unit.id).await.expect("read"),
        Some(unit.clone())
    );
    assert_eq!(
        repo.appeal(&uuid::Uuid::now_v7()).await.expect("read"),
        None
    );
    assert_eq!(
        repo.appeals(Some(november)).await.expect("list"),
        vec![grid.clone(), unit.clone()],
        "newest first"
    );
    assert_eq!(
        repo.appeals(None).await.expect("list"),
        vec![old.clone(), grid.clone(), unit.clone()]
    );
    assert!(
        repo.appeals(Some("2026-09-01..2026-10-01"))
            .await
            .expect("list")
            .is_empty()
    );
    assert!(matches!(
        repo.create_appeal(&unit).await,
        Err(StoreError::Conflict(_))
    ));

    let step = |a: &Appeal, status: AppealStatus, by: &str| {
        let mut next = a.clone();
        next.status = status;
        if let Some(h) = next.history.as_array_mut() {
            h.push(serde_json::json!({"step": status.as_str(), "by": by}));
        }
        next
    };
    let reviewed = step(&unit, AppealStatus::Reviewed, "kpi.office");
    let upheld = step(&reviewed, AppealStatus::Upheld, "district.leader");
    let adjustment = ScoreAdjustment {
        appeal_id: unit.id,
        subject: unit.subject.clone(),
        period: november.into(),
        points: 2.5,
        reason: "暴雨期间道路封闭，无法按时处置 / 情况属实".into(),
        made_by: "district.leader".into(),
        made_at: t0() + hours(30),
    };
    // A decision before the review: the appeal is not at Reviewed, so nothing changes (no
    // score change either).
    assert!(matches!(
        repo.update_appeal(&upheld, AppealStatus::Reviewed, Some(&adjustment))
            .await,
        Err(StoreError::Stale { .. })
    ));
    assert_eq!(
        repo.appeal(&unit.id).await.expect("read"),
        Some(unit.clone())
    );
    assert!(
        repo.adjustments(november)
            .await
            .expect("adjustments")
            .is_empty()
    );
    repo.update_appeal(&reviewed, AppealStatus::Submitted, None)
        .await
        .expect("reviewed");
    assert_eq!(
        repo.appeal(&unit.id).await.expect("read"),
        Some(reviewed.clone())
    );
    // A second reviewer working from the submitted appeal is too late.
    let rival = step(&unit, AppealStatus::Reviewed, "someone.else");
    assert!(matches!(
        repo.update_appeal(&rival, AppealStatus::Submitted, None)
            .await,
        Err(StoreError::Stale { .. })
    ));
    assert_eq!(
        repo.appeal(&unit.id).await.expect("read"),
        Some(reviewed.clone())
    );
    // Upheld, with its score change, together.
    repo.update_appeal(&upheld, AppealStatus::Reviewed, Some(&adjustment))
        .await
        .expect("upheld");
    assert_eq!(
        repo.appeal(&unit.id).await.expect("read"),
        Some(upheld.clone())
    );
    assert_eq!(
        repo.adjustments(november).await.expect("adjustments"),
        vec![adjustment.clone()]
    );
    assert!(
        repo.adjustments(october)
            .await
            .expect("adjustments")
            .is_empty()
    );
    // Decided is final.
    let rejected = step(&reviewed, AppealStatus::Rejected, "district.leader");
    assert!(matches!(
        repo.update_appeal(&rejected, AppealStatus::Reviewed, None)
            .await,
        Err(StoreError::Stale { .. })
    ));
    assert_eq!(
        repo.appeal(&unit.id).await.expect("read"),
        Some(upheld.clone())
    );
    // The grid's appeal is rejected: no score change.
    let grid_reviewed = step(&grid, AppealStatus::Reviewed, "kpi.office");
    repo.update_appeal(&grid_reviewed, AppealStatus::Submitted, None)
        .await
        .expect("reviewed");
    let grid_rejected = step(&grid_reviewed, AppealStatus::Rejected, "district.leader");
    repo.update_appeal(&grid_rejected, AppealStatus::Reviewed, None)
        .await
        .expect("rejected");
    assert_eq!(
        repo.appeals(Some(november)).await.expect("list"),
        vec![grid_rejected, upheld]
    );
    assert_eq!(
        repo.adjustments(november).await.expect("adjustments"),
        vec![adjustment]
    );
    assert_eq!(repo.appeal(&old.id).await.expect("read"), Some(old));
}

async fn surveys_take_one_answer_per_respondent(repo: &dyn Repository) {
    use civicgrid_store::Survey;
    let (november, october) = ("2026-11-01..2026-12-01", "2026-10-01..2026-11-01");
    let survey = |title: &str, period: &str, units: &[&str], h: i64| {
        let at = t0() + jiff::SignedDuration::from_hours(h);
        Survey {
            id: uuid::Uuid::now_v7(),
            title: title.into(),
            period: period.into(),
            units: units.iter().map(|u| (*u).to_owned()).collect(),
            closes_at: at + jiff::SignedDuration::from_hours(24 * 7),
            created_by: "nt.leader".into(),
            created_at: at,
            region: "440305".into(),
        }
    };
    let main = survey("十一月群众评议", november, &["CGJ", "NT-JD"], 0);
    let extra = survey("十一月补充评议", november, &["CGJ"], 1);
    let before = survey("十月群众评议", october, &["CGJ"], -24 * 30);
    for s in [&main, &extra, &before] {
        repo.create_survey(s).await.expect("created");
    }
    assert_eq!(
        repo.survey(&main.id).await.expect("read"),
        Some(main.clone())
    );
    assert_eq!(
        repo.survey(&uuid::Uuid::now_v7()).await.expect("read"),
        None
    );

    let ratings = |r: &[(&str, u8)]| {
        r.iter()
            .map(|(u, n)| ((*u).to_owned(), *n))
            .collect::<BTreeMap<String, u8>>()
    };
    let at = t0() + jiff::SignedDuration::from_hours(2);
    let (r1, r2, r3) = ("1".repeat(64), "2".repeat(64), "3".repeat(64));
    repo.add_survey_response(&main.id, &r1, &ratings(&[("CGJ", 5), ("NT-JD", 3)]), at)
        .await
        .expect("answered");
    repo.add_survey_response(&main.id, &r2, &ratings(&[("CGJ", 4)]), at)
        .await
        .expect("answered");
    // The same person again: refused, and the first answer stands.
    assert!(matches!(
        repo.add_survey_response(&main.id, &r1, &ratings(&[("CGJ", 1), ("NT-JD", 1)]), at)
            .await,
        Err(StoreError::Conflict(_))
    ));
    // The same person in another survey is another answer.
    repo.add_survey_response(&extra.id, &r1, &ratings(&[("CGJ", 2)]), at)
        .await
        .expect("answered");
    repo.add_survey_response(&before.id, &r3, &ratings(&[("CGJ", 1)]), at)
        .await
        .expect("answered");
    // A survey that does not exist takes no answers.
    assert!(
        repo.add_survey_response(&uuid::Uuid::now_v7(), &r3, &ratings(&[("CGJ", 5)]), at)
            .await
            .is_err()
    );

    let sums = |s: &[(&str, (u64, u64))]| {
        s.iter()
            .map(|(u, n)| ((*u).to_owned(), *n))
            .collect::<BTreeMap<String, (u64, u64)>>()
    };
    assert_eq!(
        repo.survey_ratings(november).await.expect("ratings"),
        sums(&[("CGJ", (5 + 4 + 2, 3)), ("NT-JD", (3, 1))])
    );
    assert_eq!(
        repo.survey_ratings(october).await.expect("ratings"),
        sums(&[("CGJ", (1, 1))])
    );
    assert!(
        repo.survey_ratings("2026-09-01..2026-10-01")
            .await
            .expect("ratings")
            .is_empty()
    );
}

async fn kpi_rollups_queue_apply_and_sum(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, apply, decide};
    use civicgrid_domain::kpi::{Counters, Subject};
    use civicgrid_store::KpiEntry;
    with_catalogue(repo).await;
    let queue = |limit: u32| async move {
        let mut q: Vec<(uuid::Uuid, i64)> = repo
            .kpi_dirty(limit)
            .await
            .expect("queue")
            .into_iter()
            .map(|k| {
                assert_eq!(k.source, "case", "cases are queued as the source `case`");
                (k.id, k.marked)
            })
            .collect();
        q.sort();
        q
    };
    assert!(queue(100).await.is_empty());
    // Every event queues its case, with a count of the changes.
    let a = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    let b = new_case(uuid::Uuid::now_v7(), "440305001002001", t0());
    for c in [&a, &b] {
        repo.create_case(c, &report_event(c))
            .await
            .expect("created");
    }
    let mut both = vec![(a.id, 1_i64), (b.id, 1)];
    both.sort();
    assert_eq!(queue(100).await, both);
    assert_eq!(repo.kpi_dirty(1).await.expect("queue").len(), 1);
    let accept = decide(&a.state, Action::Accept).expect("accept");
    let mut accepted = a.clone();
    accepted.state = apply(&a.state, &accept);
    repo.record_change(
        &accepted,
        1,
        &[transition_event(a.id, &accept, "calltaker1", t0())],
    )
    .await
    .expect("accepted");
    let mut both = vec![(a.id, 2_i64), (b.id, 1)];
    both.sort();
    assert_eq!(queue(100).await, both);

    let entry = |region: &str, subject: Subject, day: &str, counters: &Counters| KpiEntry {
        region: region.into(),
        subject,
        day: day.into(),
        counters: counters.clone(),
    };
    let reported = Counters {
        reported: 1,
        ..Counters::default()
    };
    let received = Counters {
        received: 1,
        ..Counters::default()
    };
    let cgj = || Subject::Unit("CGJ".into());
    let (anle, tongle) = ("440305001001", "440305001002");
    let community = |code: &str| Subject::Region(code.into());
    let a_entries = [
        entry(anle, community(anle), "2026-11-25", &reported),
        entry(anle, cgj(), "2026-11-25", &received),
    ];
    // Computed from a's first event only: stored, but a stays queued (it changed since).
    repo.apply_kpi("case", &a.id, 1, &a_entries)
        .await
        .expect("applied");
    assert_eq!(queue(100).await, both);
    // Computed again, from both events: the same contributions replace, not add, and a leaves
    // the queue.
    repo.apply_kpi("case", &a.id, 2, &a_entries)
        .await
        .expect("applied");
    assert_eq!(queue(100).await, [(b.id, 1)]);
    let b_entries = [
        entry(tongle, community(tongle), "2026-11-25", &reported),
        entry(tongle, cgj(), "2026-11-26", &received),
    ];
    repo.apply_kpi("case", &b.id, 1, &b_entries)
        .await
        .expect("applied");
    assert!(queue(100).await.is_empty());

    let sum = |prefix: &'static str, from: &'static str, to: &'static str| async move {
        repo.kpi_sum(prefix, from, to).await.expect("sum")
    };
    // The street on the 25th: both communities; CGJ once (b counts for it on the 26th).
    assert_eq!(
        sum("440305001", "2026-11-25", "2026-11-26").await,
        vec![
            (cgj(), received.clone()),
            (community(anle), reported.clone()),
            (community(tongle), reported.clone()),
        ]
    );
    // Days are [from, to).
    assert_eq!(
        sum("440305001", "2026-11-26", "2026-11-27").await,
        vec![(cgj(), received.clone())]
    );
    let two = Counters {
        received: 2,
        ..Counters::default()
    };
    assert_eq!(
        sum("440305", "2026-11-25", "2026-11-27").await,
        vec![
            (cgj(), two),
            (community(anle), reported.clone()),
            (community(tongle), reported.clone()),
        ]
    );
    // One community: a's alone.
    assert_eq!(
        sum("440305001001", "2026-11-01", "2026-12-01").await,
        vec![
            (cgj(), received.clone()),
            (community(anle), reported.clone())
        ]
    );
    assert!(
        sum("440305001", "2026-11-27", "2026-12-01")
            .await
            .is_empty()
    );
    assert!(
        sum("440305002", "2026-11-01", "2026-12-01")
            .await
            .is_empty()
    );

    // a's contributions change: the sums move by the difference, and a sum that comes to
    // nothing is gone.
    let handled = Counters {
        received: 1,
        handled: 1,
        ..Counters::default()
    };
    repo.apply_kpi(
        "case",
        &a.id,
        2,
        &[entry(anle, cgj(), "2026-11-25", &handled)],
    )
    .await
    .expect("replaced");
    assert_eq!(
        sum("440305001", "2026-11-25", "2026-11-26").await,
        vec![
            (cgj(), handled.clone()),
            (community(tongle), reported.clone())
        ]
    );
    repo.apply_kpi("case", &b.id, 1, &[])
        .await
        .expect("cleared");
    assert_eq!(
        sum("", "2026-01-01", "2027-01-01").await,
        vec![(cgj(), handled)]
    );
}

async fn webhook_deliveries_are_leased_and_finished(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, apply, decide};
    use civicgrid_domain::notify::EventFilter;
    use civicgrid_store::{DeliveryCounts, DeliveryOutcome, Webhook};
    with_catalogue(repo).await;
    let secs = jiff::SignedDuration::from_secs;
    let mins = jiff::SignedDuration::from_mins;
    let hook = |n: i64, region: &str, actions: &str, active: bool| Webhook {
        id: uuid::Uuid::now_v7(),
        url: format!("http://127.0.0.1:{}/hook", 9000 + n),
        secret: format!("whsec_test{n}"),
        region: region.into(),
        actions: EventFilter::parse(actions).expect("filter").stored(),
        active,
        created_by: "admin".into(),
        created_at: t0() + secs(n),
    };
    let every = hook(1, "", "", true);
    let accepts = hook(2, "440305001002", "accept", true);
    let stopped = hook(3, "", "", false);
    for w in [&every, &accepts, &stopped] {
        repo.create_webhook(w).await.expect("webhook");
    }
    assert_eq!(
        repo.webhooks().await.expect("list"),
        vec![
            (every.clone(), DeliveryCounts::default()),
            (accepts.clone(), DeliveryCounts::default()),
            (stopped.clone(), DeliveryCounts::default()),
        ]
    );
    assert!(
        !repo
            .set_webhook_active(&uuid::Uuid::now_v7(), true)
            .await
            .expect("set")
    );
    let counts = || async move {
        repo.webhooks()
            .await
            .expect("list")
            .into_iter()
            .map(|(w, c)| (w.id, c))
            .collect::<Vec<_>>()
    };
    let counted = |pending: i64, delivered: i64, failed: i64| DeliveryCounts {
        pending,
        delivered,
        failed,
    };

    // The reports of a case in each community: queued for the subscription to every event.
    let a = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    let b = new_case(uuid::Uuid::now_v7(), "440305001002001", t0());
    for c in [&a, &b] {
        repo.create_case(c, &report_event(c))
            .await
            .expect("created");
    }
    // Stopped, it takes no more; b's acceptance goes to the subscription of its community.
    assert!(
        repo.set_webhook_active(&every.id, false)
            .await
            .expect("stop")
    );
    let accept = decide(&b.state, Action::Accept).expect("accept");
    let mut b2 = b.clone();
    b2.state = apply(&b.state, &accept);
    let accepted = transition_event(b.id, &accept, "calltaker1", t0() + mins(1));
    repo.record_change(&b2, 1, std::slice::from_ref(&accepted))
        .await
        .expect("accepted");
    let listed = repo.webhooks().await.expect("list");
    assert!(!listed[0].0.active && listed[1].0.active && !listed[2].0.active);
    assert_eq!(
        counts().await,
        [
            (every.id, counted(2, 0, 0)),
            (accepts.id, counted(1, 0, 0)),
            (stopped.id, counted(0, 0, 0)),
        ]
    );

    // Instance A leases the two oldest, B what is left; then nothing is left to lease.
    let now = t0() + mins(2);
    let until = now + mins(1);
    let first = repo
        .claim_deliveries("instance-a", now, until, 2)
        .await
        .expect("claim");
    let mut keys: Vec<_> = first
        .iter()
        .map(|d| (d.webhook_id, d.event.case_id, d.event.seq, d.attempts))
        .collect();
    keys.sort();
    let mut want = vec![(every.id, a.id, 1_u64, 1_u32), (every.id, b.id, 1, 1)];
    want.sort();
    assert_eq!(keys, want);
    let of_a = first
        .iter()
        .find(|d| d.event.case_id == a.id)
        .expect("a's report");
    assert_eq!(
        (of_a.url.as_str(), of_a.secret.as_str()),
        (every.url.as_str(), every.secret.as_str())
    );
    assert_eq!(of_a.event, report_event(&a));
    assert_eq!(
        (
            of_a.region_code.as_str(),
            of_a.grid_code.as_deref(),
            of_a.category_code.as_deref()
        ),
        ("440305001001", Some("440305001001001"), Some("01001"))
    );
    let second = repo
        .claim_deliveries("instance-b", now, until, 10)
        .await
        .expect("claim");
    assert_eq!(second.len(), 1);
    assert_eq!(
        (second[0].webhook_id, &second[0].event, second[0].attempts),
        (accepts.id, &accepted, 1)
    );
    assert_eq!(second[0].region_code, "440305001002");
    assert!(
        repo.claim_deliveries("instance-c", now + secs(30), until + secs(30), 10)
            .await
            .expect("claim")
            .is_empty()
    );

    // Only the holder of a lease finishes it.
    let at = now + secs(10);
    let finish = |webhook: uuid::Uuid,
                  case: uuid::Uuid,
                  seq: u64,
                  owner: &'static str,
                  at: Timestamp,
                  outcome: DeliveryOutcome| async move {
        repo.finish_delivery(&webhook, (&case, seq), owner, at, &outcome)
            .await
            .expect("finish")
    };
    use civicgrid_store::DeliveryOutcome::{Delivered, Failed, Retry};
    assert!(!finish(every.id, a.id, 1, "instance-b", at, Delivered).await);
    assert!(finish(every.id, a.id, 1, "instance-a", at, Delivered).await);
    assert!(!finish(every.id, a.id, 1, "instance-a", at, Delivered).await);
    let retry_at = t0() + mins(10);
    let retry = Retry {
        at: retry_at,
        error: "HTTP 503".into(),
    };
    assert!(finish(every.id, b.id, 1, "instance-a", at, retry).await);
    let gone = Failed {
        error: "HTTP 410".into(),
    };
    assert!(finish(accepts.id, b.id, 2, "instance-b", at, gone).await);
    assert_eq!(
        counts().await,
        [
            (every.id, counted(1, 1, 0)),
            (accepts.id, counted(0, 0, 1)),
            (stopped.id, counted(0, 0, 0)),
        ]
    );

    // The retry waits for its time; the failed delivery is not tried again.
    assert!(
        repo.claim_deliveries("instance-c", retry_at - secs(1), retry_at + mins(1), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let key = |ds: Vec<civicgrid_store::DueDelivery>| {
        ds.iter()
            .map(|d| (d.webhook_id, d.event.case_id, d.event.seq, d.attempts))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        key(repo
            .claim_deliveries("instance-c", retry_at, retry_at + mins(1), 10)
            .await
            .expect("claim")),
        [(every.id, b.id, 1, 2)]
    );
    // C dies holding it: once its lease has run out, D takes it over and C cannot finish it.
    assert!(
        repo.claim_deliveries("instance-d", retry_at + secs(59), retry_at + mins(2), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(
        key(repo
            .claim_deliveries("instance-d", retry_at + mins(1), retry_at + mins(2), 10)
            .await
            .expect("claim")),
        [(every.id, b.id, 1, 3)]
    );
    let late = retry_at + mins(1) + secs(5);
    assert!(!finish(every.id, b.id, 1, "instance-c", late, Delivered).await);
    assert!(finish(every.id, b.id, 1, "instance-d", late, Delivered).await);
    assert_eq!(
        counts().await,
        [
            (every.id, counted(0, 2, 0)),
            (accepts.id, counted(0, 0, 1)),
            (stopped.id, counted(0, 0, 0)),
        ]
    );
    let hour_later = t0() + jiff::SignedDuration::from_hours(1);
    assert!(
        repo.claim_deliveries("instance-a", hour_later, hour_later + mins(1), 10)
            .await
            .expect("claim")
            .is_empty()
    );

    // Started again, a subscription takes the events from then on.
    assert!(
        repo.set_webhook_active(&stopped.id, true)
            .await
            .expect("start")
    );
    let accept_a = decide(&a.state, Action::Accept).expect("accept");
    let mut a2 = a.clone();
    a2.state = apply(&a.state, &accept_a);
    repo.record_change(
        &a2,
        1,
        &[transition_event(a.id, &accept_a, "calltaker1", hour_later)],
    )
    .await
    .expect("accepted");
    assert_eq!(
        counts().await,
        [
            (every.id, counted(0, 2, 0)),
            (accepts.id, counted(0, 0, 1)),
            (stopped.id, counted(1, 0, 0)),
        ]
    );
}

async fn operations_gauges_count_what_is_open(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, Case, apply, decide};
    use civicgrid_store::{DeliveryOutcome, OperationsGauges, Webhook};
    assert_eq!(
        repo.operations_gauges(t0()).await.expect("gauges"),
        OperationsGauges::default()
    );
    with_catalogue(repo).await;
    let hours = jiff::SignedDuration::from_hours;
    let mins = jiff::SignedDuration::from_mins;
    repo.create_webhook(&Webhook {
        id: uuid::Uuid::now_v7(),
        url: "http://127.0.0.1:9000/hook".into(),
        secret: "whsec_ops".into(),
        region: String::new(),
        actions: String::new(),
        active: true,
        created_by: "admin".into(),
        created_at: t0(),
    })
    .await
    .expect("webhook");
    // Each due 30 minutes after its report.
    let open = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    let later = new_case(uuid::Uuid::now_v7(), "440305001002001", t0() + hours(1));
    let refused = new_case(uuid::Uuid::now_v7(), "440305001001002", t0());
    let accepted = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    for c in [&open, &later, &refused, &accepted] {
        repo.create_case(c, &report_event(c))
            .await
            .expect("created");
    }
    let step = |c: &Case, action: Action| {
        let t = decide(&c.state, action).expect("allowed");
        let mut next = c.clone();
        next.state = apply(&c.state, &t);
        let event = transition_event(c.id, &t, "calltaker1", t0() + mins(5));
        (next, event)
    };
    let (refused2, e) = step(
        &refused,
        Action::Refuse {
            reason: "不属于受理范围".into(),
        },
    );
    repo.record_change(&refused2, 1, &[e])
        .await
        .expect("refused");
    let (accepted2, e) = step(&accepted, Action::Accept);
    repo.record_change(&accepted2, 1, &[e])
        .await
        .expect("accepted");

    // The KPI job has counted one case; the others wait.
    repo.apply_kpi("case", &open.id, 1, &[])
        .await
        .expect("applied");
    // Two jobs: one never finished a scope, the other finished its only one.
    repo.ensure_leases(
        "deadlines",
        &["440305001001".to_owned(), "440305001002".to_owned()],
    )
    .await
    .expect("leases");
    repo.ensure_leases("kpi", &["440305".to_owned()])
        .await
        .expect("leases");
    let scope = repo
        .claim_lease("kpi", "ops", t0(), t0() + mins(1), t0())
        .await
        .expect("claim")
        .expect("a scope");
    repo.finish_lease("kpi", &scope, "ops", t0() + mins(1))
        .await
        .expect("finish");
    // Six events queued six deliveries; one is given up.
    let claimed = repo
        .claim_deliveries("ops", t0() + mins(10), t0() + mins(11), 1)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    let d = &claimed[0];
    assert!(
        repo.finish_delivery(
            &d.webhook_id,
            (&d.event.case_id, d.event.seq),
            "ops",
            t0() + mins(10),
            &DeliveryOutcome::Failed {
                error: "HTTP 410".into()
            },
        )
        .await
        .expect("finish")
    );

    assert_eq!(
        repo.operations_gauges(t0() + hours(2))
            .await
            .expect("gauges"),
        OperationsGauges {
            cases_by_status: vec![
                ("accepted".into(), 1),
                ("refused".into(), 1),
                ("reported".into(), 2)
            ],
            // Not the refused one, though its deadline passed too.
            overdue_open_cases: 3,
            kpi_queue: 3,
            job_rounds: vec![
                ("deadlines".into(), 2, 0),
                ("kpi".into(), 1, (t0() + mins(1)).as_microsecond()),
            ],
            webhooks_pending: 5,
            webhooks_failed: 1,
        }
    );
    // Overdue is read at the instant asked.
    assert_eq!(
        repo.operations_gauges(t0() + hours(1))
            .await
            .expect("gauges")
            .overdue_open_cases,
        2
    );
    assert_eq!(
        repo.operations_gauges(t0() + mins(10))
            .await
            .expect("gauges")
            .overdue_open_cases,
        0
    );
}

/// Records of another capability than cases go through the same queue and rollups.
async fn any_capability_queues_and_applies_its_records(repo: &dyn Repository) {
    use civicgrid_domain::kpi::{Counters, Subject};
    use civicgrid_store::KpiEntry;
    let visit = uuid::Uuid::now_v7();
    repo.mark_kpi("visit", &visit, "440305001001")
        .await
        .expect("marked");
    repo.mark_kpi("visit", &visit, "440305001001")
        .await
        .expect("marked again");
    let queued = repo.kpi_dirty(10).await.expect("queue");
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].source.as_str(), queued[0].id, queued[0].marked),
        ("visit", visit, 2)
    );
    let counters = Counters {
        reported: 1,
        ..Counters::default()
    };
    let entry = KpiEntry {
        region: "440305001001".into(),
        subject: Subject::Staff("gw.st1c1.1".into()),
        day: "2026-11-25".into(),
        counters: counters.clone(),
    };
    // Computed from the first change only: applied, but left queued for the second.
    repo.apply_kpi("visit", &visit, 1, std::slice::from_ref(&entry))
        .await
        .expect("applied");
    assert_eq!(repo.kpi_dirty(10).await.expect("queue").len(), 1);
    repo.apply_kpi("visit", &visit, 2, std::slice::from_ref(&entry))
        .await
        .expect("applied");
    assert!(repo.kpi_dirty(10).await.expect("queue").is_empty());
    assert_eq!(
        repo.kpi_sum("440305001", "2026-11-25", "2026-11-26")
            .await
            .expect("sum"),
        vec![(Subject::Staff("gw.st1c1.1".into()), counters)]
    );
    // Gone: its contribution leaves the sums.
    repo.mark_kpi("visit", &visit, "440305001001")
        .await
        .expect("marked");
    repo.apply_kpi("visit", &visit, 1, &[])
        .await
        .expect("applied");
    assert!(
        repo.kpi_sum("440305", "2026-11-01", "2026-12-01")
            .await
            .expect("sum")
            .is_empty()
    );
}

async fn placing_a_case_moves_it_and_its_rows_to_the_new_region(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, decide};
    with_catalogue(repo).await;
    let id = uuid::Uuid::now_v7();
    let case = new_case(id, "440305001001001", t0());
    repo.create_case(&case, &report_event(&case))
        .await
        .expect("created");
    let t = decide(
        &case.state,
        Action::Correct {
            grid: Some("440305001002001".parse().expect("grid")),
            location_e6: None,
            category: None,
            routed_units: vec!["ZJJ".into()],
            routing: "rule 2".into(),
            reason: "在同乐社区".into(),
        },
    )
    .expect("correct");
    let mut placed = case.clone();
    placed.state = civicgrid_domain::case::apply(&case.state, &t);
    placed.grid = Some("440305001002001".parse().expect("grid"));
    placed.region = "440305001002".parse().expect("region");
    placed.routed_units = vec!["ZJJ".into()];
    placed.routing = "rule 2".into();
    // A stale version moves nothing.
    assert!(matches!(
        repo.place_case(&placed, 7, &transition_event(id, &t, "calltaker1", t0()))
            .await,
        Err(StoreError::Stale { .. })
    ));
    assert_eq!(repo.case(&id).await.expect("read"), Some(case.clone()));
    repo.place_case(
        &placed,
        case.state.version,
        &transition_event(id, &t, "calltaker1", t0()),
    )
    .await
    .expect("placed");
    assert_eq!(repo.case(&id).await.expect("read"), Some(placed.clone()));
    // Found under its new region, with all its events; no longer under the old one.
    let under = |region: &str| civicgrid_store::CaseFilter {
        within: Some(region.parse().expect("region")),
        limit: 10,
        ..Default::default()
    };
    let found = repo.cases(&under("440305001002")).await.expect("cases");
    assert_eq!(found.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id]);
    assert!(
        repo.cases(&under("440305001001"))
            .await
            .expect("cases")
            .is_empty()
    );
    let moved = repo
        .events_since(
            &["report", "correct"],
            Some(&"440305001002".parse().expect("r")),
            t0() - jiff::SignedDuration::from_hours(1),
            10,
        )
        .await
        .expect("events");
    assert_eq!(moved.len(), 2, "both events moved with the case");
    assert_eq!(
        repo.case_by_receipt(&case.receipt_code)
            .await
            .expect("read")
            .map(|c| c.region),
        Some(placed.region.clone())
    );
}

async fn the_gazetteer_is_replaced_whole_and_found_by_name(repo: &dyn Repository) {
    use civicgrid_domain::territory::{Place, PlaceKind};
    repo.apply(&territory()).await.expect("territory");
    let place = |name: &str, kind| Place {
        name: name.into(),
        kind,
        lon: 113.9005,
        lat: 22.5005,
        region: "440305001001".parse().expect("region"),
    };
    repo.replace_places(&[
        place("安乐公园", PlaceKind::Landmark),
        place("安乐花园1栋", PlaceKind::Building),
        place("50%商场", PlaceKind::Landmark),
    ])
    .await
    .expect("replaced");
    assert_eq!(repo.places().await.expect("all").len(), 3);
    let found = repo.find_places("安乐", 10).await.expect("found");
    assert_eq!(
        found.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        vec!["安乐公园", "安乐花园1栋"],
        "shortest names first"
    );
    assert_eq!(found[1].kind, PlaceKind::Building);
    // The text is taken literally: a % in it is no wildcard.
    assert_eq!(repo.find_places("%", 10).await.expect("found").len(), 1);
    assert_eq!(repo.find_places("安乐", 1).await.expect("found").len(), 1);
    // Replaced whole.
    repo.replace_places(&[place("同乐小学", PlaceKind::Landmark)])
        .await
        .expect("replaced");
    assert_eq!(repo.places().await.expect("all").len(), 1);
    assert!(
        repo.find_places("安乐", 10)
            .await
            .expect("found")
            .is_empty()
    );
}

fn queued(q: &[civicgrid_store::KpiQueued], source: &str) -> Vec<uuid::Uuid> {
    q.iter()
        .filter(|x| x.source == source)
        .map(|x| x.id)
        .collect()
}

async fn party_organisations_alliances_and_members(repo: &dyn Repository) {
    use civicgrid_domain::party::*;
    let org = |code: &str, kind, parent: Option<&str>, region: &str| Organisation {
        code: code.into(),
        name: format!("{code}党组织"),
        kind,
        parent: parent.map(Into::into),
        region: region.parse().expect("region"),
        grid: None,
    };
    // Children before parents in the input: the store writes parents first.
    let tree = vec![
        org("B1", OrganisationKind::Branch, Some("C"), "440305001002"),
        org("C", OrganisationKind::Committee, None, "440305001"),
    ];
    repo.save_organisations(&tree).await.expect("organisations");
    assert_eq!(repo.organisations().await.expect("read").len(), 2);
    // A batch with a bad parent writes nothing.
    let bad = vec![
        org("B2", OrganisationKind::Branch, Some("C"), "440305001003"),
        org(
            "B3",
            OrganisationKind::Branch,
            Some("missing"),
            "440305001003",
        ),
    ];
    assert!(repo.save_organisations(&bad).await.is_err());
    assert_eq!(repo.organisations().await.expect("read").len(), 2);

    let alliance = Alliance {
        code: "A1".into(),
        name: "街道党建联盟".into(),
        region: "440305001".parse().expect("region"),
        partners: vec![
            Partner {
                kind: PartnerKind::Organisation,
                reference: "C".into(),
                commitment: "牵头".into(),
            },
            Partner {
                kind: PartnerKind::Company,
                reference: "某物业公司".into(),
                commitment: "楼道清洁".into(),
            },
        ],
    };
    repo.save_alliances(std::slice::from_ref(&alliance))
        .await
        .expect("alliance");
    let mut fewer = alliance.clone();
    fewer.partners.truncate(1);
    repo.save_alliances(std::slice::from_ref(&fewer))
        .await
        .expect("replaced");
    assert_eq!(repo.alliances().await.expect("read"), vec![fewer]);

    let id = uuid::Uuid::now_v7();
    let mut record = civicgrid_store::MemberRecord {
        member: Member {
            id,
            name: "李红".into(),
            organisation: "B1".into(),
            duty: "党员".into(),
            in_service: true,
            employer_unit: Some("440305-water".into()),
            username: Some("lihong".into()),
            home: None,
        },
        region: "440305001002".parse().expect("region"),
        phone_sealed: Some("v1:sealed".into()),
    };
    repo.save_member(&record, t0()).await.expect("member");
    record
        .member
        .apply_home("440305001003".parse().expect("community"))
        .expect("apply");
    repo.save_member(&record, t0()).await.expect("changed");
    assert_eq!(repo.member(&id).await.expect("read"), Some(record.clone()));
    assert_eq!(
        repo.member_by_username("lihong")
            .await
            .expect("read")
            .map(|m| m.member.id),
        Some(id)
    );
    assert_eq!(
        repo.members(&"440305001".parse().expect("r"))
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(
        repo.members(&"440305002".parse().expect("r"))
            .await
            .expect("list")
            .is_empty()
    );
    let waiting = repo
        .home_applications(&"440305001003".parse().expect("r"))
        .await
        .expect("waiting");
    assert_eq!(waiting.len(), 1);
    assert!(
        repo.home_applications(&"440305001002".parse().expect("r"))
            .await
            .expect("none")
            .is_empty()
    );
    // A second member with the same account is refused.
    let mut twin = record.clone();
    twin.member.id = uuid::Uuid::now_v7();
    assert!(matches!(
        repo.save_member(&twin, t0()).await,
        Err(StoreError::Conflict(_))
    ));

    repo.record_contact_read(&id, &record.region, "wang", "member phone", t0())
        .await
        .expect("audit");
    let reads = repo.contact_reads(&id).await.expect("reads");
    assert_eq!(
        reads,
        vec![(t0(), "wang".to_owned(), "member phone".to_owned())]
    );
}

async fn households_assignments_plans_and_visits(repo: &dyn Repository) {
    use civicgrid_store::{HouseholdRecord, VisitRecord};
    let community: civicgrid_domain::territory::RegionCode = "440305001002".parse().expect("r");
    let house = |room: &str| HouseholdRecord {
        id: uuid::Uuid::now_v7(),
        region: community.clone(),
        grid: "440305001002001".parse().expect("grid"),
        building: "3栋".into(),
        unit: "2单元".into(),
        room: room.into(),
        contact_sealed: None,
        consent: true,
        assignee: None,
        assigned_on: None,
    };
    let (a, b) = (house("101"), house("102"));
    repo.save_households(&[a.clone(), b.clone()], t0())
        .await
        .expect("households");
    // The same address twice: nothing of the batch is kept.
    let dup = house("101");
    assert!(
        repo.save_households(&[house("103"), dup], t0())
            .await
            .is_err()
    );
    assert_eq!(
        repo.households(Some(&community), None)
            .await
            .expect("list")
            .len(),
        2
    );
    assert_eq!(repo.household(&a.id).await.expect("read"), Some(a.clone()));

    let on = date(2026, 11, 1);
    assert_eq!(
        repo.assign_households(&[a.id, b.id], Some("lihong"), on)
            .await
            .expect("assign"),
        2
    );
    assert_eq!(
        repo.assign_households(&[a.id], Some("lihong"), on)
            .await
            .expect("again"),
        0
    );
    assert_eq!(
        repo.households(Some(&community), Some("lihong"))
            .await
            .expect("mine")
            .len(),
        2
    );
    assert_eq!(
        repo.assign_households(&[b.id], None, on)
            .await
            .expect("unassign"),
        1
    );
    assert_eq!(
        repo.households(Some(&community), Some("lihong"))
            .await
            .expect("mine")
            .len(),
        1
    );

    repo.set_visit_plan("grid:440305001002001", Some(14))
        .await
        .expect("plan");
    repo.set_visit_plan("grid:440305001002002", Some(7))
        .await
        .expect("plan");
    repo.set_visit_plan("grid:440305001002002", None)
        .await
        .expect("removed");
    assert!(repo.set_visit_plan("street:1", Some(7)).await.is_err());
    assert_eq!(
        repo.visit_plans().await.expect("plans"),
        vec![("grid:440305001002001".to_owned(), 14)]
    );

    let visit = VisitRecord {
        id: uuid::Uuid::now_v7(),
        household: a.id,
        region: community.clone(),
        visitor: "lihong".into(),
        at: t0(),
        day: date(2026, 11, 25),
        channel: civicgrid_domain::household::VisitChannel::InPerson,
        topics: "独居老人".into(),
        notes: "一切安好".into(),
        case: None,
    };
    repo.log_visit(&visit).await.expect("visit");
    let case = uuid::Uuid::now_v7();
    // Held while its case is reported, let go, held again, then linked: once.
    repo.link_visit_case(&visit.id, &uuid::Uuid::nil())
        .await
        .expect("held");
    assert!(
        repo.link_visit_case(&visit.id, &uuid::Uuid::nil())
            .await
            .is_err(),
        "held once"
    );
    assert_eq!(
        repo.visit(&visit.id)
            .await
            .expect("read")
            .and_then(|v| v.case),
        None,
        "a hold is no case"
    );
    repo.release_visit_claim(&visit.id).await.expect("released");
    repo.link_visit_case(&visit.id, &uuid::Uuid::nil())
        .await
        .expect("held again");
    repo.link_visit_case(&visit.id, &case)
        .await
        .expect("linked");
    assert!(
        repo.link_visit_case(&visit.id, &case).await.is_err(),
        "once"
    );
    assert_eq!(
        repo.visit(&visit.id)
            .await
            .expect("read")
            .and_then(|v| v.case),
        Some(case)
    );
    assert_eq!(repo.visits_of(&a.id).await.expect("visits").len(), 1);
    assert_eq!(
        repo.visits_in(&community, date(2026, 11, 1), date(2026, 12, 1), 10)
            .await
            .expect("in")
            .len(),
        1
    );
    assert!(
        repo.visits_in(&community, date(2026, 12, 1), date(2027, 1, 1), 10)
            .await
            .expect("none")
            .is_empty()
    );
    assert_eq!(repo.mark_assigned_households().await.expect("marked"), 1);
    let q = repo.kpi_dirty(100).await.expect("queue");
    let ids = queued(&q, civicgrid_store::HOUSEHOLD_SOURCE);
    assert!(
        ids.contains(&a.id) && ids.contains(&b.id),
        "households are queued: {q:?}"
    );
}

async fn wishes_change_with_their_events(repo: &dyn Repository) {
    use civicgrid_domain::wish::WishStatus;
    use civicgrid_store::{WishEvent, WishRecord};
    let mut w = WishRecord {
        id: uuid::Uuid::now_v7(),
        public_id: "W7K3M9PQ2XRT".into(),
        reporter_key: Some("h1:abc".into()),
        region: "440305001002".parse().expect("r"),
        grid: None,
        title: "想要一副老花镜".into(),
        description: "看报纸用".into(),
        posted_by: "resident".into(),
        posted_at: t0(),
        status: WishStatus::Open,
        claimed_by: None,
        escalated: false,
        delivery_note: None,
        fulfilled_at: None,
        version: 0,
    };
    let event = |seq, action: &str| WishEvent {
        seq,
        at: t0(),
        actor: "x".into(),
        action: action.into(),
        note: String::new(),
    };
    repo.create_wish(&w, &event(0, "post"))
        .await
        .expect("posted");
    let before = w.clone();
    w.status = WishStatus::Claimed;
    w.claimed_by = Some("lihong".into());
    repo.update_wish(&w, 0, &event(1, "claim"))
        .await
        .expect("claimed");
    // A second writer with the old version is refused and leaves no event.
    assert!(matches!(
        repo.update_wish(&before, 0, &event(1, "claim")).await,
        Err(StoreError::Stale { current: 1 })
    ));
    let read = repo.wish(&w.id).await.expect("read").expect("there");
    assert_eq!((read.status, read.version), (WishStatus::Claimed, 1));
    assert_eq!(
        repo.wish_by_public_id("W7K3M9PQ2XRT")
            .await
            .expect("read")
            .map(|x| x.id),
        Some(w.id)
    );
    assert_eq!(repo.wish_events(&w.id).await.expect("events").len(), 2);
    assert_eq!(repo.wishes_held_by("lihong").await.expect("held").len(), 1);
    let r = &w.region;
    assert_eq!(repo.wishes(r, &[], 10).await.expect("all").len(), 1);
    assert_eq!(
        repo.wishes(r, &[WishStatus::Claimed, WishStatus::Delivered], 10)
            .await
            .expect("some")
            .len(),
        1
    );
    assert!(
        repo.wishes(r, &[WishStatus::Open], 10)
            .await
            .expect("none")
            .is_empty()
    );
    assert!(
        repo.unclaimed_wishes(t0() + jiff::SignedDuration::from_hours(1), 10)
            .await
            .expect("none")
            .is_empty()
    );
    repo.save_wish_photo(&w.id, "image/png", b"png")
        .await
        .expect("photo");
    assert_eq!(
        repo.wish_photo(&w.id).await.expect("photo"),
        Some(("image/png".into(), b"png".to_vec()))
    );
    assert!(
        queued(
            &repo.kpi_dirty(100).await.expect("q"),
            civicgrid_store::WISH_SOURCE
        )
        .contains(&w.id)
    );

    let mut open = before.clone();
    open.id = uuid::Uuid::now_v7();
    open.public_id = "W00000000000".into();
    repo.create_wish(&open, &event(0, "post"))
        .await
        .expect("second");
    assert_eq!(
        repo.unclaimed_wishes(t0() + jiff::SignedDuration::from_hours(1), 10)
            .await
            .expect("one")
            .len(),
        1
    );
}

async fn volunteers_shifts_and_the_hours_ledger(repo: &dyn Repository) {
    use civicgrid_domain::volunteer::HoursStatus;
    use civicgrid_store::*;
    let community: civicgrid_domain::territory::RegionCode = "440305001002".parse().expect("r");
    let volunteer = |n: &str| VolunteerRecord {
        id: uuid::Uuid::now_v7(),
        number: format!("V{n}"),
        username: Some(format!("v{n}")),
        name: format!("志愿者{n}"),
        phone_sealed: None,
        region: community.clone(),
        skills: vec!["first_aid".into()],
        availability: "周末".into(),
        consent_at: t0(),
        registered_at: t0(),
    };
    let (v1, v2) = (volunteer("1"), volunteer("2"));
    repo.save_volunteer(&v1).await.expect("v1");
    repo.save_volunteer(&v2).await.expect("v2");
    assert_eq!(
        repo.volunteer(&v1.id).await.expect("read"),
        Some(v1.clone())
    );
    assert_eq!(
        repo.volunteer_by_username("v2")
            .await
            .expect("read")
            .map(|v| v.id),
        Some(v2.id)
    );
    assert_eq!(repo.volunteers(&community).await.expect("list").len(), 2);

    let activity = ActivityRecord {
        id: uuid::Uuid::now_v7(),
        title: "周末清洁".into(),
        description: "清理楼道".into(),
        region: community.clone(),
        grid: None,
        place: "3栋".into(),
        required_skills: vec![],
        organiser: "wang".into(),
        check_token: "tok".into(),
        case: None,
        created_at: t0(),
    };
    let shift = ShiftRecord {
        id: uuid::Uuid::now_v7(),
        activity: activity.id,
        starts_at: t0() + jiff::SignedDuration::from_hours(24),
        ends_at: t0() + jiff::SignedDuration::from_hours(26),
        capacity: 1,
    };
    repo.create_activity(&activity, std::slice::from_ref(&shift))
        .await
        .expect("activity");
    assert_eq!(
        repo.activity(&activity.id).await.expect("read"),
        Some(activity.clone())
    );
    assert_eq!(
        repo.activities(&community, t0(), 10)
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(
        repo.activities(&community, shift.ends_at, 10)
            .await
            .expect("past")
            .is_empty()
    );
    assert_eq!(
        repo.shifts(&activity.id).await.expect("shifts"),
        vec![shift.clone()]
    );
    assert_eq!(
        repo.shift(&shift.id).await.expect("shift"),
        Some(shift.clone())
    );

    let signup = |v: &VolunteerRecord, at| SignupRecord {
        id: uuid::Uuid::now_v7(),
        shift: shift.id,
        volunteer: v.id,
        signed_up_at: at,
        cancelled_at: None,
        checked_in_at: None,
        checked_out_at: None,
        manual: false,
    };
    repo.sign_up(&signup(&v1, t0())).await.expect("v1 signs up");
    repo.sign_up(&signup(&v2, t0() + jiff::SignedDuration::from_secs(1)))
        .await
        .expect("v2 waits");
    assert!(matches!(
        repo.sign_up(&signup(&v1, t0())).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        repo.cancel_signup(&shift.id, &v1.id, t0())
            .await
            .expect("cancel")
    );
    assert!(
        !repo
            .cancel_signup(&shift.id, &v1.id, t0())
            .await
            .expect("again")
    );
    // Signing up again puts v1 at the end of the queue.
    repo.sign_up(&signup(&v1, t0() + jiff::SignedDuration::from_secs(5)))
        .await
        .expect("again");
    let order: Vec<_> = repo
        .signups(&shift.id)
        .await
        .expect("signups")
        .iter()
        .map(|s| s.volunteer)
        .collect();
    assert_eq!(order, vec![v2.id, v1.id]);
    assert_eq!(repo.signups_of(&v1.id).await.expect("mine").len(), 1);

    assert!(
        repo.check_in(&shift.id, &v2.id, shift.starts_at, false)
            .await
            .expect("in")
    );
    assert!(
        !repo
            .check_in(&shift.id, &v2.id, shift.starts_at, false)
            .await
            .expect("twice")
    );
    let hours = |v: &VolunteerRecord, minutes| HoursRecord {
        id: uuid::Uuid::now_v7(),
        volunteer: v.id,
        activity: Some(activity.id),
        case: None,
        region: community.clone(),
        day: date(2026, 11, 26),
        minutes,
        manual: false,
        recorded_by: "wang".into(),
        recorded_at: t0(),
        status: HoursStatus::Pending,
        decided_by: None,
        decided_at: None,
        note: String::new(),
    };
    let served = hours(&v2, 120);
    assert!(
        repo.check_out(&shift.id, &v2.id, shift.ends_at, true, &served)
            .await
            .expect("out")
    );
    assert!(
        !repo
            .check_out(&shift.id, &v2.id, shift.ends_at, true, &hours(&v2, 1))
            .await
            .expect("twice")
    );
    assert!(repo.signups(&shift.id).await.expect("s")[0].manual);
    let extra = hours(&v1, 30);
    repo.record_hours(&extra).await.expect("manual entry");
    assert_eq!(
        repo.hours_in(&community, Some(HoursStatus::Pending), 10)
            .await
            .expect("pending")
            .len(),
        2
    );

    let decided = repo
        .decide_hours(&[served.id, extra.id], HoursStatus::Approved, "wang", t0())
        .await
        .expect("bulk");
    assert_eq!(decided.len(), 2);
    assert!(
        repo.decide_hours(&[served.id], HoursStatus::Declined, "wang", t0())
            .await
            .expect("again")
            .is_empty()
    );
    let entry = repo
        .hours_entry(&served.id)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(
        (entry.status, entry.decided_by.as_deref()),
        (HoursStatus::Approved, Some("wang"))
    );
    assert_eq!(repo.hours_of(&v2.id).await.expect("ledger").len(), 1);
    assert_eq!(
        repo.hours_in(&community, None, 10)
            .await
            .expect("all")
            .len(),
        2
    );
    assert!(
        queued(
            &repo.kpi_dirty(100).await.expect("q"),
            civicgrid_store::HOURS_SOURCE
        )
        .contains(&served.id)
    );
}

/// Polls all of `futures` together on this task until each is done (the store's connections
/// carry the concurrency), and returns their outputs in order.
async fn join_all<T, F: std::future::Future<Output = T>>(futures: Vec<F>) -> Vec<T> {
    use std::task::Poll;
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => out[i] = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

async fn a_voting_code_counts_once_under_fifty_concurrent_uses(repo: &dyn Repository) {
    use civicgrid_domain::consultation::Ballot;
    use civicgrid_store::PollRecord;
    let poll = PollRecord {
        id: uuid::Uuid::now_v7(),
        region: "440305001001".parse().expect("r"),
        question: "小区东门是否改为夜间关闭？".into(),
        options: vec!["同意".into(), "不同意".into(), "弃权".into()],
        ballot: Ballot::Single,
        opens_at: t0(),
        closes_at: t0() + jiff::SignedDuration::from_hours(72),
        created_by: "secretary.st1c1".into(),
        created_at: t0(),
        topic: None,
    };
    repo.create_poll(&poll).await.expect("poll");
    assert_eq!(repo.poll(&poll.id).await.expect("read"), Some(poll.clone()));
    let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    repo.issue_poll_code(&poll.id, &a, "digest-a")
        .await
        .expect("code a");
    repo.issue_poll_code(&poll.id, &b, "digest-b")
        .await
        .expect("code b");
    assert!(
        matches!(
            repo.issue_poll_code(&poll.id, &a, "digest-a2").await,
            Err(StoreError::Conflict(_))
        ),
        "one code a household"
    );
    // The same code, fifty times at once: exactly one vote counts.
    let uses: Vec<_> = (0..50)
        .map(|i| {
            let poll = poll.id;
            async move { repo.cast_vote(&poll, "digest-a", &[i % 2]).await }
        })
        .collect();
    let counted = join_all(uses)
        .await
        .into_iter()
        .map(|r| r.expect("no error"))
        .filter(|c| *c)
        .count();
    assert_eq!(counted, 1, "one of fifty concurrent uses counts");
    let count = repo.poll_count(&poll.id).await.expect("count");
    assert_eq!(count.votes.iter().sum::<u64>(), 1);
    assert_eq!((count.voted, count.codes), (1, 2));
    // An unknown code counts nothing; a choice outside the poll keeps nothing of the vote.
    assert!(
        !repo
            .cast_vote(&poll.id, "no-such-code", &[0])
            .await
            .expect("refused")
    );
    assert!(repo.cast_vote(&poll.id, "digest-b", &[7]).await.is_err());
    assert!(
        repo.cast_vote(&poll.id, "digest-b", &[2])
            .await
            .expect("vote"),
        "the code is still unused"
    );
    assert_eq!(
        repo.poll_count(&poll.id)
            .await
            .expect("count")
            .votes
            .iter()
            .sum::<u64>(),
        2
    );
}

async fn topics_opinions_meetings_and_results_keep_their_events(repo: &dyn Repository) {
    use civicgrid_domain::consultation::{
        Answer, InviteeKind, MeetingKind, TopicStatus, Visibility,
    };
    use civicgrid_store::{
        AgendaItem, ConsultationEvent, InviteeRecord, MeetingRecord, OpinionRecord, ResultRecord,
        TopicRecord, WorkRecord,
    };
    let ev = |action: &str| ConsultationEvent {
        seq: 0,
        at: t0(),
        actor: "admin.st1c1".into(),
        action: action.into(),
        note: String::new(),
    };
    let community: civicgrid_domain::territory::RegionCode = "440305001001".parse().expect("r");
    let topic = TopicRecord {
        id: uuid::Uuid::now_v7(),
        public_id: "TOPIC0000001".into(),
        reporter_key: None,
        scope: community.to_string(),
        region: community.clone(),
        grid: None,
        title: "东门夜间关闭".into(),
        description: "外来车辆夜间穿行".into(),
        raised_by: "resident".into(),
        raised_as: "resident".into(),
        raised_at: t0(),
        status: TopicStatus::Open,
        supports: 0,
        threshold: 2,
        qualified_at: None,
        agenda_due: None,
        alarm: None,
        scheduled_at: None,
        meeting_id: None,
        decided_at: None,
        withdraw_reason: None,
        version: 0,
    };
    repo.create_topic(&topic, &ev("raise"))
        .await
        .expect("topic");
    let mut supported = topic.clone();
    supported.supports = 1;
    repo.support_topic(&supported, 0, "household-a", &ev("support"))
        .await
        .expect("support");
    // The same household again: refused, and the topic is as it was.
    let mut again = supported.clone();
    again.supports = 2;
    assert!(matches!(
        repo.support_topic(&again, 1, "household-a", &ev("support"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // A stale version: refused, the support not kept.
    assert!(matches!(
        repo.support_topic(&again, 0, "household-b", &ev("support"))
            .await,
        Err(StoreError::Stale { .. })
    ));
    repo.support_topic(&again, 1, "household-b", &ev("support"))
        .await
        .expect("second household");
    let read = repo
        .topic_by_public_id("TOPIC0000001")
        .await
        .expect("read")
        .expect("topic");
    assert_eq!((read.supports, read.version), (2, 2));
    let events = repo.consultation_events(&topic.id).await.expect("events");
    assert_eq!(
        events
            .iter()
            .map(|e| (e.seq, e.action.as_str()))
            .collect::<Vec<_>>(),
        vec![(0, "raise"), (1, "support"), (2, "support")]
    );
    assert_eq!(
        repo.topics(&community, &[TopicStatus::Open], 10)
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(
        repo.topics(&community, &[TopicStatus::Decided], 10)
            .await
            .expect("list")
            .is_empty()
    );

    let opinion = OpinionRecord {
        id: uuid::Uuid::now_v7(),
        topic_id: topic.id,
        parent_id: None,
        author: "resident".into(),
        body: "支持".into(),
        photo_type: Some("image/png".into()),
        visibility: Visibility::Visible,
        flags: 0,
        hide_reason: None,
        posted_at: t0(),
        version: 0,
    };
    repo.create_opinion(&opinion, Some(("image/png", b"png")), &ev("opine"))
        .await
        .expect("opinion");
    let mut flagged = opinion.clone();
    flagged.flags = 1;
    repo.flag_opinion(&flagged, 0, "flagger-1", &ev("flag"))
        .await
        .expect("flag");
    let mut twice = flagged.clone();
    twice.flags = 2;
    assert!(matches!(
        repo.flag_opinion(&twice, 1, "flagger-1", &ev("flag")).await,
        Err(StoreError::Conflict(_))
    ));
    let mut hidden = flagged.clone();
    hidden.visibility = Visibility::Hidden;
    hidden.hide_reason = Some("含个人信息".into());
    repo.update_opinion(&hidden, 1, &ev("hide"))
        .await
        .expect("hide");
    let o = repo
        .opinion(&opinion.id)
        .await
        .expect("read")
        .expect("opinion");
    assert_eq!(
        (o.visibility, o.flags, o.version),
        (Visibility::Hidden, 1, 2)
    );
    assert_eq!(
        repo.opinion_photo(&opinion.id).await.expect("photo"),
        Some(("image/png".into(), b"png".to_vec()))
    );
    assert_eq!(
        repo.consultation_events(&opinion.id)
            .await
            .expect("events")
            .len(),
        3
    );

    let meeting = MeetingRecord {
        id: uuid::Uuid::now_v7(),
        public_id: "MEET00000001".into(),
        kind: MeetingKind::JointConsultation,
        region: community.clone(),
        grid: None,
        title: "东门联席会商".into(),
        place: "社区党群服务中心".into(),
        starts_at: t0() + jiff::SignedDuration::from_hours(48),
        convener: "admin.st1c1".into(),
        agenda: vec![AgendaItem {
            title: "东门".into(),
            topic: Some(topic.id),
            cases: vec![],
        }],
        status: "planned".into(),
        minutes: None,
        minutes_by: None,
        minutes_at: None,
        created_at: t0(),
        version: 0,
    };
    let invitee = InviteeRecord {
        kind: InviteeKind::Unit,
        reference: "U-CG".into(),
        name: "城管".into(),
        answer_due: t0() + jiff::SignedDuration::from_hours(8),
        answer: None,
        answer_note: None,
        answered_by: None,
        answered_at: None,
        missed: false,
        attended_at: None,
    };
    repo.create_meeting(
        &meeting,
        std::slice::from_ref(&invitee),
        &[],
        &ev("convene"),
    )
    .await
    .expect("meeting");
    assert_eq!(
        repo.meeting_by_public_id("MEET00000001")
            .await
            .expect("read")
            .expect("m")
            .agenda,
        meeting.agenda
    );
    let due = repo
        .unanswered_summons(t0() + jiff::SignedDuration::from_hours(9), 10)
        .await
        .expect("due");
    assert_eq!(due.len(), 1);
    let mut answered = invitee.clone();
    answered.answer = Some(Answer::Attend);
    answered.answered_at = Some(t0());
    answered.answered_by = Some("handler".into());
    repo.update_invitee(&meeting, &invitee, &answered, &ev("answer"))
        .await
        .expect("answer");
    // A second answer from the same stale reading is refused.
    assert!(matches!(
        repo.update_invitee(&meeting, &invitee, &answered, &ev("answer"))
            .await,
        Err(StoreError::Stale { .. })
    ));
    assert!(
        repo.unanswered_summons(t0() + jiff::SignedDuration::from_hours(9), 10)
            .await
            .expect("due")
            .is_empty()
    );
    let seq = repo
        .add_attachment(
            &meeting,
            "纪要.pdf",
            "application/pdf",
            b"%PDF",
            "d",
            &ev("attach"),
        )
        .await
        .expect("attach");
    assert_eq!(
        repo.attachment(&meeting.id, seq)
            .await
            .expect("read")
            .expect("a")
            .1,
        b"%PDF".to_vec()
    );

    let result = ResultRecord {
        id: uuid::Uuid::now_v7(),
        public_id: "RESULT000001".into(),
        region: community.clone(),
        grid: None,
        title: "东门夜间关闭".into(),
        decision: "22:00 后关闭东门".into(),
        meeting_id: Some(meeting.id),
        agenda_index: Some(0),
        topic_id: Some(topic.id),
        decided_by: "admin.st1c1".into(),
        decided_at: t0(),
    };
    let work = vec![WorkRecord {
        seq: 0,
        kind: "milestone".into(),
        case_id: None,
        title: "安装门禁".into(),
        owner: "U-CG".into(),
        due_at: Some(t0() + jiff::SignedDuration::from_hours(240)),
        done_at: None,
        done_by: None,
    }];
    // All or nothing: a duplicate number fails the whole batch.
    let mut clash = result.clone();
    clash.id = uuid::Uuid::now_v7();
    assert!(
        repo.create_results(
            &[(result.clone(), work.clone()), (clash, vec![])],
            &[],
            "admin"
        )
        .await
        .is_err()
    );
    assert!(
        repo.result_by_public_id("RESULT000001")
            .await
            .expect("read")
            .is_none()
    );
    repo.create_results(&[(result.clone(), work)], &[], "admin")
        .await
        .expect("result");
    assert!(
        repo.complete_milestone(&result, 0, &ev("complete"))
            .await
            .expect("done")
    );
    assert!(
        !repo
            .complete_milestone(&result, 0, &ev("complete"))
            .await
            .expect("twice")
    );
    let listed = repo.results(&community, 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].1[0].done_at.is_some());
    assert_eq!(
        repo.results_of_meeting(&meeting.id)
            .await
            .expect("of meeting")
            .len(),
        1
    );
    assert_eq!(
        repo.mark_open_results().await.expect("mark"),
        0,
        "every milestone done"
    );
}

async fn supervision_reports_keep_days_and_erase_only_closed(repo: &dyn Repository) {
    use civicgrid_store::{ReportEventRecord, ReportFileRecord, ReportRecord};
    let day = |s: &str| s.parse::<jiff::civil::Date>().expect("day");
    let mut r = ReportRecord {
        id: uuid::Uuid::from_u128(0x5a0e_55a7_12f3_4c8e_9b1d_7e6f_2a3b_4c5d),
        receipt_key: "k1".into(),
        passphrase_hash: "$argon2id$x".into(),
        region: "440305001".parse().expect("r"),
        accused_unit: Some("SWJT".into()),
        concern: "petty_corruption".into(),
        status: "received".into(),
        submitted_on: day("2026-03-02"),
        closed_on: None,
        sealed: "sealed-content".into(),
        sealed_identity: None,
        version: 1,
    };
    let event = |seq: u64, on: &str, action: &str| ReportEventRecord {
        seq,
        on: day(on),
        party: r#"{"by":"reporter"}"#.into(),
        action: action.into(),
        sealed_text: Some(format!("sealed-{seq}")),
    };
    repo.create_report(&r, &event(1, "2026-03-02", r#"{"action":"submit"}"#))
        .await
        .expect("created");
    assert_eq!(repo.report(&r.id).await.expect("read"), Some(r.clone()));
    assert_eq!(
        repo.report_by_receipt("k1")
            .await
            .expect("read")
            .map(|x| x.id),
        Some(r.id)
    );
    assert_eq!(repo.report_by_receipt("k2").await.expect("read"), None);
    let file = ReportFileRecord {
        seq: 2,
        on: day("2026-03-03"),
        media_type: "image/jpeg".into(),
        sealed_name: "sealed-name".into(),
        size: 3,
    };
    r.version = 2;
    repo.update_report(
        &r,
        1,
        &event(2, "2026-03-03", r#"{"action":"reporter_file"}"#),
        Some((&file, b"abc".as_slice())),
    )
    .await
    .expect("file");
    // A stale version writes nothing.
    assert!(matches!(
        repo.update_report(&r, 1, &event(3, "2026-03-03", "{}"), None)
            .await,
        Err(StoreError::Stale { current: 2 })
    ));
    assert_eq!(repo.report_events(&r.id).await.expect("events").len(), 2);
    assert_eq!(
        repo.report_files(&r.id).await.expect("files"),
        vec![file.clone()]
    );
    assert_eq!(
        repo.report_file(&r.id, 2).await.expect("file"),
        Some((file, b"abc".to_vec()))
    );
    let within: civicgrid_domain::territory::RegionCode = "440305".parse().expect("r");
    assert_eq!(
        repo.reports(&within, None, 10).await.expect("list").len(),
        1
    );
    assert_eq!(
        repo.reports(&within, Some("closed"), 10)
            .await
            .expect("list")
            .len(),
        0
    );
    let elsewhere: civicgrid_domain::territory::RegionCode = "440306".parse().expect("r");
    assert!(
        repo.reports(&elsewhere, None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(repo.open_reports(10).await.expect("open").len(), 1);
    // Wrong passphrases are counted per day.
    assert_eq!(
        repo.count_wrong_passphrase(&r.id, day("2026-03-03"))
            .await
            .expect("n"),
        1
    );
    assert_eq!(
        repo.count_wrong_passphrase(&r.id, day("2026-03-03"))
            .await
            .expect("n"),
        2
    );
    assert_eq!(
        repo.wrong_passphrases(&r.id, day("2026-03-03"))
            .await
            .expect("n"),
        2
    );
    assert_eq!(
        repo.wrong_passphrases(&r.id, day("2026-03-04"))
            .await
            .expect("n"),
        0
    );
    assert_eq!(
        repo.count_wrong_passphrase(&r.id, day("2026-03-04"))
            .await
            .expect("n"),
        1
    );
    // An open report is not erased.
    assert!(!repo.erase_report(&r.id).await.expect("erase"));
    assert!(repo.report(&r.id).await.expect("read").is_some());
    r.status = "closed".into();
    r.closed_on = Some(day("2026-04-01"));
    r.version = 3;
    repo.update_report(
        &r,
        2,
        &event(3, "2026-04-01", r#"{"action":"close"}"#),
        None,
    )
    .await
    .expect("closed");
    assert!(repo.open_reports(10).await.expect("open").is_empty());
    assert!(
        repo.reports_closed_by(day("2026-03-31"), 10)
            .await
            .expect("closed")
            .is_empty()
    );
    assert_eq!(
        repo.reports_closed_by(day("2026-04-01"), 10)
            .await
            .expect("closed")
            .len(),
        1
    );
    assert!(repo.erase_report(&r.id).await.expect("erase"));
    assert_eq!(repo.report(&r.id).await.expect("read"), None);
    assert!(repo.report_events(&r.id).await.expect("events").is_empty());
    assert!(repo.report_files(&r.id).await.expect("files").is_empty());
    assert!(!repo.erase_report(&r.id).await.expect("erase again"));
}

async fn accountability_records_deduct_and_list_versions_stay(repo: &dyn Repository) {
    use civicgrid_domain::kpi::Subject;
    use civicgrid_store::{AccountabilityEvent, AccountabilityRecord, ListVersionRecord};
    let record = AccountabilityRecord {
        id: uuid::Uuid::from_u128(0xacc0_0000_0000_7000_8000_0000_0000_0001),
        number: 0,
        measure: "public_criticism".into(),
        subject: Subject::Unit("SWJT".into()),
        region: "440305".parse().expect("r"),
        period: "2026-03".into(),
        points: 2.5,
        public: true,
        facts: "逾期未处置".into(),
        grounds: r#"{"kpi":"overdue_cases"}"#.into(),
        status: "proposed".into(),
        proposed_by: "supervisor".into(),
        proposed_at: t0(),
        decided_by: None,
        decided_at: None,
        decision_note: None,
        appeal_id: None,
        version: 1,
    };
    let event = |seq: u64, action: &str| AccountabilityEvent {
        seq,
        at: t0(),
        actor: "supervisor".into(),
        action: action.into(),
        note: String::new(),
    };
    let mut r = repo
        .create_accountability(&record, &event(1, "proposed"))
        .await
        .expect("created");
    assert_eq!(r.number, 1);
    // Proposed: no score change yet.
    assert!(repo.adjustments("2026-03").await.expect("adj").is_empty());
    assert!(
        repo.accountability_records(true, 10)
            .await
            .expect("public")
            .is_empty()
    );
    r.status = "approved".into();
    r.decided_by = Some("leader.st1".into());
    r.decided_at = Some(t0());
    repo.update_accountability(&r, 1, &event(2, "approved"))
        .await
        .expect("approved");
    assert!(matches!(
        repo.update_accountability(&r, 1, &event(3, "x")).await,
        Err(StoreError::Stale { current: 2 })
    ));
    let adj = repo.adjustments("2026-03").await.expect("adj");
    assert_eq!(adj.len(), 1);
    assert_eq!(adj[0].points, -2.5);
    assert_eq!(adj[0].subject, Subject::Unit("SWJT".into()));
    assert!(repo.adjustments("2026-04").await.expect("adj").is_empty());
    assert_eq!(
        repo.accountability_records(true, 10)
            .await
            .expect("public")
            .len(),
        1
    );
    assert_eq!(
        repo.accountability(1)
            .await
            .expect("read")
            .map(|x| x.version),
        Some(2)
    );
    assert_eq!(
        repo.accountability_events(&r.id)
            .await
            .expect("events")
            .len(),
        2
    );

    let v = |from: &str| ListVersionRecord {
        kind: "power".into(),
        number: 0,
        effective_from: from.parse().expect("day"),
        published_by: "admin".into(),
        published_at: t0(),
        note: "首版".into(),
        entries: "[]".into(),
    };
    assert_eq!(
        repo.publish_list_version(&v("2026-01-01"))
            .await
            .expect("v1")
            .number,
        1
    );
    assert_eq!(
        repo.publish_list_version(&v("2026-07-01"))
            .await
            .expect("v2")
            .number,
        2
    );
    let versions = repo.list_versions("power").await.expect("versions");
    assert_eq!(
        versions.iter().map(|v| v.number).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(
        repo.list_versions("responsibility")
            .await
            .expect("none")
            .is_empty()
    );
}

/// However many notices wait for a recipient's digest, one claim takes them all (past the
/// round's limit), so the digest goes out as one e-mail; single messages keep the limit.
async fn a_recipients_digest_notices_are_claimed_together(repo: &dyn Repository) {
    use civicgrid_store::NewMessage;
    with_catalogue(repo).await;
    let mins = jiff::SignedDuration::from_mins;
    let message = |recipient: &str, channel: &str, i: usize| NewMessage {
        id: uuid::Uuid::now_v7(),
        topic: "case_dispatched".into(),
        channel: channel.into(),
        recipient: recipient.into(),
        sealed: format!("notice {i}"),
        urgent: false,
        not_before: t0(),
    };
    for i in 0..30 {
        let c = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
        repo.create_case(&c, &report_event(&c))
            .await
            .expect("created");
        let m = if i % 3 == 2 {
            message("gw.st1c1.1", "email", i)
        } else {
            message("handler.swjt", "digest", i)
        };
        repo.expand_notification_event((&c.id, 1), std::slice::from_ref(&m), t0())
            .await
            .expect("kept");
    }
    let now = t0() + mins(1);
    let got = repo
        .claim_messages("a", now, now + mins(2), 5)
        .await
        .expect("claim");
    let digests = got.iter().filter(|m| m.channel == "digest").count();
    let singles = got.iter().filter(|m| m.channel == "email").count();
    assert_eq!(digests, 20, "every held notice of the recipient");
    assert!(singles <= 5, "{singles}");
    let rest = repo
        .claim_messages("b", now, now + mins(2), 100)
        .await
        .expect("claim");
    assert!(rest.iter().all(|m| m.channel == "email"));
    assert_eq!(singles + rest.len(), 10);
}

async fn notification_messages_come_from_events_and_are_leased_once(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, apply, decide};
    use civicgrid_store::{DeliveryOutcome, NewMessage, StaffChannelsRecord, TemplateRecord};
    with_catalogue(repo).await;
    let mins = jiff::SignedDuration::from_mins;
    // A report tells nobody; its acceptance is kept for the notifier, in its transaction.
    let a = new_case(uuid::Uuid::now_v7(), "440305001001001", t0());
    repo.create_case(&a, &report_event(&a))
        .await
        .expect("created");
    assert!(
        repo.waiting_notification_events(10)
            .await
            .expect("waiting")
            .is_empty()
    );
    let accept = decide(&a.state, Action::Accept).expect("accept");
    let mut a2 = a.clone();
    a2.state = apply(&a.state, &accept);
    let accepted = transition_event(a.id, &accept, "calltaker1", t0() + mins(1));
    repo.record_change(&a2, 1, std::slice::from_ref(&accepted))
        .await
        .expect("accepted");
    let waiting = repo.waiting_notification_events(10).await.expect("waiting");
    assert_eq!(waiting, vec![accepted.clone()]);
    assert_eq!(
        repo.message_counts().await.expect("counts").waiting_events,
        1
    );

    // Expanded twice (two instances at once): each message is written once.
    let message = |recipient: &str, channel: &str| NewMessage {
        id: uuid::Uuid::now_v7(),
        topic: "case_accepted".into(),
        channel: channel.into(),
        recipient: recipient.into(),
        sealed: format!("sealed for {recipient}"),
        urgent: false,
        not_before: t0() + mins(1),
    };
    let first = [message("reporter", "email"), message("reporter", "sms")];
    let again = [message("reporter", "email")];
    repo.expand_notification_event((&a.id, 2), &first, t0() + mins(1))
        .await
        .expect("expanded");
    repo.expand_notification_event((&a.id, 2), &again, t0() + mins(1))
        .await
        .expect("expanded again");
    assert!(
        repo.waiting_notification_events(10)
            .await
            .expect("waiting")
            .is_empty()
    );
    let kept = repo.case_messages(&a.id).await.expect("messages");
    assert_eq!(kept.len(), 2);
    assert!(
        kept.iter()
            .any(|m| m.id == first[0].id && m.channel == "email")
    );
    assert!(
        kept.iter()
            .all(|m| m.status == "pending" && m.attempts == 0)
    );

    // Leased by one instance; the other finds nothing until the lease runs out.
    let now = t0() + mins(2);
    let until = now + mins(1);
    let got = repo
        .claim_messages("a", now, until, 1)
        .await
        .expect("claim");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].attempts, 1);
    let other = repo
        .claim_messages("b", now, until, 10)
        .await
        .expect("claim");
    assert_eq!(other.len(), 1);
    assert_ne!(other[0].id, got[0].id);
    assert!(
        repo.claim_messages("c", now, until, 10)
            .await
            .expect("none")
            .is_empty()
    );
    // A sent message is done; another owner cannot finish what it does not hold.
    assert!(
        !repo
            .finish_message(&got[0].id, "b", now, &DeliveryOutcome::Delivered)
            .await
            .expect("not b's")
    );
    assert!(
        repo.finish_message(&got[0].id, "a", now, &DeliveryOutcome::Delivered)
            .await
            .expect("sent")
    );
    // B's try fails: it waits; after its lease runs out, it is tried again and dies.
    let retry_at = now + mins(5);
    assert!(
        repo.finish_message(
            &other[0].id,
            "b",
            now,
            &DeliveryOutcome::Retry {
                at: retry_at,
                error: "421 try later".into()
            }
        )
        .await
        .expect("retry")
    );
    assert!(
        repo.claim_messages("a", now + mins(4), now + mins(5), 10)
            .await
            .expect("not yet")
            .is_empty()
    );
    let later = repo
        .claim_messages("a", retry_at, retry_at + mins(1), 10)
        .await
        .expect("due");
    assert_eq!((later.len(), later[0].attempts), (1, 2));
    assert!(
        repo.finish_message(
            &later[0].id,
            "a",
            retry_at,
            &DeliveryOutcome::Failed {
                error: "550 no such mailbox".into()
            }
        )
        .await
        .expect("dead")
    );
    let dead = repo.messages_in("dead", 10).await.expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("550 no such mailbox"));
    let counts = repo.message_counts().await.expect("counts");
    assert_eq!((counts.pending, counts.sent, counts.dead), (0, 1, 1));
    // Retried by an administrator: pending again with its tries reset; a sent one cannot be.
    assert!(
        repo.retry_message(&dead[0].id, retry_at)
            .await
            .expect("retry")
    );
    assert!(
        !repo
            .retry_message(&got[0].id, retry_at)
            .await
            .expect("sent")
    );
    let back = repo
        .message(&dead[0].id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!((back.status.as_str(), back.attempts), ("pending", 0));
    // Dead again, then discarded with a reason.
    let again = repo
        .claim_messages("a", retry_at, retry_at + mins(1), 10)
        .await
        .expect("due");
    repo.finish_message(
        &again[0].id,
        "a",
        retry_at,
        &DeliveryOutcome::Failed {
            error: "550".into(),
        },
    )
    .await
    .expect("dead");
    assert!(
        !repo
            .discard_message(&got[0].id, "admin", "sent", retry_at)
            .await
            .expect("not dead")
    );
    assert!(
        repo.discard_message(&again[0].id, "admin", "the resident moved", retry_at)
            .await
            .expect("discard")
    );
    let gone = repo
        .message(&again[0].id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(gone.status, "discarded");
    assert_eq!(gone.discard_reason.as_deref(), Some("the resident moved"));
    assert!(repo.messages_in("dead", 10).await.expect("none").is_empty());

    // Templates: saved over, listed, reset.
    let template = TemplateRecord {
        topic: "case_accepted".into(),
        language: "zh-CN".into(),
        subject: "受理 {{receipt}}".into(),
        body: "正文".into(),
        sms: "短信".into(),
        updated_by: "admin".into(),
        updated_at: t0(),
    };
    repo.save_notification_template(&template)
        .await
        .expect("saved");
    let changed = TemplateRecord {
        body: "新正文".into(),
        ..template.clone()
    };
    repo.save_notification_template(&changed)
        .await
        .expect("saved over");
    assert_eq!(
        repo.notification_templates().await.expect("list"),
        vec![changed]
    );
    assert!(
        repo.reset_notification_template("case_accepted", "zh-CN")
            .await
            .expect("reset")
    );
    assert!(
        !repo
            .reset_notification_template("case_accepted", "zh-CN")
            .await
            .expect("none")
    );

    // Unsubscribes are kept once; staff channels are replaced whole.
    assert!(!repo.is_unsubscribed(&a.id).await.expect("no"));
    repo.unsubscribe_reporter(&a.id, t0())
        .await
        .expect("unsubscribe");
    repo.unsubscribe_reporter(&a.id, t0()).await.expect("twice");
    assert!(repo.is_unsubscribed(&a.id).await.expect("yes"));
    let channels = StaffChannelsRecord {
        username: "handler.st001".into(),
        id: uuid::Uuid::now_v7(),
        sealed: "sealed".into(),
        email: true,
        sms: false,
        digest: true,
        updated_at: t0(),
    };
    repo.save_staff_channels(&channels).await.expect("saved");
    let changed = StaffChannelsRecord {
        sms: true,
        ..channels.clone()
    };
    repo.save_staff_channels(&changed)
        .await
        .expect("saved over");
    assert_eq!(
        repo.staff_channels(&["handler.st001".into(), "nobody".into()])
            .await
            .expect("read"),
        vec![changed]
    );
}

fn incident_record(id: uuid::Uuid, number: &str) -> civicgrid_store::IncidentRecord {
    civicgrid_store::IncidentRecord {
        id,
        number: number.into(),
        title: "台风“海燕”".into(),
        kind: "typhoon".into(),
        plan_code: "typhoon".into(),
        plan_body: "{}".into(),
        level: None,
        status: "declared".into(),
        exercise: false,
        commander: "leader1".into(),
        region: "440305001".into(),
        grids: vec!["440305001001001".into(), "440305001001002".into()],
        area: r#"{"grids":["440305001001001","440305001001002"]}"#.into(),
        period_minutes: 120,
        declared_by: "leader1".into(),
        declared_at: t0(),
        activated_at: None,
        lifted_at: None,
        lift_reason: None,
        version: 1,
    }
}

fn incident_event(action: &str, grid: Option<&str>) -> civicgrid_store::NewIncidentEvent {
    civicgrid_store::NewIncidentEvent {
        at: t0(),
        actor: "leader1".into(),
        action: action.into(),
        grid: grid.map(str::to_owned),
        body: serde_json::json!({}),
    }
}

fn incident_task(key: &str, kind: &str, code: &str) -> civicgrid_store::IncidentTaskRecord {
    civicgrid_store::IncidentTaskRecord {
        key: key.into(),
        target_kind: kind.into(),
        target_code: code.into(),
        title: format!("{key} for {code}"),
        level: "III".into(),
        due_at: t0() + jiff::SignedDuration::from_hours(2),
        status: "open".into(),
        reason: None,
        created_at: t0(),
        ended_at: None,
        ended_by: None,
    }
}

async fn incidents_activate_once_and_keep_their_log(repo: &dyn Repository) {
    use civicgrid_store::{
        Acknowledgement, GridReportRecord, NeedRecord, PlanRecord, SitrepRecord,
    };
    // Plans: new at version 1, saved again one up; a bad batch changes nothing.
    let plan = |code: &str| PlanRecord {
        code: code.into(),
        kind: "typhoon".into(),
        title: format!("plan {code}"),
        body: "{}".into(),
        version: 0,
        updated_by: "leader1".into(),
        updated_at: t0(),
    };
    repo.save_emergency_plans(&[plan("a"), plan("b")])
        .await
        .expect("plans");
    repo.save_emergency_plans(&[plan("a")])
        .await
        .expect("again");
    let plans = repo.emergency_plans().await.expect("plans");
    assert_eq!(
        plans
            .iter()
            .map(|p| (p.code.as_str(), p.version))
            .collect::<Vec<_>>(),
        [("a", 2), ("b", 1)]
    );
    assert!(repo.emergency_plan("c").await.expect("read").is_none());

    let id = uuid::Uuid::now_v7();
    let declared = incident_record(id, "YJ-2026-0001");
    repo.create_incident(&declared, &incident_event("declare", None))
        .await
        .expect("declared");
    assert!(
        repo.create_incident(&declared, &incident_event("declare", None))
            .await
            .is_err(),
        "one incident per id"
    );
    assert_eq!(
        repo.incident(&id).await.expect("read"),
        Some(declared.clone())
    );
    assert_eq!(
        repo.incident_by_number("YJ-2026-0001").await.expect("read"),
        Some(declared.clone())
    );

    // Activation: the incident, its tasks, events and notice in one transaction.
    let mut active = declared.clone();
    active.level = Some("III".into());
    active.status = "active".into();
    active.activated_at = Some(t0());
    active.version = 2;
    let tasks = vec![
        incident_task("check", "grid", "440305001001001"),
        incident_task("check", "grid", "440305001001002"),
        incident_task("pumps", "unit", "SWJT"),
    ];
    let notice = civicgrid_store::GridNoticeRecord {
        id: uuid::Uuid::now_v7(),
        title: "台风三级响应".into(),
        text: "请立即排查".into(),
        grids: declared.grids.clone(),
        region: "440305001".into(),
        issued_by: "leader1".into(),
        issued_at: t0(),
    };
    repo.change_incident(
        &active,
        1,
        &tasks,
        &[],
        &[incident_event("level", None)],
        Some(&notice),
    )
    .await
    .expect("activated");
    // A second instance activating from the same version is refused whole: no task twice.
    let err = repo
        .change_incident(
            &active,
            1,
            &tasks,
            &[],
            &[incident_event("level", None)],
            None,
        )
        .await
        .expect_err("stale");
    assert!(matches!(err, StoreError::Stale { current: 2 }), "{err}");
    // So is a task inserted twice even at the right version, and nothing of it stays.
    let mut again = active.clone();
    again.version = 3;
    let err = repo
        .change_incident(
            &again,
            2,
            &tasks[..1],
            &[],
            &[incident_event("level", None)],
            None,
        )
        .await
        .expect_err("duplicate task");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(
        repo.incident(&id)
            .await
            .expect("read")
            .expect("there")
            .version,
        2
    );
    assert_eq!(repo.incident_tasks(&id).await.expect("tasks").len(), 3);
    assert_eq!(
        repo.grid_notice(&notice.id).await.expect("notice"),
        Some(notice.clone())
    );

    // A task ends once.
    let mut done = incident_task("pumps", "unit", "SWJT");
    done.status = "done".into();
    done.ended_at = Some(t0());
    done.ended_by = Some("handler1".into());
    assert!(
        repo.end_incident_task(&id, &done, &incident_event("task_done", None))
            .await
            .expect("done")
    );
    assert!(
        !repo
            .end_incident_task(&id, &done, &incident_event("task_done", None))
            .await
            .expect("again")
    );

    // Acknowledgements once per worker and grid.
    let ack = Acknowledgement {
        grid: "440305001001001".into(),
        username: "grid1".into(),
        at: t0(),
    };
    let grid = Some("440305001001001");
    assert!(
        repo.acknowledge_incident(&id, &ack, &incident_event("acknowledge", grid))
            .await
            .expect("ack")
    );
    assert!(
        !repo
            .acknowledge_incident(&id, &ack, &incident_event("acknowledge", grid))
            .await
            .expect("ack")
    );
    assert_eq!(
        repo.incident_acknowledgements(&id).await.expect("acks"),
        vec![ack]
    );

    // A report with a need; the need is held, given back, then settled once.
    let report = GridReportRecord {
        id: uuid::Uuid::now_v7(),
        grid: "440305001001001".into(),
        reported_by: "grid1".into(),
        at: t0(),
        households_checked: 120,
        people_transferred: 14,
        note: "3栋低洼".into(),
    };
    let need = NeedRecord {
        id: uuid::Uuid::now_v7(),
        grid: report.grid.clone(),
        report_id: report.id,
        text: "独居老人需转移".into(),
        skills: vec!["急救".into()],
        status: "open".into(),
        case_id: None,
        activity_id: None,
        raised_by: "grid1".into(),
        raised_at: t0(),
        settled_by: None,
        settled_at: None,
    };
    repo.add_grid_report(
        &id,
        &report,
        std::slice::from_ref(&need),
        &incident_event("report", grid),
    )
    .await
    .expect("report");
    assert_eq!(repo.grid_reports(&id).await.expect("reports"), vec![report]);
    assert!(repo.hold_need(&id, &need.id).await.expect("hold"));
    assert!(!repo.hold_need(&id, &need.id).await.expect("held already"));
    repo.release_need(&id, &need.id).await.expect("release");
    let mut settled = need.clone();
    settled.status = "case".into();
    settled.case_id = Some(uuid::Uuid::now_v7());
    settled.settled_by = Some("leader1".into());
    settled.settled_at = Some(t0());
    assert!(
        repo.settle_need(&id, &settled, &incident_event("need_case", grid))
            .await
            .expect("settle")
    );
    assert!(
        !repo
            .settle_need(&id, &settled, &incident_event("need_case", grid))
            .await
            .expect("once")
    );
    assert_eq!(
        repo.incident_needs(&id).await.expect("needs"),
        vec![settled]
    );

    // Situation reports are numbered; a reminder is kept once per period.
    let sitrep = SitrepRecord {
        seq: 0,
        at: t0(),
        author: "leader1".into(),
        figures: serde_json::json!({"households_checked": 120}),
        text: "雨势减弱".into(),
    };
    assert_eq!(
        repo.add_sitrep(&id, &sitrep, &incident_event("sitrep", None))
            .await
            .expect("1"),
        1
    );
    assert_eq!(
        repo.add_sitrep(&id, &sitrep, &incident_event("sitrep", None))
            .await
            .expect("2"),
        2
    );
    assert_eq!(repo.sitreps(&id).await.expect("sitreps").len(), 2);
    assert!(repo.remind_sitrep(&id, 3, t0()).await.expect("remind"));
    assert!(!repo.remind_sitrep(&id, 3, t0()).await.expect("once"));

    // The log: every change numbered in order, and append-only.
    let events = repo.incident_events(&id).await.expect("events");
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        [
            "declare",
            "level",
            "task_done",
            "acknowledge",
            "report",
            "need_case",
            "sitrep",
            "sitrep",
            "sitrep_reminder"
        ]
    );
    assert!(
        events
            .iter()
            .enumerate()
            .all(|(i, e)| e.seq == i as u64 + 1)
    );
    assert_eq!(events[7].body["number"], 2);
    assert!(
        repo.incidents_in("active")
            .await
            .expect("active")
            .iter()
            .any(|i| i.id == id)
    );
    assert_eq!(repo.incidents(10).await.expect("list").len(), 1);
}

async fn the_search_indexer_reads_changed_cases_in_update_order(repo: &dyn Repository) {
    use civicgrid_domain::case::{Action, apply, decide};
    with_catalogue(repo).await;
    let mut ids = Vec::new();
    for (k, text) in ["3栋楼顶漏水", "路灯不亮", "厨房漏水"]
        .into_iter()
        .enumerate()
    {
        let id = uuid::Uuid::now_v7();
        let mut case = new_case(
            id,
            "440305001001001",
            t0() + jiff::SignedDuration::from_secs(k as i64),
        );
        case.description = text.into();
        repo.create_case(&case, &report_event(&case))
            .await
            .expect("created");
        ids.push(id);
    }
    // From the start: every case once, in update order.
    let all = repo.cases_to_index((0, ""), 10).await.expect("pending");
    assert_eq!(all.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
    assert!(all.windows(2).all(|w| w[0].1 <= w[1].1));
    // A page at a time, resuming after the last (update time, id) read.
    let first = repo.cases_to_index((0, ""), 2).await.expect("page");
    assert_eq!(first.len(), 2);
    let (last_id, last_at) = first[1];
    let rest = repo
        .cases_to_index((last_at, &last_id.to_string()), 10)
        .await
        .expect("rest");
    assert_eq!(rest.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids[2..]);
    // A change brings a case back, after the others.
    let (end_id, end_at) = all[2];
    let case = repo.case(&ids[0]).await.expect("read").expect("case");
    let accept = decide(&case.state, Action::Accept).expect("accept");
    let mut changed = case.clone();
    changed.state = apply(&case.state, &accept);
    changed.updated_at = t0() + jiff::SignedDuration::from_hours(1);
    repo.record_change(
        &changed,
        1,
        &[transition_event(
            case.id,
            &accept,
            "calltaker1",
            changed.updated_at,
        )],
    )
    .await
    .expect("changed");
    let after = repo
        .cases_to_index((end_at, &end_id.to_string()), 10)
        .await
        .expect("after");
    assert_eq!(
        after.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    // The rebuild generation is made once and kept; every rebuild starts another.
    let first = repo.search_generation().await.expect("generation");
    assert_eq!(repo.search_generation().await.expect("generation"), first);
    let second = repo.next_search_generation().await.expect("rebuild");
    assert_ne!(second, first);
    assert_eq!(repo.search_generation().await.expect("generation"), second);
    let third = repo.next_search_generation().await.expect("rebuild");
    assert!(third != second && third != first);
    assert_eq!(repo.search_generation().await.expect("generation"), third);
}
