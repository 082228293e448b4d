//! Party-building in the demo district, the same for the same seed: each street's working
//! committee (党工委) and each community's committee with a branch per beat and a group per
//! grid; an alliance per street; members (the demo's member and secretary accounts among
//! them, in-service members registering with where they live); a household register with
//! every household given to a member or the beat's grid worker, and three months of contacts;
//! small wishes at every stage; volunteers, a past activity with approved hours and a coming
//! one with a waiting list.
//!
//! The registers are written through the services (as an administrator would import them);
//! the history — visits, wishes and hours of past weeks — is written through the stores with
//! the times it happened, as the case history is.

use civicgrid_domain::household::VisitChannel;
use civicgrid_domain::party::{Alliance, Organisation, OrganisationKind, Partner, PartnerKind};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{GridCode, RegionCode, RegionLevel};
use civicgrid_domain::volunteer::HoursStatus;
use civicgrid_domain::wish::WishStatus;
use civicgrid_store::{
    ActivityRecord, HoursRecord, ShiftRecord, SignupRecord, VisitRecord, WishEvent, WishRecord,
};
use jiff::{SignedDuration, Timestamp};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::App;
use crate::contacts::Contact;
use crate::error::AppResult;

/// What the party-building demo holds.
#[derive(Debug, Clone, Default)]
pub struct PartyDemo {
    pub organisations: usize,
    pub members: usize,
    pub households: usize,
    pub visits: usize,
    pub wishes: usize,
    pub volunteers: usize,
    pub activities: usize,
    pub hours_entries: usize,
}

const DUTIES: &[&str] = &[
    "党员",
    "党员",
    "党员",
    "党员",
    "支部委员",
    "组织委员",
    "宣传委员",
];
const EMPLOYERS: &[&str] = &[
    "水务集团南山分公司",
    "南山供电局",
    "深圳湾实验学校",
    "南山医院",
    "科技园管理服务中心",
];
const SKILLS: &[&str] = &[
    "急救",
    "驾驶",
    "文明劝导",
    "助老",
    "心理疏导",
    "法律咨询",
    "维修",
    "摄影",
];
const TOPICS: &[(&str, &str)] = &[
    ("独居老人关怀", "身体还好，叮嘱注意保暖"),
    ("政策宣传", "讲解了医保缴费"),
    ("安全隐患排查", "楼道无杂物"),
    ("听取意见", "希望小区增加晾晒区"),
    ("邻里纠纷回访", "双方已和好"),
];
const WISHES: &[(&str, &str)] = &[
    ("想要一副老花镜", "看报纸用，+200度"),
    ("希望有人陪我去医院复查", "每月一次，腿脚不便"),
    ("孩子想要几本课外书", "三年级，喜欢科普"),
    ("想学用智能手机挂号", "子女不在身边"),
    ("家里水龙头漏水", "独居，不会修"),
    ("想要一台收音机", "喜欢听戏"),
    ("希望有人帮忙换灯泡", "卫生间的灯坏了"),
    ("想给老伴过个生日", "请社区帮忙买个蛋糕"),
];

impl App {
    /// Loads party-building into the demo territory (after `load_demo`); `now` is the demo's
    /// today. Phones and household contacts are kept only where the deployment has a data key.
    pub async fn load_demo_party(&self, seed: u64) -> AppResult<PartyDemo> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9a27_7e11);
        let now = self.clock.now();
        let reference = self.reference().await?;
        let system = Actor::System;
        let sealed = self.sealer.is_some();
        let mut out = PartyDemo::default();
        let person = |rng: &mut ChaCha8Rng| {
            format!(
                "{}{}",
                super::SURNAMES[rng.random_range(0..super::SURNAMES.len())],
                super::GIVEN[rng.random_range(0..super::GIVEN.len())]
            )
        };
        let phone = |rng: &mut ChaCha8Rng| {
            sealed.then(|| format!("139{:08}", rng.random_range(0..100_000_000u32)))
        };

        // Organisations: street committees, community committees, a branch per beat, a
        // group per grid.
        let mut communities: Vec<RegionCode> = reference
            .region_names
            .keys()
            .filter(|c| c.level() == RegionLevel::Community)
            .cloned()
            .collect();
        communities.sort();
        let mut streets: Vec<RegionCode> =
            communities.iter().filter_map(RegionCode::parent).collect();
        streets.dedup();
        let beats = self.repo.beats().await?;
        let mut orgs = Vec::new();
        for street in &streets {
            orgs.push(Organisation {
                code: format!("DGW-{}", street.as_str()),
                name: format!("{}党工委", reference.region_name(street)),
                kind: OrganisationKind::Committee,
                parent: None,
                region: street.clone(),
                grid: None,
            });
        }
        for c in &communities {
            let street = c.parent().unwrap_or_else(|| c.clone());
            orgs.push(Organisation {
                code: format!("DW-{}", c.as_str()),
                name: format!("{}党委", reference.region_name(c)),
                kind: OrganisationKind::Committee,
                parent: Some(format!("DGW-{}", street.as_str())),
                region: c.clone(),
                grid: None,
            });
            for (i, beat) in beats.iter().filter(|b| &b.region == c).enumerate() {
                let branch = format!("ZB-{}", beat.code);
                orgs.push(Organisation {
                    code: branch.clone(),
                    name: format!("{}第{}网格党支部", reference.region_name(c), i + 1),
                    kind: OrganisationKind::Branch,
                    parent: Some(format!("DW-{}", c.as_str())),
                    region: c.clone(),
                    grid: beat.grids.first().cloned(),
                });
                for g in &beat.grids {
                    orgs.push(Organisation {
                        code: format!("XZ-{g}"),
                        name: format!("{}党小组", reference.place_name(g)),
                        kind: OrganisationKind::GridGroup,
                        parent: Some(branch.clone()),
                        region: c.clone(),
                        grid: Some(g.clone()),
                    });
                }
            }
        }
        out.organisations = self.save_organisations(&system, &orgs).await?;

        // An alliance per street: the committee, two utilities and local companies.
        let alliances: Vec<Alliance> = streets
            .iter()
            .map(|s| Alliance {
                code: format!("LM-{}", s.as_str()),
                name: format!("{}区域化党建联盟", reference.region_name(s)),
                region: s.clone(),
                partners: vec![
                    Partner {
                        kind: PartnerKind::Organisation,
                        reference: format!("DGW-{}", s.as_str()),
                        commitment: "牵头召开季度联席会，统筹共建项目".into(),
                    },
                    Partner {
                        kind: PartnerKind::Unit,
                        reference: "SWJT".into(),
                        commitment: "每季度上门检查老旧小区供水设施".into(),
                    },
                    Partner {
                        kind: PartnerKind::Unit,
                        reference: "GDJ".into(),
                        commitment: "为独居老人免费检修家用线路".into(),
                    },
                    Partner {
                        kind: PartnerKind::Company,
                        reference: "万象物业服务有限公司".into(),
                        commitment: "每月组织一次楼道清洁日".into(),
                    },
                    Partner {
                        kind: PartnerKind::Company,
                        reference: "邻里生鲜超市".into(),
                        commitment: "为困难家庭认领微心愿".into(),
                    },
                ],
            })
            .filter(|a| {
                a.partners.iter().all(|p| {
                    p.kind != PartnerKind::Unit
                        || reference.units.iter().any(|u| u.code == p.reference)
                })
            })
            .collect();
        self.save_alliances(&system, &alliances).await?;

        // Members: a secretary and a dozen members in each community; the demo's member
        // accounts among them.
        let users = self.repo.users().await?;
        let account = |prefix: &str, c: &RegionCode| -> Vec<String> {
            users
                .iter()
                .filter(|u| u.username.starts_with(prefix))
                .filter(|u| u.grants.iter().any(|g| matches!(&g.scope, civicgrid_domain::access::Scope::Region(r) if r == c)))
                .map(|u| u.username.clone())
                .collect()
        };
        let mut in_service_elsewhere = Vec::new();
        for c in &communities {
            let branches: Vec<String> = orgs
                .iter()
                .filter(|o| o.region == *c && o.kind == OrganisationKind::Branch)
                .map(|o| o.code.clone())
                .collect();
            let Some(first_branch) = branches.first().cloned() else {
                continue;
            };
            let mut new = vec![crate::party::NewMember {
                name: person(&mut rng),
                organisation: format!("DW-{}", c.as_str()),
                duty: "党委书记".into(),
                phone: phone(&mut rng),
                in_service: false,
                employer_unit: None,
                username: account("secretary.", c).into_iter().next(),
            }];
            let mut accounts = account("member.", c).into_iter();
            for i in 0..12 {
                let in_service = rng.random_bool(0.35);
                new.push(crate::party::NewMember {
                    name: person(&mut rng),
                    organisation: branches
                        .choose(&mut rng)
                        .cloned()
                        .unwrap_or_else(|| first_branch.clone()),
                    duty: if i == 0 {
                        "支部书记".into()
                    } else {
                        (*DUTIES.choose(&mut rng).unwrap_or(&"党员")).into()
                    },
                    phone: phone(&mut rng),
                    in_service: in_service || i < 2,
                    employer_unit: (in_service || i < 2)
                        .then(|| (*EMPLOYERS.choose(&mut rng).unwrap_or(&"南山医院")).to_owned()),
                    username: if i < 2 { accounts.next() } else { None },
                });
            }
            for m in new {
                let record = self.add_member(&system, m).await?;
                if record.member.in_service && record.member.username.is_none() {
                    in_service_elsewhere.push(record.member.id);
                }
                out.members += 1;
            }
        }
        // 双报到: in-service members register where they live, a street away; most approved.
        for (i, id) in in_service_elsewhere.iter().enumerate().take(12) {
            let Some(mut record) = self.repo.member(id).await? else {
                continue;
            };
            let home = &communities[(communities
                .iter()
                .position(|c| *c == record.region)
                .unwrap_or(0)
                + 3)
                % communities.len()];
            if record.member.apply_home(home.clone()).is_ok() {
                if i % 3 != 0 {
                    let _ = record.member.decide_home(true);
                }
                self.repo.save_member(&record, now).await?;
            }
        }

        // Households: in every grid one building of two units, three floors, two flats each.
        let assigned_on = (now - SignedDuration::from_hours(24 * 92))
            .to_zoned(reference.calendar.time_zone().clone())
            .date();
        let grids: Vec<(GridCode, RegionCode)> = {
            let mut g: Vec<_> = reference
                .grid_regions
                .iter()
                .map(|(g, r)| (g.clone(), r.clone()))
                .collect();
            g.sort();
            g
        };
        let mut households = Vec::new();
        for (g, _) in &grids {
            let building = format!("{}栋", g.sequence().unwrap_or(1));
            for unit in 1..=2 {
                for floor in 1..=3 {
                    for flat in 1..=2 {
                        let consent = rng.random_bool(0.9);
                        let contact = (consent && sealed).then(|| Contact {
                            name: Some(person(&mut rng)),
                            phone: phone(&mut rng),
                            email: None,
                            ..Default::default()
                        });
                        households.push(crate::households::NewHousehold {
                            grid: g.clone(),
                            building: building.clone(),
                            unit: format!("{unit}单元"),
                            room: format!("{floor}0{flat}"),
                            consent,
                            contact,
                        });
                    }
                }
            }
        }
        let records = self.add_households(&system, households).await?;
        out.households = records.len();
        // The demo's member accounts each keep ten households of their community's first
        // grids; the beat's grid worker keeps the rest.
        let mut by_assignee: std::collections::BTreeMap<String, Vec<uuid::Uuid>> =
            Default::default();
        for c in &communities {
            let mut here: Vec<&civicgrid_store::HouseholdRecord> =
                records.iter().filter(|h| &h.region == c).collect();
            here.sort_by(|a, b| {
                (&a.grid, &a.building, &a.unit, &a.room).cmp(&(
                    &b.grid,
                    &b.building,
                    &b.unit,
                    &b.room,
                ))
            });
            let members = account("member.", c);
            let mut taken = std::collections::BTreeSet::new();
            for (i, m) in members.iter().enumerate() {
                for h in here.iter().skip(i * 10).take(10) {
                    by_assignee.entry(m.clone()).or_default().push(h.id);
                    taken.insert(h.id);
                }
            }
            for h in here.iter().filter(|h| !taken.contains(&h.id)) {
                let worker = beats
                    .iter()
                    .find(|b| b.grids.contains(&h.grid))
                    .and_then(|b| b.workers.first().cloned());
                if let Some(w) = worker {
                    by_assignee.entry(w).or_default().push(h.id);
                }
            }
        }
        for (who, ids) in &by_assignee {
            self.repo
                .assign_households(ids, Some(who), assigned_on)
                .await?;
        }
        if let Some(b) = beats.first() {
            self.repo
                .set_visit_plan(&format!("beat:{}", b.code), Some(14))
                .await?;
        }
        // Three months of contacts: most windows have one, some two; diligence varies.
        let interval = self.intervals().await?;
        let tz = reference.calendar.time_zone().clone();
        for (who, ids) in &by_assignee {
            let diligence: f64 = rng.random_range(0.6..0.95);
            for id in ids {
                let Some(h) = records.iter().find(|r| &r.id == id) else {
                    continue;
                };
                let days = i64::from(interval(&h.grid));
                let mut at = now - SignedDuration::from_hours(24 * 90);
                while at < now {
                    if rng.random_bool(diligence) {
                        let when = at
                            + SignedDuration::from_hours(rng.random_range(0..(24 * days).max(1)));
                        let when = when.min(now - SignedDuration::from_mins(5));
                        let (topics, notes) = *TOPICS.choose(&mut rng).unwrap_or(&TOPICS[0]);
                        let visit = VisitRecord {
                            id: self.ids.new_id(when),
                            household: h.id,
                            region: h.region.clone(),
                            visitor: who.clone(),
                            at: when,
                            day: when.to_zoned(tz.clone()).date(),
                            channel: *[
                                VisitChannel::InPerson,
                                VisitChannel::InPerson,
                                VisitChannel::Phone,
                                VisitChannel::WeChat,
                            ]
                            .choose(&mut rng)
                            .unwrap_or(&VisitChannel::InPerson),
                            topics: topics.into(),
                            notes: notes.into(),
                            case: None,
                        };
                        self.repo.log_visit(&visit).await?;
                        out.visits += 1;
                    }
                    at += SignedDuration::from_hours(24 * days);
                }
            }
        }

        // Small wishes at every stage in each community.
        for c in &communities {
            // Volunteers and members with accounts (the secretary is a member too): one wish at
            // a time each; the demo's member accounts are left free to take one on.
            let takers: Vec<String> = account("volunteer.", c)
                .into_iter()
                .chain(account("secretary.", c))
                .chain(account("member.", c))
                .collect();
            let offset = rng.random_range(0..WISHES.len());
            for i in 0..6 {
                let (title, description) = WISHES[(i + offset) % WISHES.len()];
                let posted_at = now
                    - SignedDuration::from_hours(24 * (2 + 5 * i as i64) + rng.random_range(0..20));
                let (stage, taker) = match i {
                    2 => (2, takers.first()),
                    3 if takers.len() > 1 => (3, takers.get(1)),
                    3 => (4, takers.first()),
                    other => (other, takers.get(other % takers.len().max(1))),
                };
                out.wishes += self
                    .demo_wish(
                        c,
                        title,
                        description,
                        posted_at,
                        stage,
                        taker.map(String::as_str),
                    )
                    .await?;
            }
        }

        // Volunteers, a past activity with hours, a coming one with a waiting list.
        for c in &communities {
            let mut volunteers = Vec::new();
            let me = account("volunteer.", c).into_iter().next();
            for i in 0..8 {
                let mut skills: Vec<String> = SKILLS
                    .choose_multiple(&mut rng, 2)
                    .map(|s| (*s).to_owned())
                    .collect();
                if i == 0 {
                    skills.push("文明劝导".into());
                }
                let v = self
                    .register_volunteer(
                        &system,
                        crate::volunteers::NewVolunteer {
                            name: person(&mut rng),
                            phone: phone(&mut rng),
                            community: c.clone(),
                            skills,
                            availability: (*["周末上午", "工作日晚上", "周末全天", "随时"]
                                .choose(&mut rng)
                                .unwrap_or(&"周末"))
                            .to_owned(),
                            consent: true,
                            username: if i == 0 { me.clone() } else { None },
                        },
                    )
                    .await?;
                volunteers.push(v);
                out.volunteers += 1;
            }
            let organiser = account("secretary.", c)
                .into_iter()
                .next()
                .unwrap_or_else(|| "system".into());
            let past = now - SignedDuration::from_hours(24 * 12);
            let future = now + SignedDuration::from_hours(24 * 3);
            for (title, place, starts, capacity) in [
                ("周末楼道清洁日", "社区党群服务中心门前", past, 6u32),
                ("文明劝导：电动车规范停放", "社区南门", future, 6),
            ] {
                let activity = ActivityRecord {
                    id: self.ids.new_id(now),
                    title: title.into(),
                    description: "由社区党委和联盟单位共同组织。".into(),
                    region: c.clone(),
                    grid: None,
                    place: place.into(),
                    required_skills: vec![],
                    organiser: organiser.clone(),
                    check_token: (0..2)
                        .map(|_| civicgrid_domain::case::public_id(self.ids.random_bits()))
                        .collect(),
                    case: None,
                    created_at: starts - SignedDuration::from_hours(24 * 7),
                };
                let shift = ShiftRecord {
                    id: self.ids.new_id(now),
                    activity: activity.id,
                    starts_at: starts,
                    ends_at: starts + SignedDuration::from_hours(2),
                    capacity,
                };
                self.repo
                    .create_activity(&activity, std::slice::from_ref(&shift))
                    .await?;
                out.activities += 1;
                let signing = if starts < now { 5 } else { 7 };
                for (k, v) in volunteers.iter().take(signing).enumerate() {
                    let signed_up_at =
                        activity.created_at + SignedDuration::from_hours(k as i64 + 1);
                    self.repo
                        .sign_up(&SignupRecord {
                            id: self.ids.new_id(signed_up_at),
                            shift: shift.id,
                            volunteer: v.id,
                            signed_up_at,
                            cancelled_at: None,
                            checked_in_at: None,
                            checked_out_at: None,
                            manual: false,
                        })
                        .await?;
                    if starts < now {
                        let manual = k == 4;
                        let came = starts - SignedDuration::from_mins(rng.random_range(0..15));
                        let left =
                            shift.ends_at + SignedDuration::from_mins(rng.random_range(-20..10));
                        self.repo.check_in(&shift.id, &v.id, came, manual).await?;
                        let minutes = civicgrid_domain::volunteer::served_minutes(
                            came,
                            left,
                            shift.starts_at,
                            shift.ends_at,
                        )
                        .unwrap_or(120);
                        let entry = HoursRecord {
                            id: self.ids.new_id(left),
                            volunteer: v.id,
                            activity: Some(activity.id),
                            case: None,
                            region: c.clone(),
                            day: came.to_zoned(tz.clone()).date(),
                            minutes,
                            manual,
                            recorded_by: v.username.clone().unwrap_or_else(|| organiser.clone()),
                            recorded_at: left,
                            status: HoursStatus::Pending,
                            decided_by: None,
                            decided_at: None,
                            note: String::new(),
                        };
                        self.repo
                            .check_out(&shift.id, &v.id, left, manual, &entry)
                            .await?;
                        out.hours_entries += 1;
                        // The organiser approved the QR check-ins; the manual one waits.
                        if !manual {
                            self.repo
                                .decide_hours(
                                    &[entry.id],
                                    HoursStatus::Approved,
                                    &organiser,
                                    left + SignedDuration::from_hours(20),
                                )
                                .await?;
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// One demo wish taken to `stage` (0 open, 1 open and escalated, 2 claimed, 3 delivered,
    /// 4–5 fulfilled) by `taker`, with its events at plausible times.
    async fn demo_wish(
        &self,
        community: &RegionCode,
        title: &str,
        description: &str,
        posted_at: Timestamp,
        stage: usize,
        taker: Option<&str>,
    ) -> AppResult<usize> {
        let id = self.ids.new_id(posted_at);
        let secret = civicgrid_domain::case::reporter_secret(self.ids.random_bits());
        let mut w = WishRecord {
            id,
            public_id: civicgrid_domain::case::public_id(self.ids.random_bits()),
            reporter_key: Some(crate::cases::seal::reporter_key(
                self.sealer.as_deref(),
                &id,
                &secret,
            )),
            region: community.clone(),
            grid: None,
            title: title.into(),
            description: description.into(),
            posted_by: "resident".into(),
            posted_at,
            status: WishStatus::Open,
            claimed_by: None,
            escalated: false,
            delivery_note: None,
            fulfilled_at: None,
            version: 0,
        };
        let event = |seq: u64, at: Timestamp, actor: &str, action: &str, note: &str| WishEvent {
            seq,
            at,
            actor: actor.into(),
            action: action.into(),
            note: note.into(),
        };
        self.repo
            .create_wish(&w, &event(0, posted_at, "resident", "post", ""))
            .await?;
        let Some(taker) = taker else {
            return Ok(1);
        };
        let mut seq = 1;
        let mut at = posted_at;
        let mut step = |w: &mut WishRecord, action: &str, note: &str, hours: i64| {
            at += SignedDuration::from_hours(hours);
            let e = event(
                seq,
                at,
                if action == "confirm" {
                    "resident"
                } else if action == "escalate" {
                    "system"
                } else {
                    taker
                },
                action,
                note,
            );
            seq += 1;
            let expected = w.version;
            w.version += 1;
            (e, expected)
        };
        let mut steps: Vec<(&str, &str, i64)> = Vec::new();
        match stage {
            1 => steps.push(("escalate", "", 24 * 7)),
            2 => steps.push(("claim", "", 20)),
            3 => steps.extend([("claim", "", 10), ("deliver", "已送到老人家中", 30)]),
            4 | 5 => steps.extend([
                ("claim", "", 6),
                ("deliver", "已帮忙完成", 26),
                ("confirm", "", 8),
            ]),
            _ => {}
        }
        for (action, note, hours) in steps {
            let (e, expected) = step(&mut w, action, note, hours);
            match action {
                "escalate" => w.escalated = true,
                "claim" => {
                    w.status = WishStatus::Claimed;
                    w.claimed_by = Some(taker.into());
                }
                "deliver" => {
                    w.status = WishStatus::Delivered;
                    w.delivery_note = Some(note.into());
                }
                _ => {
                    w.status = WishStatus::Fulfilled;
                    w.fulfilled_at = Some(e.at);
                }
            }
            self.repo.update_wish(&w, expected, &e).await?;
        }
        Ok(1)
    }
}
