use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::access::Scope;
use crate::case::{CaseState, Channel, Summons};
use crate::catalogue::Priority;

fn role(code: &str, perms: &[Permission]) -> Role {
    Role {
        code: code.into(),
        name_zh: code.into(),
        name_en: code.into(),
        permissions: perms.iter().copied().collect(),
    }
}

fn roles() -> Vec<Role> {
    vec![
        role("reader", &[Permission::CaseRead]),
        role("handler", &[Permission::CaseRead, Permission::CaseHandle]),
        role(
            "dispatcher",
            &[
                Permission::CaseRead,
                Permission::CaseDispatch,
                Permission::CaseReadContact,
                Permission::KpiRead,
            ],
        ),
        role("leader", &[Permission::KpiRead, Permission::KpiManage]),
    ]
}

fn staff(name: &str, grants: &[(&str, &str)]) -> Actor {
    Actor::Staff {
        username: name.into(),
        grants: grants
            .iter()
            .map(|(r, s)| Grant {
                role: (*r).into(),
                scope: s.parse().expect("scope"),
            })
            .collect(),
    }
}

fn region(code: &str) -> RegionCode {
    code.parse().expect("region")
}

fn case(region_code: &str, units: &[&str], summoned: &[&str]) -> Case {
    let mut state = CaseState::new();
    state.units = units.iter().map(|u| (*u).to_owned()).collect();
    state.summons = summoned
        .iter()
        .map(|u| Summons {
            unit: (*u).to_owned(),
            due_at: jiff::Timestamp::UNIX_EPOCH,
            answered: false,
            missed: false,
        })
        .collect();
    Case {
        id: Uuid::from_u128(7),
        receipt_code: "0000-0007".into(),
        public_id: "000000000007".into(),
        reporter_key: None,
        channel: Channel::Web,
        description: "井盖缺失".into(),
        address: None,
        location: None,
        grid: None,
        region: region(region_code),
        category: None,
        attributes: BTreeMap::new(),
        priority: Priority::Normal,
        reporter_sealed: None,
        routed_units: vec![],
        routing: String::new(),
        reported_at: jiff::Timestamp::UNIX_EPOCH,
        updated_at: jiff::Timestamp::UNIX_EPOCH,
        clock: None,
        state,
    }
}

#[test]
fn a_case_is_read_in_its_region_by_its_units_and_by_summoned_units() {
    let roles = roles();
    let policy = Policy::new(&roles);
    let c = case("440305001001", &["CGJ"], &["ZJJ"]);
    let street = staff("d", &[("dispatcher", "region:440305001")]);
    let other_street = staff("o", &[("dispatcher", "region:440305002")]);
    let unit = staff("h", &[("handler", "unit:CGJ")]);
    let summoned = staff("z", &[("handler", "unit:ZJJ")]);
    let bystander = staff("x", &[("handler", "unit:SWJ")]);
    let kpi_only = staff("l", &[("leader", "region:440305")]);
    assert!(policy.may_read_case(&street, &c).is_ok());
    assert!(policy.may_read_case(&unit, &c).is_ok());
    assert!(policy.may_read_case(&summoned, &c).is_ok());
    assert!(policy.may_read_case(&other_street, &c).is_err());
    assert!(policy.may_read_case(&bystander, &c).is_err());
    assert!(policy.may_read_case(&kpi_only, &c).is_err());
    assert!(policy.may_read_case(&Actor::Resident, &c).is_err());
    assert!(
        policy
            .may_read_case(&Actor::Reporter { case: c.id }, &c)
            .is_err()
    );
    assert!(policy.may_read_case(&Actor::System, &c).is_ok());
}

#[test]
fn photos_follow_the_case_and_the_reporter_sees_their_own_report_photos() {
    let roles = roles();
    let policy = Policy::new(&roles);
    let c = case("440305001001", &["CGJ"], &["ZJJ"]);
    let summoned = staff("z", &[("handler", "unit:ZJJ")]);
    for stage in [PhotoStage::Report, PhotoStage::Before, PhotoStage::After] {
        assert!(policy.may_read_photo(&summoned, &c, stage).is_ok());
    }
    let reporter = Actor::Reporter { case: c.id };
    assert!(
        policy
            .may_read_photo(&reporter, &c, PhotoStage::Report)
            .is_ok()
    );
    assert!(
        policy
            .may_read_photo(&reporter, &c, PhotoStage::After)
            .is_err()
    );
    let stranger = Actor::Reporter {
        case: Uuid::from_u128(8),
    };
    assert!(
        policy
            .may_read_photo(&stranger, &c, PhotoStage::Report)
            .is_err()
    );
}

#[test]
fn contact_details_need_the_permission_on_the_region_not_through_a_unit() {
    let roles = roles();
    let policy = Policy::new(&roles);
    let c = case("440305001001", &["CGJ"], &[]);
    assert!(
        policy
            .may_read_contact(&staff("d", &[("dispatcher", "region:440305001")]), &c)
            .is_ok()
    );
    assert!(
        policy
            .may_read_contact(&staff("d", &[("dispatcher", "unit:CGJ")]), &c)
            .is_err()
    );
    assert!(
        policy
            .may_read_contact(&staff("r", &[("reader", "region:440305")]), &c)
            .is_err()
    );
    assert!(policy.may_read_contact(&Actor::Resident, &c).is_err());
}

#[test]
fn the_reporter_evaluates_and_adds_report_photos_only_on_their_own_case() {
    let roles = roles();
    let policy = Policy::new(&roles);
    let c = case("440305001001", &["CGJ"], &[]);
    let reporter = Actor::Reporter { case: c.id };
    for action in crate::case::tests::one_of_each() {
        let allowed = matches!(
            action,
            Action::Evaluate { .. }
                | Action::AttachPhoto {
                    stage: PhotoStage::Report,
                    ..
                }
        );
        assert_eq!(
            policy.may_take(&reporter, &action, &c).is_ok(),
            allowed,
            "{action:?}"
        );
        let other = Actor::Reporter {
            case: Uuid::from_u128(9),
        };
        assert!(policy.may_take(&other, &action, &c).is_err());
        assert!(policy.may_take(&Actor::Resident, &action, &c).is_err());
        assert!(policy.may_take(&Actor::System, &action, &c).is_ok());
    }
}

#[test]
fn nobody_but_the_platform_raises_alarms_or_records_missed_answers() {
    let roles = vec![role("all", Permission::ALL)];
    let policy = Policy::new(&roles);
    let c = case("440305001001", &["CGJ"], &["ZJJ"]);
    let everything = staff("a", &[("all", "region:440305")]);
    for action in crate::case::tests::one_of_each() {
        let platform_only = matches!(
            action,
            Action::RaiseAlarm { .. } | Action::MissWhistle { .. }
        );
        assert_eq!(
            policy.may_take(&everything, &action, &c).is_err(),
            platform_only,
            "{action:?}"
        );
    }
}

#[test]
fn assessments_appeals_and_surveys() {
    let roles = roles();
    let policy = Policy::new(&roles);
    let street = region("440305001");
    let community = region("440305001001");
    let elsewhere = region("440305002001");
    let dispatcher = staff("d", &[("dispatcher", "region:440305001")]);
    let leader = staff("l", &[("leader", "region:440305")]);
    let handler = staff("h", &[("handler", "unit:CGJ")]);
    assert!(policy.may_read_kpi(&dispatcher, &community).is_ok());
    assert!(policy.may_read_kpi(&dispatcher, &elsewhere).is_err());
    assert!(policy.may_read_kpi(&handler, &street).is_err());
    assert!(policy.may_list_appeals(&dispatcher).is_ok());
    assert!(policy.may_list_appeals(&handler).is_err());
    // Only the assessed appeal.
    let unit = Subject::Unit("CGJ".into());
    assert!(policy.may_appeal(&handler, &unit, &street).is_ok());
    assert!(policy.may_appeal(&dispatcher, &unit, &street).is_err());
    let place = Subject::Region("440305001001".into());
    assert!(policy.may_appeal(&dispatcher, &place, &community).is_ok());
    assert!(policy.may_appeal(&dispatcher, &place, &elsewhere).is_err());
    assert!(
        policy
            .may_appeal(&handler, &Subject::Staff("h".into()), &street)
            .is_ok()
    );
    assert!(
        policy
            .may_appeal(&handler, &Subject::Staff("d".into()), &street)
            .is_err()
    );
    assert!(policy.may_appeal(&Actor::Resident, &unit, &street).is_err());
    // Review needs kpi.read, decision kpi.manage, and never one's own.
    let review = AppealStep::Review { supports: true };
    let decide = AppealStep::Decide { uphold: true };
    assert!(
        policy
            .may_advance_appeal(&dispatcher, &review, &community, "h")
            .is_ok()
    );
    assert!(
        policy
            .may_advance_appeal(&dispatcher, &decide, &community, "h")
            .is_err()
    );
    assert!(
        policy
            .may_advance_appeal(&leader, &decide, &community, "h")
            .is_ok()
    );
    assert!(
        policy
            .may_advance_appeal(&leader, &decide, &community, "l")
            .is_err()
    );
    assert!(policy.may_open_survey(&leader).is_ok());
    assert!(policy.may_open_survey(&dispatcher).is_err());
    assert!(policy.may_open_survey(&Actor::System).is_err());
}

#[test]
fn administration_needs_the_permission_somewhere() {
    let roles = vec![role("admin", &[Permission::UserManage])];
    let policy = Policy::new(&roles);
    let admin = staff("a", &[("admin", "region:440305")]);
    assert!(
        policy
            .may_administer(&admin, Permission::UserManage)
            .is_ok()
    );
    assert!(
        policy
            .may_administer(&admin, Permission::TerritoryManage)
            .is_err()
    );
    assert!(
        policy
            .may_administer(&Actor::Resident, Permission::UserManage)
            .is_err()
    );
    assert!(
        policy
            .may_administer(&Actor::System, Permission::TerritoryManage)
            .is_ok()
    );
    assert_eq!(policy.held(&admin), vec![Permission::UserManage]);
}

#[test]
fn readable_regions_are_the_top_of_each_subtree() {
    let roles = roles();
    let policy = Policy::new(&roles);
    let a = staff(
        "r",
        &[
            ("reader", "region:440305001001"),
            ("reader", "region:440305001"),
            ("reader", "region:440305002003"),
            ("leader", "region:440305"),
            ("handler", "unit:CGJ"),
        ],
    );
    assert_eq!(
        policy.regions_with(&a, Permission::CaseRead),
        vec![region("440305001"), region("440305002003")]
    );
}

fn arb_scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        prop::sample::select(vec![
            "440305",
            "440305001",
            "440305002",
            "440305001001",
            "440305001002",
            "440305002001"
        ])
        .prop_map(|r| Scope::Region(region(r))),
        prop::sample::select(vec!["CGJ", "ZJJ", "SWJ"]).prop_map(|u| Scope::Unit(u.into())),
    ]
}

proptest! {
    /// Reading a case is exactly: case.read on a region containing it, or on one of the
    /// units it is with or summoned to; and whoever may take any staff action may read it.
    #[test]
    fn reading_a_case_matches_its_definition(
        grants in prop::collection::vec(
            (prop::sample::select(vec!["reader", "handler", "dispatcher", "leader"]), arb_scope()),
            0..4,
        ),
        region_code in prop::sample::select(vec!["440305001001", "440305001002", "440305002001"]),
        units in prop::sample::subsequence(vec!["CGJ", "ZJJ", "SWJ"], 0..3),
        summoned in prop::sample::subsequence(vec!["CGJ", "ZJJ", "SWJ"], 0..2),
    ) {
        let roles = roles();
        let policy = Policy::new(&roles);
        let c = case(region_code, &units, &summoned);
        let grants: Vec<Grant> = grants
            .into_iter()
            .map(|(r, s)| Grant { role: r.into(), scope: s })
            .collect();
        let expected = grants.iter().any(|g| {
            roles.iter().any(|r| r.code == g.role && r.permissions.contains(&Permission::CaseRead))
                && match &g.scope {
                    Scope::Region(r) => r.contains(&c.region),
                    Scope::Unit(u) => units.contains(&u.as_str()) || summoned.contains(&u.as_str()),
                }
        });
        let actor = Actor::Staff { username: "p".into(), grants };
        prop_assert_eq!(policy.may_read_case(&actor, &c).is_ok(), expected);
        for stage in [PhotoStage::Report, PhotoStage::After] {
            prop_assert_eq!(policy.may_read_photo(&actor, &c, stage).is_ok(), expected);
        }
        // Every role here that acts on cases also reads them.
        for action in crate::case::tests::one_of_each() {
            if policy.may_take(&actor, &action, &c).is_ok() {
                prop_assert!(expected, "{:?} allowed without read", action);
            }
        }
    }
}

#[test]
fn everyone_lands_where_their_work_is() {
    let mut roles = roles();
    roles.push(role(
        "grid_worker",
        &[
            Permission::CaseRead,
            Permission::CaseVerify,
            Permission::CaseResolveOnSite,
        ],
    ));
    roles.push(role(
        "admin",
        &[Permission::UserManage, Permission::KpiRead],
    ));
    roles.push(role(
        "street_leader",
        &[
            Permission::CaseRead,
            Permission::CaseApprove,
            Permission::CaseSupervise,
            Permission::KpiRead,
            Permission::KpiManage,
        ],
    ));
    let policy = Policy::new(&roles);
    let at = |role: &str| policy.landing(&staff("x", &[(role, "region:440305")]));
    assert_eq!(at("street_leader"), Landing::Dashboard);
    assert_eq!(at("leader"), Landing::Dashboard);
    assert_eq!(at("grid_worker"), Landing::Field);
    assert_eq!(at("dispatcher"), Landing::Workbench);
    assert_eq!(at("handler"), Landing::Workbench);
    assert_eq!(at("admin"), Landing::Administration);
    assert_eq!(policy.landing(&staff("x", &[])), Landing::Home);
    assert!(
        policy
            .may_report_on_patrol(&staff("x", &[("grid_worker", "region:440305")]))
            .is_err()
    );
    let mut with_report = roles.clone();
    with_report.push(role(
        "patrol",
        &[Permission::CaseReport, Permission::CaseRead],
    ));
    let policy = Policy::new(&with_report);
    assert!(
        policy
            .may_report_on_patrol(&staff("x", &[("patrol", "region:440305")]))
            .is_ok()
    );
    assert!(policy.may_report_on_patrol(&Actor::Resident).is_err());
    assert_eq!(Landing::Dashboard.path(), "/dashboard");
}

#[test]
fn people_are_seen_only_by_the_roles_that_need_them_in_their_region() {
    let roles = vec![
        role("member", &[Permission::VisitLog]),
        role(
            "secretary",
            &[
                Permission::PartyManage,
                Permission::PeopleReadContact,
                Permission::HouseholdManage,
                Permission::VisitLog,
            ],
        ),
        role("reader", &[Permission::PartyRead]),
        role(
            "organiser",
            &[Permission::VolunteerManage, Permission::WishManage],
        ),
    ];
    let policy = Policy::new(&roles);
    let here: RegionCode = "440305001002".parse().expect("region");
    let there: RegionCode = "440305002001".parse().expect("region");
    let member = staff("li", &[("member", "region:440305001002")]);
    let secretary = staff("wang", &[("secretary", "region:440305001")]);
    let reader = staff("zhao", &[("reader", "region:440305001002")]);
    let organiser = staff("sun", &[("organiser", "region:440305001002")]);

    assert_eq!(policy.landing(&member), Landing::Mine);
    // Membership: readers and keepers in their region, nobody else.
    assert!(policy.may_read_membership(&reader, &here).is_ok());
    assert!(policy.may_read_membership(&reader, &there).is_err());
    assert!(policy.may_read_membership(&secretary, &here).is_ok());
    assert!(policy.may_read_membership(&member, &here).is_err());
    assert!(policy.may_read_membership(&Actor::Resident, &here).is_err());
    assert!(policy.may_manage_party(&reader, &here).is_err());
    // Phone numbers: only with the contact permission.
    assert!(policy.may_read_personal_contact(&secretary, &here).is_ok());
    assert!(policy.may_read_personal_contact(&reader, &here).is_err());
    assert!(policy.may_read_personal_contact(&organiser, &here).is_err());
    // Households: the keeper, or the assigned contact (only their own).
    assert!(
        policy
            .may_read_household(&member, &here, Some("li"))
            .is_ok()
    );
    assert!(
        policy
            .may_read_household(&member, &here, Some("other"))
            .is_err()
    );
    assert!(policy.may_read_household(&member, &here, None).is_err());
    assert!(policy.may_read_household(&secretary, &here, None).is_ok());
    assert!(policy.may_read_household(&secretary, &there, None).is_err());
    assert!(policy.may_log_visit(&member, &here, Some("li")).is_ok());
    assert!(policy.may_log_visit(&member, &here, Some("other")).is_err());
    assert!(
        policy
            .may_log_visit(&organiser, &here, Some("sun"))
            .is_err(),
        "needs visit.log"
    );
    assert!(policy.may_log_visit(&secretary, &here, Some("li")).is_ok());
    // Wishes and volunteers.
    assert!(policy.may_manage_wishes(&organiser, &here).is_ok());
    assert!(policy.may_manage_wishes(&member, &here).is_err());
    assert!(policy.may_manage_volunteers(&organiser, &here).is_ok());
    assert!(policy.may_manage_volunteers(&organiser, &there).is_err());
    assert!(policy.may_manage_volunteers(&Actor::System, &there).is_ok());
}

#[test]
fn emergency_command_respond_and_tasks_follow_their_scopes() {
    use crate::emergency::Target as TaskTarget;
    let roles = vec![
        role("street_leader", &[Permission::EmergencyCommand]),
        role("grid_worker", &[Permission::EmergencyRespond]),
        role("handler", &[Permission::CaseRead, Permission::CaseHandle]),
        role("reader", &[Permission::CaseRead]),
    ];
    let policy = Policy::new(&roles);
    let street = region("440305001");
    let community = region("440305001001");
    let other = region("440305002001");
    let leader = staff("leader", &[("street_leader", "region:440305001")]);
    let worker = staff("gw", &[("grid_worker", "region:440305001001")]);
    let handler = staff("h", &[("handler", "unit:SWJT")]);
    let reader = staff("r", &[("reader", "region:440305")]);
    // Every emergency route asks this first.
    for a in [&leader, &worker, &handler] {
        assert!(policy.may_use_emergency(a).is_ok());
    }
    for a in [&reader, &Actor::Resident] {
        assert!(policy.may_use_emergency(a).is_err());
    }
    assert!(policy.may_keep_plans(&leader).is_ok());
    assert!(policy.may_keep_plans(&worker).is_err());
    assert!(policy.may_command_incident(&leader, &street).is_ok());
    assert!(
        policy
            .may_command_incident(&leader, &region("440305"))
            .is_err(),
        "not over the district"
    );
    assert!(policy.may_respond_in(&worker, &community).is_ok());
    assert!(policy.may_respond_in(&worker, &other).is_err());
    assert!(
        policy.may_respond_in(&leader, &community).is_ok(),
        "the commander may act for a grid"
    );
    // Tasks: the unit's handlers, the role's holders, the grid's responders, the commander.
    let unit = TaskTarget::Unit("SWJT".into());
    let role_task = TaskTarget::Role("street_leader".into());
    let grid = TaskTarget::Grid("440305001001001".parse().expect("grid"));
    assert!(
        policy
            .may_finish_task(&handler, &unit, &street, None)
            .is_ok()
    );
    assert!(
        policy
            .may_finish_task(&worker, &unit, &street, None)
            .is_err()
    );
    assert!(
        policy
            .may_finish_task(&worker, &grid, &street, Some(&community))
            .is_ok()
    );
    assert!(
        policy
            .may_finish_task(&worker, &grid, &street, Some(&other))
            .is_err()
    );
    assert!(
        policy
            .may_finish_task(&handler, &grid, &street, Some(&community))
            .is_err()
    );
    assert!(
        policy
            .may_finish_task(&leader, &unit, &street, None)
            .is_ok()
    );
    let other_leader = staff("l2", &[("street_leader", "region:440305002")]);
    assert!(
        policy
            .may_finish_task(&other_leader, &role_task, &street, None)
            .is_err(),
        "the role over another street"
    );
    // Reading: over the region, a grid's responders, the units with tasks.
    assert!(policy.may_read_incident(&leader, &street, [], []).is_ok());
    assert!(
        policy
            .may_read_incident(&worker, &street, [&community], [])
            .is_ok()
    );
    assert!(
        policy
            .may_read_incident(&worker, &street, [&other], [])
            .is_err()
    );
    assert!(
        policy
            .may_read_incident(&handler, &street, [], ["SWJT"])
            .is_ok()
    );
    assert!(
        policy
            .may_read_incident(&handler, &street, [], ["GDJ"])
            .is_err()
    );
    assert!(policy.may_read_incident(&reader, &street, [], []).is_err());
}
