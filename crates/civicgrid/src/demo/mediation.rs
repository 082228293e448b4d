//! The demo's mediation and one-stop services: in the first communities, disputes at every
//! tier and with every outcome (oral and written agreements, a failure referred to
//! arbitration, a withdrawal, one whose agreement was not carried out and reopened, one sent
//! back down), raised weeks ago on a clock of their own so that follow-up visits and limits
//! fall due around today; a street's catalogue of service items; and applications in every
//! state, one corrected once.

use std::sync::Arc;

use civicgrid_domain::application::{Material, Rating, ServiceChannel, ServiceItem};
use civicgrid_domain::dispute::{Referral, Risk, Term};
use civicgrid_domain::policy::Actor;
use civicgrid_domain::territory::{RegionCode, RegionLevel};
use jiff::{SignedDuration, Timestamp};

use super::staff_of;
use crate::App;
use crate::clock::ManualClock;
use crate::disputes::{DisputeStep, NewDispute, Party};
use crate::error::AppResult;
use crate::one_stop::{ApplicationStep, NewApplication};

/// A demo dispute: kind, risk, what it is about, and its two parties (side, name, phone).
type DemoDispute = (
    &'static str,
    Risk,
    &'static str,
    [(&'static str, &'static str, &'static str); 2],
);

#[derive(Debug, Default)]
pub struct MediationDemo {
    pub disputes: usize,
    pub items: usize,
    pub applications: usize,
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

fn party(side: &str, name: &str, phone: &str) -> Party {
    Party {
        side: side.into(),
        name: name.into(),
        phone: Some(phone.into()),
    }
}

fn material(code: &str, name: &str, required: bool, sample: &str) -> Material {
    Material {
        code: code.into(),
        name: name.into(),
        required,
        sample: sample.into(),
    }
}

/// A street's catalogue (事项清单), as a 党群服务中心 publishes it.
pub fn demo_service_items(office: &str) -> Vec<ServiceItem> {
    use ServiceChannel::{Counter, Online, Proxy};
    let item = |code: &str,
                name: &str,
                en: &str,
                unit: &str,
                limit: u32,
                materials: Vec<Material>,
                fees: &str,
                channels: Vec<ServiceChannel>,
                basis: &str| ServiceItem {
        code: code.into(),
        name: name.into(),
        name_en: en.into(),
        unit: unit.into(),
        limit_days: limit,
        materials,
        fees: fees.into(),
        channels,
        place: "街道党群服务中心一楼综合窗口（周一至周五 9:00–12:00，14:00–18:00）".into(),
        basis: basis.into(),
        active: true,
    };
    vec![
        item(
            "JZZ-001",
            "居住证申领",
            "Residence permit",
            office,
            10,
            vec![
                material("id_card", "居民身份证", true, "正反面复印件或照片"),
                material("photo", "近期免冠证件照", true, "白底，2 寸"),
                material(
                    "residence",
                    "居住证明（租赁合同或房产证）",
                    true,
                    "租赁合同须经登记备案",
                ),
            ],
            "不收费",
            vec![Online, Counter, Proxy],
            "《居住证暂行条例》第九条",
        ),
        item(
            "GL-001",
            "高龄老人津贴申请",
            "Old-age allowance",
            "MZJ",
            15,
            vec![
                material("id_card", "老人身份证", true, ""),
                material("hukou", "户口簿", true, "本人页及户主页"),
                material("bank", "本人银行卡", true, "卡号清晰"),
            ],
            "不收费",
            vec![Online, Counter, Proxy],
            "《深圳市高龄老人津贴发放办法》",
        ),
        item(
            "LZ-001",
            "灵活就业人员社保补贴",
            "Social insurance subsidy",
            "RSJ",
            20,
            vec![
                material("id_card", "居民身份证", true, ""),
                material("unemployment", "就业失业登记证明", true, ""),
                material("payment", "社保缴费凭证", true, "近 6 个月"),
            ],
            "不收费",
            vec![Online, Counter],
            "《就业补助资金管理办法》",
        ),
        item(
            "CJ-001",
            "残疾人两项补贴申请",
            "Disability allowances",
            "MZJ",
            20,
            vec![
                material("id_card", "居民身份证", true, ""),
                material("disability", "残疾人证", true, "第二代残疾人证"),
                material("income", "家庭收入情况说明", false, "可由社区出具"),
            ],
            "不收费",
            vec![Counter, Proxy],
            "《国务院关于全面建立困难残疾人生活补贴和重度残疾人护理补贴制度的意见》",
        ),
        item(
            "SY-001",
            "生育登记",
            "Birth registration",
            office,
            1,
            vec![
                material("id_card", "夫妻双方身份证", true, ""),
                material("marriage", "结婚证", false, "未婚生育可不提供"),
            ],
            "不收费",
            vec![Online, Counter],
            "《广东省人口与计划生育条例》",
        ),
        item(
            "FL-001",
            "法律援助申请",
            "Legal aid",
            "SFJ",
            7,
            vec![
                material("id_card", "居民身份证", true, ""),
                material("hardship", "经济困难状况说明表", true, "可在窗口领取样表"),
                material("case_papers", "案件相关材料", true, "起诉状、判决书等"),
            ],
            "不收费",
            vec![Counter, Proxy],
            "《中华人民共和国法律援助法》",
        ),
    ]
}

impl App {
    /// Loads the demo's mediation and one-stop services.
    pub async fn load_demo_mediation(&self) -> AppResult<MediationDemo> {
        let mut out = MediationDemo::default();
        let refs = self.reference().await?;
        let mut communities: Vec<RegionCode> = refs
            .region_names
            .keys()
            .filter(|c| c.level() == RegionLevel::Community)
            .cloned()
            .collect();
        communities.sort();
        let today = self.clock.now();
        // The disputes were raised weeks ago: their clock starts there and moves on.
        let clock = Arc::new(ManualClock::new(today - days(40)));
        let past = self.with_clock_and_ids(clock.clone(), self.ids.clone());
        let at = |d: i64| today - days(d);

        if self.sealer.is_some() {
            for (n, community) in communities.iter().take(2).enumerate() {
                let ctag = format!("st{}c{}", 1, n + 1);
                let admin = staff_of(self, &format!("admin.{ctag}")).await?;
                let gw = staff_of(self, &format!("gw.{ctag}.1")).await?;
                let leader = staff_of(self, "leader.st1").await?;
                // The community's mediators: its committee's administrator and grid worker;
                // the street's leader at the street (once).
                for (tier, who) in [
                    (
                        civicgrid_domain::dispute::Tier::Community,
                        format!("admin.{ctag}"),
                    ),
                    (
                        civicgrid_domain::dispute::Tier::Grid,
                        format!("gw.{ctag}.1"),
                    ),
                ] {
                    let name = self
                        .repo
                        .user(&who)
                        .await?
                        .map_or(who.clone(), |u| u.display_name);
                    self.add_mediator(
                        &Actor::System,
                        tier,
                        community.clone(),
                        "staff",
                        &who,
                        &name,
                    )
                    .await?;
                }
                if n == 0 {
                    let street = civicgrid_domain::dispute::Tier::Street.region_for(community);
                    let name = self
                        .repo
                        .user("leader.st1")
                        .await?
                        .map_or("leader.st1".to_owned(), |u| u.display_name);
                    self.add_mediator(
                        &Actor::System,
                        civicgrid_domain::dispute::Tier::Street,
                        street,
                        "staff",
                        "leader.st1",
                        &name,
                    )
                    .await?;
                }
                let grid = refs
                    .grid_regions
                    .iter()
                    .filter(|(_, r)| *r == community)
                    .map(|(g, _)| g.clone())
                    .min();
                let cases: &[DemoDispute] = &[
                    (
                        "neighbour",
                        Risk::Low,
                        "楼上卫生间漏水，楼下天花板发霉，双方对维修费用有争议",
                        [
                            ("applicant", "陈桂芳", "13800138001"),
                            ("respondent", "刘建国", "13800138002"),
                        ],
                    ),
                    (
                        "family",
                        Risk::Medium,
                        "父母赡养费分担，兄妹意见不一",
                        [
                            ("applicant", "周玉兰", "13800138003"),
                            ("respondent", "周志强", "13800138004"),
                        ],
                    ),
                    (
                        "labour",
                        Risk::Medium,
                        "装修工人 3 人被拖欠工资共 2.4 万元",
                        [
                            ("applicant", "黄海", "13800138005"),
                            ("respondent", "某装饰工程部", "075526000001"),
                        ],
                    ),
                    (
                        "property",
                        Risk::Low,
                        "物业费上涨与车位管理争议",
                        [
                            ("applicant", "吴晓明", "13800138006"),
                            ("respondent", "阳光物业服务有限公司", "075526000002"),
                        ],
                    ),
                    (
                        "land",
                        Risk::High,
                        "旧村宅基地界址争议",
                        [
                            ("applicant", "郑永福", "13800138007"),
                            ("respondent", "郑永财", "13800138008"),
                        ],
                    ),
                    (
                        "neighbour",
                        Risk::Low,
                        "宠物犬夜间吠叫扰民",
                        [
                            ("applicant", "林静", "13800138009"),
                            ("respondent", "何大伟", "13800138010"),
                        ],
                    ),
                    (
                        "consumer",
                        Risk::Low,
                        "小区超市预付卡退款纠纷",
                        [
                            ("applicant", "许丽", "13800138011"),
                            ("respondent", "便民超市", "075526000003"),
                        ],
                    ),
                ];
                for (i, (kind, risk, summary, ps)) in cases.iter().enumerate() {
                    clock.set(at(40 - i as i64));
                    let raiser = if *risk == Risk::Low { &gw } else { &admin };
                    let d = past
                        .raise_dispute(
                            raiser,
                            NewDispute {
                                community: Some(community.clone()),
                                grid: grid.clone(),
                                kind: (*kind).into(),
                                risk: *risk,
                                summary: (*summary).into(),
                                parties: ps.iter().map(|(s, n, p)| party(s, n, p)).collect(),
                                case: None,
                            },
                        )
                        .await?;
                    out.disputes += 1;
                    let number = d.public_id.clone();
                    let mut v = d.version;
                    let mediator = if d.state.tier >= civicgrid_domain::dispute::Tier::Street {
                        &leader
                    } else {
                        &admin
                    };
                    let names: Vec<String> = ps.iter().map(|(_, n, _)| (*n).to_owned()).collect();
                    let session = |outcome: &str, record: &str| DisputeStep::Session {
                        held_at: clock_now(&clock),
                        place: "社区人民调解室".into(),
                        mediators: vec!["王秀英".into(), "李明".into()],
                        attended: names.clone(),
                        record: record.into(),
                        outcome: outcome.into(),
                    };
                    let go = |who: &Actor, v: u64, s: DisputeStep| {
                        let past = past.clone();
                        let who = who.clone();
                        let number = number.clone();
                        async move {
                            past.dispute_step(&who, &number, v, s)
                                .await
                                .map(|d| d.version)
                        }
                    };
                    match i {
                        // Oral agreement in the grid; the first visit done, the second due.
                        0 => {
                            clock.set(at(38));
                            v = go(&gw, v, session("oral", "双方到场陈述，网格员现场查看漏水点，约定由楼上请人维修并承担楼下修补费用。")).await?;
                            v = go(
                                &gw,
                                v,
                                DisputeStep::Oral {
                                    terms: "刘建国一周内修好防水并赔偿陈桂芳天花板修补费 600 元。"
                                        .into(),
                                },
                            )
                            .await?;
                            clock.set(at(30));
                            go(
                                &gw,
                                v,
                                DisputeStep::FollowUp {
                                    performed: true,
                                    note: "防水已修好，费用已付。".into(),
                                },
                            )
                            .await?;
                        }
                        // Written agreement at the committee, signed and carried out.
                        1 => {
                            clock.set(at(37));
                            v = go(
                                mediator,
                                v,
                                session(
                                    "written",
                                    "三兄妹到场，说明各自收入和照料情况，经调解同意按月分担。",
                                ),
                            )
                            .await?;
                            v = go(
                                mediator,
                                v,
                                DisputeStep::Draft {
                                    facts: "周玉兰与周志强因父母赡养费分担发生争议。".into(),
                                    terms: vec![
                                        Term {
                                            text: "周志强每月 5 日前向父母支付赡养费 1500 元"
                                                .into(),
                                            due: None,
                                        },
                                        Term {
                                            text: "周玉兰负责日常照料及就医陪护".into(),
                                            due: None,
                                        },
                                    ],
                                },
                            )
                            .await?;
                            v = go(
                                mediator,
                                v,
                                DisputeStep::Sign {
                                    version: 1,
                                    signed_by: names.clone(),
                                },
                            )
                            .await?;
                            clock.set(at(29));
                            v = go(
                                mediator,
                                v,
                                DisputeStep::FollowUp {
                                    performed: true,
                                    note: "首月赡养费已按时支付。".into(),
                                },
                            )
                            .await?;
                            clock.set(at(5));
                            go(
                                mediator,
                                v,
                                DisputeStep::FollowUp {
                                    performed: true,
                                    note: "连续按月支付，双方满意。".into(),
                                },
                            )
                            .await?;
                        }
                        // Wages: the street tried and failed; referred to arbitration.
                        2 => {
                            clock.set(at(36));
                            v = go(
                                &leader,
                                v,
                                session("failed", "用工方称工程款未结，拒绝先行支付。"),
                            )
                            .await?;
                            go(
                                &leader,
                                v,
                                DisputeStep::Fail {
                                    referral: Some(Referral::Arbitration),
                                    note: "引导至区劳动人事争议仲裁委员会".into(),
                                },
                            )
                            .await?;
                        }
                        // Property: written agreement signed 20 days ago, visits and the
                        // confirmation window running.
                        3 => {
                            clock.set(at(25));
                            v = go(
                                &gw,
                                v,
                                session("continued", "物业出示收费公示，业主对车位分配有异议。"),
                            )
                            .await?;
                            v = go(
                                &gw,
                                v,
                                DisputeStep::Escalate {
                                    reason: "涉及全体业主，需社区调委会主持".into(),
                                },
                            )
                            .await?;
                            clock.set(at(20));
                            v = go(
                                &admin,
                                v,
                                session("written", "业委会代表列席，达成车位轮换方案。"),
                            )
                            .await?;
                            v = go(
                                &admin,
                                v,
                                DisputeStep::Draft {
                                    facts: "业主吴晓明与阳光物业就物业费调整及车位管理发生争议。"
                                        .into(),
                                    terms: vec![Term {
                                        text: "物业公司公开车位轮换名单，每季度轮换一次".into(),
                                        due: Some(
                                            (today + days(30))
                                                .to_zoned(refs.calendar.time_zone().clone())
                                                .date(),
                                        ),
                                    }],
                                },
                            )
                            .await?;
                            go(
                                &admin,
                                v,
                                DisputeStep::Sign {
                                    version: 1,
                                    signed_by: names.clone(),
                                },
                            )
                            .await?;
                        }
                        // Land: at the street since raised, still mediating near its limit.
                        4 => {
                            clock.set(at(30));
                            v = go(
                                &leader,
                                v,
                                session("continued", "双方各执地契，需调取档案。"),
                            )
                            .await?;
                            // Up to the district's centre and back down with its guidance.
                            clock.set(at(27));
                            v = go(
                                &leader,
                                v,
                                DisputeStep::Escalate {
                                    reason: "涉及两个村民小组的历史用地，需区级协调".into(),
                                },
                            )
                            .await?;
                            clock.set(at(22));
                            go(
                                &Actor::System,
                                v,
                                DisputeStep::SendDown {
                                    reason: "区调处中心已调取档案，交街道继续调解".into(),
                                },
                            )
                            .await?;
                        }
                        // Barking dog: agreement not carried out, mediation reopened.
                        5 => {
                            clock.set(at(34));
                            v = go(&gw, v, session("oral", "约定夜间将犬只关在室内。")).await?;
                            v = go(
                                &gw,
                                v,
                                DisputeStep::Oral {
                                    terms: "何大伟晚 10 点后将犬只关在室内并加装隔音。".into(),
                                },
                            )
                            .await?;
                            clock.set(at(26));
                            v = go(
                                &gw,
                                v,
                                DisputeStep::FollowUp {
                                    performed: false,
                                    note: "邻居反映仍有夜间吠叫。".into(),
                                },
                            )
                            .await?;
                            go(
                                &gw,
                                v,
                                DisputeStep::Reopen {
                                    reason: "协议未履行，重新调解".into(),
                                },
                            )
                            .await?;
                        }
                        // Prepaid card: withdrawn after the shop refunded.
                        _ => {
                            clock.set(at(33));
                            go(
                                &gw,
                                v,
                                DisputeStep::Withdraw {
                                    reason: "超市已主动退款，申请人撤回".into(),
                                },
                            )
                            .await?;
                        }
                    }
                }
            }
        }

        // Today's warnings on the limits.
        self.sweep_disputes().await?;

        // The catalogue and applications of street 1.
        let items = demo_service_items("ST001");
        self.repo
            .put_service_items(&items, "system", at(60))
            .await?;
        out.items = items.len();
        let Some(community) = communities.first().cloned() else {
            return Ok(out);
        };
        if self.sealer.is_none() {
            return Ok(out);
        }
        let gw = staff_of(self, "gw.st1c1.1").await?;
        let clerk = staff_of(self, "admin.st1c1").await?;
        let png = crate::demo::photos::before_and_after(3, "05001", "2026-03-03 10:00", "").0;
        let applicants = [
            ("赵丽华", "13900139001"),
            ("钱志远", "13900139002"),
            ("孙美玲", "13900139003"),
            ("李建华", "13900139004"),
            ("周晓燕", "13900139005"),
            ("吴国强", "13900139006"),
        ];
        for (i, (name, phone)) in applicants.iter().enumerate() {
            clock.set(at(20 - 3 * i as i64));
            // Those a grid worker files (odd ones) are items that allow it.
            let item = &items[[0, 1, 2, 0, 2, 1][i]];
            let who = if i % 2 == 0 {
                Actor::Resident
            } else {
                gw.clone()
            };
            let r = past
                .submit_application(
                    &who,
                    NewApplication {
                        item: item.code.clone(),
                        community: community.clone(),
                        grid: None,
                        name: (*name).into(),
                        phone: Some((*phone).into()),
                        details: format!("申请{}", item.name),
                    },
                )
                .await?;
            out.applications += 1;
            let a = r.application;
            let uploader = if i % 2 == 0 {
                "resident".to_owned()
            } else {
                gw.name().to_owned()
            };
            // The first misses a material; the others bring everything.
            for (k, m) in item.materials.iter().enumerate() {
                if i == 1 && k == 1 {
                    continue;
                }
                past.add_material(
                    &a,
                    &uploader,
                    &m.code,
                    &format!("{}.png", m.code),
                    "image/png",
                    png.clone(),
                )
                .await?;
            }
            let number = a.public_id.clone();
            let step = |v: u64, s: ApplicationStep| {
                let past = past.clone();
                let clerk = clerk.clone();
                let number = number.clone();
                async move { past.application_step(&clerk, &number, v, s).await }
            };
            match i {
                0 => {} // awaiting its check
                1 => {
                    // Corrected once, then accepted and done.
                    let missing: Vec<String> = item
                        .materials
                        .iter()
                        .filter(|m| m.required)
                        .skip(1)
                        .take(1)
                        .map(|m| m.code.clone())
                        .collect();
                    let a = step(
                        a.version,
                        ApplicationStep::RequestCorrections {
                            items: missing.clone(),
                            note: "请补充材料后重新提交".into(),
                        },
                    )
                    .await?;
                    clock.set(at(14));
                    for m in &missing {
                        past.add_material(
                            &a,
                            gw.name(),
                            m,
                            &format!("{m}.png"),
                            "image/png",
                            png.clone(),
                        )
                        .await?;
                    }
                    let a = past.resubmit_application(&a, gw.name()).await?;
                    let a = step(a.version, ApplicationStep::Accept).await?;
                    clock.set(at(8));
                    step(
                        a.version,
                        ApplicationStep::Complete {
                            approved: true,
                            result: "已办结，证件请到窗口领取".into(),
                        },
                    )
                    .await?;
                }
                2 => {
                    let a = step(a.version, ApplicationStep::Accept).await?;
                    clock.set(at(10));
                    let a = step(
                        a.version,
                        ApplicationStep::Complete {
                            approved: true,
                            result: "津贴已核准，次月起发放".into(),
                        },
                    )
                    .await?;
                    past.evaluate_application(&a, Rating::VerySatisfied, "办事快，态度好")
                        .await?;
                }
                3 => {
                    step(a.version, ApplicationStep::Accept).await?;
                }
                4 => {
                    step(
                        a.version,
                        ApplicationStep::Decline {
                            reason: "不符合申请条件：未满规定的缴费年限".into(),
                        },
                    )
                    .await?;
                }
                _ => {
                    let a = step(
                        a.version,
                        ApplicationStep::RequestCorrections {
                            items: vec![item.materials[0].code.clone()],
                            note: "身份证照片模糊，请重新上传".into(),
                        },
                    )
                    .await?;
                    let _ = a;
                }
            }
        }
        Ok(out)
    }
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    use crate::clock::Clock;
    clock.now()
}
