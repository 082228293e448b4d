//! The demo's supervision: reports in every state on clocks of their own (one just
//! received, one acknowledged, one being looked into with a conversation and an identity
//! revealed with a custodian's approval, one accusing the water company's meter readers, one
//! concluded, one never acknowledged that the clocks' round warns about); accountability
//! records on the street office (approved and public, proposed, rejected); and the power
//! list in two versions with the responsibility list as published.

use std::sync::Arc;

use civicgrid_domain::accountability::Grounds;
use civicgrid_domain::lists::Power;
use civicgrid_domain::policy::Actor;
use jiff::SignedDuration;

use super::staff_of;
use crate::App;
use crate::accountability::NewRecord;
use crate::clock::ManualClock;
use crate::error::AppResult;
use crate::supervision::{NewReport, StaffStep};

#[derive(Debug, Default)]
pub struct SupervisionDemo {
    pub reports: usize,
    pub records: usize,
    pub list_versions: usize,
}

/// A demo report: days ago, concern, accused unit, region, subject, content, the identity
/// disclosed, and its steps (action, days ago, text).
type DemoReport = (
    i64,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [(&'static str, i64, &'static str)],
);

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

fn power(code: &str, name: &str, category: &str, basis: &str, process: &str, limit: &str) -> Power {
    Power {
        code: code.into(),
        name: name.into(),
        category: category.into(),
        basis: basis.into(),
        unit: "ST001".into(),
        process: process.into(),
        time_limit: limit.into(),
        supervision: "街道纪工委监督举报平台；12345热线".into(),
    }
}

/// The street's powers as first published.
fn powers_v1() -> Vec<Power> {
    vec![
        power(
            "QL-XK-001",
            "临时占用城市道路审批（初审）",
            "行政许可",
            "《城市道路管理条例》第三十一条",
            "申请—受理—现场勘查—审查—决定—公示",
            "20个工作日",
        ),
        power(
            "QL-CF-002",
            "违反城市市容和环境卫生管理规定的处罚",
            "行政处罚",
            "《城市市容和环境卫生管理条例》第三十四条",
            "立案—调查—告知—决定—送达—执行",
            "90日",
        ),
        power(
            "QL-JC-003",
            "燃气使用安全检查",
            "行政检查",
            "《城镇燃气管理条例》第四十一条",
            "计划—入户检查—记录—限期整改—复查",
            "即时",
        ),
        power(
            "QL-QR-004",
            "最低生活保障对象初审",
            "行政确认",
            "《社会救助暂行办法》第十一条",
            "申请—入户调查—民主评议—公示—报批",
            "30日",
        ),
        power(
            "QL-FW-005",
            "居住证申领受理",
            "公共服务",
            "《居住证暂行条例》第九条",
            "申请—受理—核验—转报—发放",
            "15日",
        ),
    ]
}

impl App {
    /// Loads the demo's supervision data; reports only when the deployment has a data key.
    pub async fn load_demo_supervision(&self) -> AppResult<SupervisionDemo> {
        let mut out = SupervisionDemo::default();
        let today = self.clock.now();
        let clock = Arc::new(ManualClock::new(today));
        let past = self.with_clock_and_ids(clock.clone(), self.ids.clone());
        let officer = staff_of(self, "supervisor").await?;
        let custodian = staff_of(self, "custodian").await?;
        let leader = staff_of(self, "leader.st1").await?;
        let mut reports = Vec::new();
        if self.sealer.is_some() {
            // (days ago, concern, accused unit, region, subject, content, identity, steps)
            let demo: [DemoReport; 6] = [
                (
                    2,
                    "conduct",
                    Some("ST001"),
                    "440305001",
                    "窗口工作人员推诿",
                    "到街道便民服务中心办居住证，工作人员说系统坏了让我下周再来，已经第三次了。",
                    None,
                    &[],
                ),
                (
                    12,
                    "benefit_funds",
                    None,
                    "440305001001",
                    "低保名单里有开车的人",
                    "小区里有一户每天开新车上下班，却在低保公示名单上。",
                    None,
                    &[],
                ),
                (
                    9,
                    "petty_corruption",
                    Some("ST001"),
                    "440305001",
                    "办证收“加急费”",
                    "办理临时占道审批时，有人说交五百元可以加急，没有收据。",
                    None,
                    &[("acknowledge", 8, "")],
                ),
                (
                    35,
                    "petty_corruption",
                    Some("SWJT"),
                    "440305001002",
                    "抄表员索要好处费",
                    "水务集团抄表员说不给两百元就按估表收费，我们楼好几户都遇到了。",
                    Some("3栋居民 陈女士 13600000000"),
                    &[
                        ("acknowledge", 34, ""),
                        ("investigate", 30, ""),
                        ("message", 29, "请问具体是哪一天？抄表员有没有出示工牌？"),
                        ("reporter", 27, "上个月18号上午，工牌号最后两位是17。"),
                        ("request_identity", 25, "需要当面确认被索要的经过"),
                        ("approve_identity", 24, ""),
                        (
                            "feedback",
                            10,
                            "已约谈水务集团南山分公司，涉事抄表员已停岗调查，多收费用将退还。",
                        ),
                    ],
                ),
                (
                    80,
                    "conduct",
                    Some("ST001"),
                    "440305001",
                    "网格员入户态度恶劣",
                    "网格员上门登记时态度很差，还拍了我家里的照片。",
                    None,
                    &[
                        ("acknowledge", 78, ""),
                        ("investigate", 75, ""),
                        (
                            "close:partly_substantiated",
                            50,
                            "经核实，网格员入户未出示证件、未说明拍照用途，已批评教育并删除照片；态度问题未能核实。",
                        ),
                    ],
                ),
                (
                    1,
                    "other",
                    None,
                    "440305002",
                    "社区活动经费去向",
                    "社区去年的文体活动经费没有公示，想知道用在哪里。",
                    None,
                    &[],
                ),
            ];
            for (ago, concern, unit, region, subject, content, identity, steps) in demo {
                clock.set(today - days(ago));
                let receipt = past
                    .submit_report(NewReport {
                        subject: subject.into(),
                        content: content.into(),
                        concern: Some(concern.into()),
                        accused_unit: unit.map(str::to_owned),
                        region: Some(region.into()),
                        identity: identity.map(str::to_owned),
                        passphrase: None,
                    })
                    .await?;
                let id = past
                    .reports_for(&officer, None)
                    .await?
                    .into_iter()
                    .find(|l| l.subject == subject)
                    .map(|l| l.id);
                let Some(id) = id else { continue };
                reports.push(id);
                for (what, when, text) in steps.iter() {
                    clock.set(today - days(*when));
                    if *what == "reporter" {
                        past.reporter_message(&receipt.receipt, &receipt.passphrase, text)
                            .await?;
                        continue;
                    }
                    let version = past.report_for(&officer, &id).await?.version;
                    let (action, outcome) = match what.split_once(':') {
                        Some((a, o)) => (a, Some(o.to_owned())),
                        None => (*what, None),
                    };
                    let who = if action == "approve_identity" {
                        &custodian
                    } else {
                        &officer
                    };
                    past.act_on_report(
                        who,
                        &id,
                        StaffStep {
                            action: action.into(),
                            version,
                            text: (*text).into(),
                            outcome,
                        },
                    )
                    .await?;
                }
                out.reports += 1;
            }
            // The clocks' round today: the report of 12 days ago was never acknowledged.
            self.sweep_supervision().await?;
        }

        // Accountability on the street office (which the street's leader decides): approved
        // and public (on the report about the "加急费" when there is one), proposed, rejected.
        clock.set(today - days(8));
        let fee_report = reports.get(2).copied();
        let records = [
            (
                "public_criticism",
                3.0,
                true,
                "便民服务中心工作人员以“加急”为名索要费用，经查属实，对街道便民服务中心通报批评，涉事人员调离窗口岗位。",
                Grounds {
                    report: fee_report,
                    kpi: if fee_report.is_none() {
                        Some("overdue_cases".into())
                    } else {
                        None
                    },
                    ..Grounds::default()
                },
                Some(true),
            ),
            (
                "talk_reminder",
                1.0,
                false,
                "本月便民服务中心超期办件较多，约谈中心负责人。",
                Grounds {
                    kpi: Some("overdue_cases".into()),
                    ..Grounds::default()
                },
                None,
            ),
            (
                "ordered_review",
                2.0,
                false,
                "占道审批连续两月进入黑榜。",
                Grounds {
                    kpi: Some("black_list".into()),
                    ..Grounds::default()
                },
                Some(false),
            ),
        ];
        let period = today
            .to_zoned(self.reference().await?.calendar.time_zone().clone())
            .date();
        let period = format!("{:04}-{:02}", period.year(), period.month());
        for (measure, points, public, facts, grounds, decision) in records {
            let r = past
                .propose_accountability(
                    &officer,
                    NewRecord {
                        measure: measure.into(),
                        subject_kind: "unit".into(),
                        subject_code: "ST001".into(),
                        period: period.clone(),
                        points,
                        public,
                        facts: facts.into(),
                        grounds,
                    },
                )
                .await?;
            if let Some(approve) = decision {
                let note = if approve {
                    "同意"
                } else {
                    "证据不足，黑榜原因为降雨集中，退回补充"
                };
                past.decide_accountability(
                    &leader,
                    r.record.number,
                    r.record.version,
                    approve,
                    note,
                )
                .await?;
            }
            out.records += 1;
        }

        // The power list: first published at the start of the year, revised last month.
        let system = Actor::System;
        clock.set(today - days(200));
        past.publish_power_list(
            &system,
            "demo",
            (today - days(190)).to_zoned(jiff::tz::TimeZone::UTC).date(),
            "首次公布",
            powers_v1(),
        )
        .await?;
        past.publish_responsibility_version(
            &system,
            (today - days(190)).to_zoned(jiff::tz::TimeZone::UTC).date(),
            "与权力清单同时公布",
        )
        .await?;
        clock.set(today - days(35));
        let mut v2 = powers_v1();
        v2[0].time_limit = "15个工作日".into();
        v2[0].process = "申请—受理—现场勘查—审查—决定—公示（可网上办理）".into();
        v2.retain(|p| p.code != "QL-FW-005");
        v2.push(power(
            "QL-JC-006",
            "电动自行车充电安全检查",
            "行政检查",
            "《消防法》第十六条",
            "计划—检查—记录—限期整改—复查",
            "即时",
        ));
        past.publish_power_list(
            &system,
            "demo",
            (today - days(30)).to_zoned(jiff::tz::TimeZone::UTC).date(),
            "压缩审批时限，新增电动自行车充电检查，居住证受理划归一站式服务",
            v2,
        )
        .await?;
        out.list_versions = 3;
        Ok(out)
    }
}
