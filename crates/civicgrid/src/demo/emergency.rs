//! The demo's emergency response: plans for typhoon, flooding and gas leaks with tasks at
//! every level; one past typhoon incident carried through (activated at IV, raised to III,
//! grids acknowledging and reporting — two never did —, needs turned into a case and a
//! volunteer call, situation reports, lifted) and one gas-leak drill. All through the
//! service, on a clock moved by hand, so the log and the record are what a real response
//! leaves.

use std::sync::Arc;

use civicgrid_domain::emergency::{Area, Level};
use jiff::SignedDuration;

use super::staff_of;
use crate::App;
use crate::clock::ManualClock;
use crate::emergency::{GridReportInput, NeedInput, NewIncident};
use crate::error::AppResult;

const TYPHOON: &str = r#"
code = "typhoon"
kind = "typhoon"
title = "南山街道防台风应急预案"

[[task]]
key = "duty"
to = "role:street_leader"
title = "街道领导到岗带班，三防指挥部24小时值守"
due = { IV = 60, III = 30, II = 30, I = 15 }

[[task]]
key = "check"
to = "grid_workers"
title = "逐户排查独居老人、危旧房屋和临时工棚，劝离危险区域人员"
due = { III = 240, II = 120, I = 60 }

[[task]]
key = "watch"
to = "grid_workers"
title = "巡查辖区广告牌、树木和在建工地围挡"
due = { IV = 360, III = 180, II = 120, I = 60 }

[[task]]
key = "drainage"
to = "unit:SWJT"
title = "低洼易涝点预置抽水泵，疏通排水口"
due = { III = 240, II = 120, I = 60 }

[[task]]
key = "sites"
to = "unit:ZJJ"
title = "督促在建工地停工、加固塔吊和围挡"
due = { III = 180, II = 120, I = 60 }

[[task]]
key = "power"
to = "unit:GDJ"
title = "抢修队伍待命，排查低洼配电房"
due = { II = 120, I = 60 }

[[task]]
key = "shelters"
to = "unit:MZJ"
title = "开放避难场所，备足食品饮水"
due = { II = 180, I = 90 }

[[task]]
key = "transfer"
to = "unit:YJJ"
title = "组织危险区域人员全部转移，统计转移安置人数"
due = { I = 120 }

[[contact]]
name = "街道三防办"
role = "三防值班"
phone = "0755-26660000"

[[contact]]
name = "水务集团南山分公司"
role = "排水抢险"
phone = "0755-26661111"

[[resource]]
name = "沙袋"
quantity = 3000
unit = "个"

[[resource]]
name = "移动抽水泵"
quantity = 12
unit = "台"

[[shelter]]
name = "南联小学体育馆"
capacity = 400
grid = "GRID1"
address = "南联社区学府路18号"

[[shelter]]
name = "街道综合文化站"
capacity = 150
grid = "GRID2"
"#;

const FLOOD: &str = r#"
code = "flood"
kind = "flood"
title = "南山街道防汛（城市内涝）应急预案"

[[task]]
key = "duty"
to = "role:shift_leader"
title = "值班长到岗，启动内涝点视频巡查"
due = { IV = 60, III = 30, II = 30, I = 15 }

[[task]]
key = "lowlying"
to = "grid_workers"
title = "巡查地下车库、地下室和低洼路段积水，设置警示"
due = { IV = 240, III = 120, II = 60, I = 30 }

[[task]]
key = "households"
to = "grid_workers"
title = "排查一楼和地下室住户，协助转移行动不便人员"
due = { II = 120, I = 60 }

[[task]]
key = "pumps"
to = "unit:SWJT"
title = "易涝点抽排，清理雨水篦子"
due = { IV = 240, III = 120, II = 60, I = 30 }

[[task]]
key = "traffic"
to = "unit:JJDD"
title = "积水路段交通管制和绕行引导"
due = { III = 120, II = 60, I = 30 }

[[task]]
key = "rescue"
to = "unit:YJJ"
title = "救援力量前置，配合转移被困人员"
due = { II = 90, I = 45 }

[[resource]]
name = "挡水板"
quantity = 200
unit = "块"

[[resource]]
name = "冲锋舟"
quantity = 2
unit = "艘"
"#;

const GAS: &str = r#"
code = "gas-leak"
kind = "gas_leak"
title = "南山街道燃气泄漏事故应急预案"

[[task]]
key = "cordon"
to = "grid_workers"
title = "划定警戒区，疏散周边住户，禁止明火和开关电器"
due = { IV = 30, III = 20, II = 15, I = 10 }

[[task]]
key = "repair"
to = "unit:RQJT"
title = "抢修队到场关阀、检测浓度、堵漏"
due = { IV = 60, III = 45, II = 30, I = 20 }

[[task]]
key = "duty"
to = "role:street_leader"
title = "街道领导到场指挥"
due = { III = 60, II = 30, I = 20 }

[[task]]
key = "inspect"
to = "unit:CGJ"
title = "排查周边餐饮场所燃气使用"
due = { III = 240, II = 120, I = 60 }

[[task]]
key = "evacuate"
to = "unit:YJJ"
title = "组织周边楼栋全部撤离并清点人数"
due = { II = 60, I = 30 }

[[contact]]
name = "燃气集团抢修热线"
role = "燃气抢修"
phone = "0755-83601111"
"#;

#[derive(Debug, Default)]
pub struct EmergencyDemo {
    pub plans: usize,
    pub incidents: usize,
}

impl App {
    pub async fn load_demo_emergency(&self) -> AppResult<EmergencyDemo> {
        let now = self.clock.now();
        let beats = self.repo.beats().await?;
        // The first street's first community: its grid workers and their grids.
        let ours: Vec<_> = beats
            .iter()
            .filter(|b| b.code.starts_with("440305001001") && !b.workers.is_empty())
            .collect();
        let Some(first) = ours.first() else {
            return Ok(EmergencyDemo::default());
        };
        let grid1 = first.grids[0].to_string();
        let grid2 = first.grids.get(1).unwrap_or(&first.grids[0]).to_string();
        let mut plans = Vec::new();
        for (name, text) in [
            ("typhoon.toml", TYPHOON),
            ("flood.toml", FLOOD),
            ("gas-leak.toml", GAS),
        ] {
            let text = text.replace("GRID1", &grid1).replace("GRID2", &grid2);
            let plan = crate::emergency::plan_file::read_plan(name, &text)
                .map_err(crate::error::AppError::Input)?;
            plans.push(plan);
        }
        let plan_count = plans.len();
        let leader = staff_of(self, "leader.st1").await?;
        self.save_emergency_plans(&leader, plans).await?;

        let clock = Arc::new(ManualClock::new(now));
        let past = self.with_clock_and_ids(clock.clone(), self.ids.clone());
        let at = |minutes: i64| now - SignedDuration::from_mins(minutes);
        let grids: Vec<_> = ours.iter().flat_map(|b| b.grids.iter().cloned()).collect();

        // A typhoon twenty days ago: IV, raised to III, reported, lifted after 18 hours.
        let start = 20 * 24 * 60;
        clock.set(at(start));
        let typhoon = past
            .declare_incident(
                &leader,
                NewIncident {
                    title: "台风“海葵”防御".into(),
                    plan: "typhoon".into(),
                    level: Some(Level::IV.as_str().into()),
                    exercise: false,
                    commander: None,
                    area: Area::Grids {
                        grids: grids.clone(),
                    },
                    period_minutes: Some(180),
                },
            )
            .await?;
        let key = typhoon.number.clone();
        clock.set(at(start - 150));
        past.set_incident_level(&leader, &key, Level::III).await?;
        // Most grid workers acknowledge within the hour; the last beat never does.
        let (answering, silent) = ours.split_at(ours.len().saturating_sub(1).max(1));
        let _ = silent;
        for (i, b) in answering.iter().enumerate() {
            let worker = staff_of(self, &b.workers[0]).await?;
            for (j, g) in b.grids.iter().enumerate() {
                clock.set(at(start - 155 - (i * 7 + j * 3) as i64));
                past.acknowledge_incident(&worker, &key, g.as_str()).await?;
            }
            for (j, g) in b.grids.iter().enumerate() {
                clock.set(at(start - 300 - (i * 20 + j * 9) as i64));
                let needs = match (i, j) {
                    (0, 0) => vec![
                        NeedInput {
                            text: "学府路12号3栋201独居老人行动不便，需协助转移".into(),
                            skills: vec!["助老".into()],
                        },
                        NeedInput {
                            text: "地下车库入口需要沙袋封堵".into(),
                            skills: vec![],
                        },
                    ],
                    (1, 0) => vec![NeedInput {
                        text: "临街广告牌松动".into(),
                        skills: vec![],
                    }],
                    _ => vec![],
                };
                past.report_for_grid(
                    &worker,
                    &key,
                    g.as_str(),
                    GridReportInput {
                        households_checked: 60 + (i * 17 + j * 11) as u32 % 90,
                        people_transferred: (i * 3 + j * 2) as u32 % 9,
                        note: String::new(),
                        needs,
                    },
                )
                .await?;
            }
        }
        // Needs: a case, a volunteer call, one met on the spot.
        let needs = self.repo.incident_needs(&typhoon.id).await?;
        clock.set(at(start - 330));
        if let Some(n) = needs.iter().find(|n| n.text.contains("独居老人")) {
            past.need_to_volunteer_call(&leader, &key, &n.id, 2).await?;
        }
        if let Some(n) = needs.iter().find(|n| n.text.contains("沙袋")) {
            past.close_need(&leader, &key, &n.id, "物业已用沙袋封堵入口")
                .await?;
        }
        if let Some(n) = needs.iter().find(|n| n.text.contains("广告牌")) {
            past.need_to_case(&leader, &key, &n.id).await?;
        }
        // Units report their tasks done, the water company late.
        for (minutes, unit, task) in [
            (start - 260, "ZJJ", "sites"),
            (start - 420, "SWJT", "drainage"),
        ] {
            clock.set(at(minutes));
            let handler = staff_of(self, &format!("handler.{}", unit.to_ascii_lowercase())).await?;
            past.finish_incident_task(&handler, &key, task, &format!("unit:{unit}"), "已完成")
                .await?;
        }
        clock.set(at(start - 20));
        past.finish_incident_task(&leader, &key, "duty", "role:street_leader", "张伟到岗带班")
            .await?;
        for (minutes, text) in [
            (
                start - 185,
                "已启动Ⅲ级响应，各网格正在逐户排查，暂无人员伤亡。",
            ),
            (
                start - 365,
                "风力减弱，已转移群众安置在南联小学，低洼路段积水已抽排。",
            ),
            (
                start - 545,
                "台风中心已远离，各网格排查完毕，广告牌隐患已立案处置。",
            ),
        ] {
            clock.set(at(minutes));
            past.write_sitrep(&leader, &key, text).await?;
        }
        clock.set(at(start - 18 * 60));
        past.lift_incident(&leader, &key, "台风已减弱为热带低压，解除防风应急响应")
            .await?;

        // A gas-leak drill five days ago in one beat, lifted after two hours.
        let drill_start = 5 * 24 * 60 + 120;
        clock.set(at(drill_start));
        let drill = past
            .declare_incident(
                &leader,
                NewIncident {
                    title: "燃气泄漏应急演练（学府路餐饮街）".into(),
                    plan: "gas-leak".into(),
                    level: Some(Level::III.as_str().into()),
                    exercise: true,
                    commander: None,
                    area: Area::Grids {
                        grids: first.grids.clone(),
                    },
                    period_minutes: Some(60),
                },
            )
            .await?;
        let worker = staff_of(self, &first.workers[0]).await?;
        for (j, g) in first.grids.iter().enumerate() {
            clock.set(at(drill_start - 4 - j as i64 * 2));
            past.acknowledge_incident(&worker, &drill.number, g.as_str())
                .await?;
            clock.set(at(drill_start - 25 - j as i64 * 5));
            past.report_for_grid(
                &worker,
                &drill.number,
                g.as_str(),
                GridReportInput {
                    households_checked: 24 + j as u32 * 6,
                    people_transferred: 40 + j as u32 * 12,
                    note: "演练疏散完成".into(),
                    needs: vec![],
                },
            )
            .await?;
        }
        clock.set(at(drill_start - 38));
        let gas = staff_of(self, "handler.rqjt").await?;
        past.finish_incident_task(
            &gas,
            &drill.number,
            "repair",
            "unit:RQJT",
            "演练：关阀堵漏完成",
        )
        .await?;
        clock.set(at(drill_start - 60));
        past.write_sitrep(
            &leader,
            &drill.number,
            "演练进行中：警戒区已划定，周边住户全部疏散。",
        )
        .await?;
        clock.set(at(drill_start - 120));
        past.lift_incident(&leader, &drill.number, "演练结束")
            .await?;
        Ok(EmergencyDemo {
            plans: plan_count,
            incidents: 2,
        })
    }
}
