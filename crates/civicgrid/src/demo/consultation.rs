//! The demo's consultation (after `load_demo_party`, whose household register it needs): in
//! every community topics raised by residents, grid workers, the community and party
//! organisations, supported by households until some qualify; opinions, one hidden by a
//! moderator with its reason and one waiting for review after flags; meetings of each kind
//! with minutes and units' answers; decisions whose cases stand at different steps of the
//! loop and whose milestones are partly done; a poll closed with its count published, and
//! one open.

use civicgrid_domain::case::Action;
use civicgrid_domain::consultation::{Answer, Ballot, InviteeKind, MeetingKind, Moderation};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{RegionCode, RegionLevel};
use jiff::SignedDuration;

use crate::App;
use crate::consultation::{
    NewAgendaItem, NewDecision, NewInvitee, NewMeeting, NewMilestone, NewPoll, NewTopic,
    NewWorkCase,
};
use crate::error::AppResult;

#[derive(Debug, Default)]
pub struct ConsultationDemo {
    pub topics: usize,
    pub opinions: usize,
    pub meetings: usize,
    pub results: usize,
    pub polls: usize,
}

/// (title, what it is about, raised as)
const TOPICS: &[(&str, &str, &str)] = &[
    (
        "小区东门夜间关闭",
        "外来车辆夜间穿行，噪音大，建议 22:00 后关闭东门。",
        "resident",
    ),
    (
        "加装电梯费用分摊",
        "3 栋老人多，想加装电梯，费用怎么分摊需要大家商量。",
        "resident",
    ),
    (
        "楼道堆物集中清理",
        "消防通道堆放杂物，建议统一清理并建立长效机制。",
        "grid_worker",
    ),
    (
        "社区食堂试点",
        "老年人吃饭难，建议在党群服务中心开设长者饭堂。",
        "party",
    ),
    (
        "非机动车充电棚",
        "电动车楼道充电隐患大，建议增设集中充电棚。",
        "community",
    ),
    (
        "广场舞音量与时段",
        "晚上广场舞音量过大，影响休息，希望约定时段和音量。",
        "resident",
    ),
];

const OPINIONS: &[&str] = &[
    "支持，晚上确实太吵了。",
    "送外卖和快递的车怎么进？建议留一个刷卡通道。",
    "同意，但要先征求一楼商户的意见。",
    "希望尽快落实，家里老人晚上睡不好。",
];

impl App {
    /// Loads the demo's consultation; `now` is the demo's today.
    pub async fn load_demo_consultation(&self) -> AppResult<ConsultationDemo> {
        let now = self.clock.now();
        let reference = self.reference().await?;
        let system = Actor::System;
        let mut out = ConsultationDemo::default();
        let mut communities: Vec<RegionCode> = reference
            .region_names
            .keys()
            .filter(|c| c.level() == RegionLevel::Community)
            .cloned()
            .collect();
        communities.sort();
        for street in communities
            .iter()
            .filter_map(RegionCode::parent)
            .collect::<std::collections::BTreeSet<_>>()
        {
            self.set_consultation_rule(&system, &street, 30, 10).await?;
        }
        for (ci, community) in communities.iter().enumerate() {
            let s = &community.as_str()[6..9];
            let c = &community.as_str()[9..12];
            let office = format!("ST{s}");
            let committee = format!("ST{s}-C{c}");
            let admin = crate::demo::staff_of(
                self,
                &format!(
                    "admin.st{}c{}",
                    s.trim_start_matches('0'),
                    c.trim_start_matches('0')
                ),
            )
            .await?;
            let handler =
                crate::demo::staff_of(self, &format!("handler.{}", committee.to_ascii_lowercase()))
                    .await?;
            let households = self.repo.households(Some(community), None).await?;
            let mut grids: Vec<_> = households.iter().map(|h| h.grid.clone()).collect();
            grids.sort();
            grids.dedup();
            // Topics: the first two raised in the community, the others in its first grid.
            let mut topics = Vec::new();
            for (i, (title, about, raised_as)) in TOPICS.iter().enumerate().skip(ci % 2).take(5) {
                let scope = match (i % 3, grids.first()) {
                    (2, Some(g)) => g.to_string(),
                    _ => community.to_string(),
                };
                let actor = if *raised_as == "resident" {
                    Actor::Resident
                } else {
                    admin.clone()
                };
                let raised_as = match *raised_as {
                    "grid_worker" | "party" => "community",
                    other => other,
                };
                let t = self
                    .raise_topic(
                        &actor,
                        NewTopic {
                            scope,
                            title: (*title).to_owned(),
                            description: (*about).to_owned(),
                            raised_as: raised_as.to_owned(),
                        },
                    )
                    .await?
                    .topic;
                out.topics += 1;
                topics.push(t);
            }
            // Supports: the first three topics qualify, the fourth gathers a few.
            for (k, t) in topics.iter().enumerate() {
                let wanted = match k {
                    0..=2 => t.threshold as usize,
                    3 => (t.threshold as usize / 2)
                        .max(1)
                        .min(t.threshold.saturating_sub(1) as usize),
                    _ => 0,
                };
                for h in households
                    .iter()
                    .filter(|h| t.grid.as_ref().is_none_or(|g| &h.grid == g))
                    .take(wanted)
                {
                    self.support_as(&t.public_id, h).await?;
                }
            }
            // Opinions, with a reply, one hidden by the moderator and one flagged for review.
            for t in topics.iter().take(3) {
                let first = self
                    .post_opinion(&Actor::Resident, &t.public_id, None, OPINIONS[0], None)
                    .await?;
                self.post_opinion(
                    &Actor::Resident,
                    &t.public_id,
                    Some(first.id),
                    OPINIONS[1],
                    None,
                )
                .await?;
                self.post_opinion(&admin, &t.public_id, Some(first.id), OPINIONS[2], None)
                    .await?;
                out.opinions += 3;
            }
            if let Some(t) = topics.first() {
                let rude = self
                    .post_opinion(
                        &Actor::Resident,
                        &t.public_id,
                        None,
                        "联系电话 139 0000 1111，谁不同意就找谁！",
                        None,
                    )
                    .await?;
                self.moderate_opinion(
                    &admin,
                    &t.public_id,
                    &rude.id,
                    Moderation::Hide {
                        reason: "含他人电话号码".into(),
                    },
                )
                .await?;
                let ad = self
                    .post_opinion(
                        &Actor::Resident,
                        &t.public_id,
                        None,
                        "专业开锁换锁，价格实惠",
                        None,
                    )
                    .await?;
                for n in 0..3 {
                    self.flag_opinion(&format!("demo:{n}"), &t.public_id, &ad.id, "广告")
                        .await?;
                }
                out.opinions += 2;
            }

            // Meetings: a residents' council held last week on the first topics, with its
            // decisions; in the first community every kind of meeting.
            let held = now - SignedDuration::from_hours(24 * 7);
            let council = self
                .convene_meeting(
                    &admin,
                    NewMeeting {
                        kind: MeetingKind::ResidentCouncil,
                        scope: community.to_string(),
                        title: format!("{}居民议事会", reference.region_name(community)),
                        place: "社区党群服务中心".into(),
                        starts_at: held,
                        invitees: vec![
                            NewInvitee {
                                kind: InviteeKind::Unit,
                                reference: committee.clone(),
                                name: String::new(),
                            },
                            NewInvitee {
                                kind: InviteeKind::Resident,
                                reference: String::new(),
                                name: "居民代表王建国".into(),
                            },
                            NewInvitee {
                                kind: InviteeKind::Resident,
                                reference: String::new(),
                                name: "居民代表李秀英".into(),
                            },
                        ],
                        agenda: topics
                            .iter()
                            .take(2)
                            .map(|t| NewAgendaItem {
                                title: t.title.clone(),
                                topic: Some(t.public_id.clone()),
                                cases: vec![],
                            })
                            .collect(),
                    },
                )
                .await?;
            out.meetings += 1;
            self.answer_summons(&handler, &council.public_id, &committee, Answer::Attend, "")
                .await?;
            for (kind, reference_code) in [
                (InviteeKind::Unit, committee.as_str()),
                (InviteeKind::Resident, "居民代表王建国"),
            ] {
                self.check_in(&admin, &council.public_id, kind, reference_code)
                    .await?;
            }
            self.record_minutes(
                &admin,
                &council.public_id,
                &format!("到会 2 人。议定：一、{}：同意，由社区居委会牵头落实；二、{}：成立工作小组，两周内拿出方案。", topics[0].title, topics[1].title),
            )
            .await?;
            // Decisions: cases to the committee at different steps, and milestones.
            let mut decisions = Vec::new();
            for (i, t) in topics.iter().take(2).enumerate() {
                let rp = self
                    .record_decision(
                        &admin,
                        &council.public_id,
                        NewDecision {
                            agenda_index: u32::try_from(i).unwrap_or(0),
                            title: t.title.clone(),
                            decision: format!(
                                "{}：同意实施，社区居委会牵头，街道办事处配合。",
                                t.title
                            ),
                            cases: vec![
                                NewWorkCase {
                                    unit: committee.clone(),
                                    description: "张贴告示并征求楼栋意见".into(),
                                    due_days: 5,
                                    grid: None,
                                },
                                NewWorkCase {
                                    unit: office.clone(),
                                    description: "协调设施采购与安装".into(),
                                    due_days: 15,
                                    grid: None,
                                },
                            ],
                            milestones: vec![NewMilestone {
                                title: "方案公示".into(),
                                owner: committee.clone(),
                                due: self
                                    .local_day(now + SignedDuration::from_hours(24 * 14))
                                    .await?,
                            }],
                        },
                    )
                    .await?;
                out.results += 1;
                decisions.push(rp);
            }
            // The first decision's first case is closed, the second's is being handled; the
            // first decision's milestone is done.
            if let Some(rp) = decisions.first() {
                if let Some(case) = rp.work.first().and_then(|(w, _, _)| w.case_id) {
                    self.demo_close_case(&case, &handler).await?;
                }
                if let Some((w, _, _)) = rp.work.iter().find(|(w, _, _)| w.kind == "milestone") {
                    self.complete_milestone(&handler, &rp.result.public_id, w.seq)
                        .await?;
                }
            }
            if let Some(rp) = decisions.get(1)
                && let Some(case) = rp.work.first().and_then(|(w, _, _)| w.case_id)
            {
                let c = self
                    .repo
                    .case(&case)
                    .await?
                    .ok_or_else(|| crate::error::AppError::NotFound("case".into()))?;
                self.act_on_case(&c.id, c.state.version, Action::StartHandling, &handler)
                    .await?;
            }
            if ci == 0 {
                self.demo_meetings_of_every_kind(community, &admin, &office, &committee, &topics)
                    .await?;
                out.meetings += 3;
                out.polls += self.demo_polls(community, &topics).await?;
            }
        }
        Ok(out)
    }

    /// Closes a case through the loop: the unit reports back and the grid's worker verifies.
    async fn demo_close_case(&self, id: &uuid::Uuid, handler: &Actor) -> AppResult<()> {
        let c = self
            .repo
            .case(id)
            .await?
            .ok_or_else(|| crate::error::AppError::NotFound("case".into()))?;
        let c = self
            .act_on_case_in_steps(
                &c.id,
                c.state.version,
                vec![
                    Action::StartHandling,
                    Action::ReportBack {
                        note: "已张贴告示，楼栋长逐户征求意见".into(),
                    },
                ],
                handler,
            )
            .await?;
        self.act_on_case(
            &c.id,
            c.state.version,
            Action::Verify {
                passed: true,
                note: "现场核实已落实".into(),
            },
            &Actor::System,
        )
        .await?;
        Ok(())
    }

    async fn demo_meetings_of_every_kind(
        &self,
        community: &RegionCode,
        admin: &Actor,
        office: &str,
        committee: &str,
        topics: &[civicgrid_store::TopicRecord],
    ) -> AppResult<()> {
        let now = self.clock.now();
        let party = self
            .convene_meeting(
                admin,
                NewMeeting {
                    kind: MeetingKind::PartyJoint,
                    scope: community.to_string(),
                    title: "区域化党建联席会（季度）".into(),
                    place: "社区党群服务中心二楼".into(),
                    starts_at: now - SignedDuration::from_hours(24 * 3),
                    invitees: vec![
                        NewInvitee {
                            kind: InviteeKind::Unit,
                            reference: office.to_owned(),
                            name: String::new(),
                        },
                        NewInvitee {
                            kind: InviteeKind::Unit,
                            reference: committee.to_owned(),
                            name: String::new(),
                        },
                    ],
                    agenda: vec![NewAgendaItem {
                        title: "共建项目认领".into(),
                        topic: None,
                        cases: vec![],
                    }],
                },
            )
            .await?;
        self.record_minutes(
            admin,
            &party.public_id,
            "各共建单位认领本季度共建项目 5 项，名单附后。",
        )
        .await?;
        // A joint consultation on open cases of the community, the street office summoned.
        let cases = self
            .list_cases(&civicgrid_store::CaseFilter {
                within: Some(community.clone()),
                limit: 2,
                ..Default::default()
            })
            .await?;
        if !cases.is_empty() {
            let joint = self
                .convene_meeting(
                    admin,
                    NewMeeting {
                        kind: MeetingKind::JointConsultation,
                        scope: community.to_string(),
                        title: "占道经营问题联席会商".into(),
                        place: "街道城管执法队会议室".into(),
                        starts_at: now + SignedDuration::from_hours(24 * 2),
                        invitees: vec![NewInvitee {
                            kind: InviteeKind::Unit,
                            reference: office.to_owned(),
                            name: String::new(),
                        }],
                        agenda: vec![NewAgendaItem {
                            title: "占道经营反复投诉".into(),
                            topic: None,
                            cases: cases.iter().map(|c| c.public_id.clone()).collect(),
                        }],
                    },
                )
                .await?;
            let _ = joint;
        }
        // A hearing planned for next week, the third topic waiting to be put on its agenda.
        self.convene_meeting(
            admin,
            NewMeeting {
                kind: MeetingKind::Hearing,
                scope: community.to_string(),
                title: "加装电梯方案听证会".into(),
                place: "社区议事厅".into(),
                starts_at: now + SignedDuration::from_hours(24 * 7),
                invitees: vec![NewInvitee {
                    kind: InviteeKind::Unit,
                    reference: committee.to_owned(),
                    name: String::new(),
                }],
                agenda: vec![NewAgendaItem {
                    title: "方案说明与意见听取".into(),
                    topic: None,
                    cases: vec![],
                }],
            },
        )
        .await?;
        let _ = topics;
        Ok(())
    }

    /// A poll closed three days ago with its count published, and one open this week. The
    /// closed one's votes were cast while it was open; they are written as the ballot box
    /// kept them (no link between a code and a choice exists to be written).
    async fn demo_polls(
        &self,
        community: &RegionCode,
        topics: &[civicgrid_store::TopicRecord],
    ) -> AppResult<usize> {
        let now = self.clock.now();
        let households = self.repo.households(Some(community), None).await?;
        let closed = self
            .create_poll(
                &Actor::System,
                NewPoll {
                    scope: community.to_string(),
                    question: "东门夜间关闭时间".into(),
                    options: vec!["22:00".into(), "23:00".into(), "不关闭".into()],
                    ballot: Ballot::Single,
                    opens_at: now - SignedDuration::from_hours(24 * 10),
                    closes_at: now - SignedDuration::from_hours(24 * 3),
                    topic: topics.first().map(|t| t.public_id.clone()),
                },
            )
            .await?;
        for (i, h) in households.iter().take(24).enumerate() {
            let code = format!("DEMO{i:06}");
            let digest =
                crate::cases::seal::reporter_key(self.sealer.as_deref(), &closed.id, &code);
            self.repo
                .issue_poll_code(&closed.id, &h.id, &digest)
                .await?;
            // Three households in four voted: most for 22:00.
            if i % 4 != 3 {
                self.repo
                    .cast_vote(&closed.id, &digest, &[[0, 0, 1, 0, 2][i % 5]])
                    .await?;
            }
        }
        self.create_poll(
            &Actor::System,
            NewPoll {
                scope: community.to_string(),
                question: "充电棚选址".into(),
                options: vec![
                    "3 栋北侧".into(),
                    "中心花园东侧".into(),
                    "地下车库入口".into(),
                ],
                ballot: Ballot::Single,
                opens_at: now,
                closes_at: now + SignedDuration::from_hours(24 * 7),
                topic: None,
            },
        )
        .await?;
        Ok(2)
    }
}
