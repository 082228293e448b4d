//! Months of demo cases, run through the real loop on a simulated clock.
//!
//! The texts are real residents' messages when they are beside the checkout
//! (../shared/data/teddy2020, read at run time, never copied into the repository), mapped to a
//! category by their words; otherwise the short reports civicgrid ships for the demo
//! (data/demo-case-texts.toml, a few per category). Each case is placed in a grid. Each
//! case follows a path drawn from the seed — the plain loop, rework, send-back, transfer,
//! extension, shelving, merge, refusal, on-the-spot resolution, breach and escalation — and is
//! evaluated with every grade. Every step is an ordinary service call, so the demo's events are
//! exactly what the platform would have recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use civicgrid_domain::calendar::{ClockType, TimeLimit};
use civicgrid_domain::case::deadline::Alarm;
use civicgrid_domain::case::{Action, Case, Channel, PhotoStage, Request, Satisfaction, Status};
use civicgrid_domain::catalogue::{AttributeType, CategoryCode, Stage};
use jiff::{SignedDuration, Timestamp};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::App;
use crate::cases::{Actor, Intake};
use crate::clock::{ManualClock, SeededIds};
use crate::error::{AppError, AppResult};

/// A resident's message: subject, text and the contest's first-level label if it has one,
/// or the category it was written for (the shipped texts).
struct Message {
    subject: String,
    detail: String,
    label: Option<String>,
    category: Option<String>,
}

/// Where the demo's case texts come from.
#[derive(Debug, Clone)]
pub enum CaseTexts {
    /// The residents' messages of the teddy2020 data set in this folder.
    Messages(std::path::PathBuf),
    /// The short reports civicgrid ships (data/demo-case-texts.toml).
    Shipped,
}

impl CaseTexts {
    /// The data set in `dir` when it is there, else the shipped texts.
    pub fn from_dir_or_shipped(dir: &Path) -> CaseTexts {
        if dir.join("labeled_messages.csv").is_file() {
            CaseTexts::Messages(dir.to_owned())
        } else {
            CaseTexts::Shipped
        }
    }

    fn read(&self) -> AppResult<Vec<Message>> {
        match self {
            CaseTexts::Messages(dir) => read_messages(dir),
            CaseTexts::Shipped => shipped_messages(),
        }
    }
}

fn shipped_messages() -> AppResult<Vec<Message>> {
    #[derive(serde::Deserialize)]
    struct Texts {
        text: Vec<Text>,
    }
    #[derive(serde::Deserialize)]
    struct Text {
        category: String,
        subject: String,
        detail: String,
    }
    let texts: Texts = toml::from_str(crate::app::shipped::DEMO_CASE_TEXTS_TOML)
        .map_err(|e| AppError::Invalid(format!("data/demo-case-texts.toml: {e}")))?;
    Ok(texts
        .text
        .into_iter()
        .map(|t| Message {
            subject: t.subject,
            detail: t.detail,
            label: None,
            category: Some(t.category),
        })
        .collect())
}

fn read_messages(dir: &Path) -> AppResult<Vec<Message>> {
    let mut out = Vec::new();
    for (file, labeled) in [
        ("labeled_messages.csv", true),
        ("unlabeled_messages.csv", false),
    ] {
        let path = dir.join(file);
        let mut reader = csv::Reader::from_path(&path).map_err(|e| AppError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        for row in reader.records().flatten() {
            let (subject, detail) = (
                row.get(2).unwrap_or("").trim(),
                row.get(4).unwrap_or("").trim(),
            );
            if subject.is_empty() {
                continue;
            }
            out.push(Message {
                subject: subject.to_owned(),
                detail: detail.to_owned(),
                label: if labeled {
                    row.get(5).map(str::to_owned)
                } else {
                    None
                },
                category: None,
            });
        }
    }
    if out.is_empty() {
        return Err(AppError::Invalid(format!(
            "no messages in {}",
            dir.display()
        )));
    }
    Ok(out)
}

/// The category a message was written for, or the one it most plausibly belongs to, by its
/// words, then by its label.
fn categorise(m: &Message) -> &str {
    if let Some(c) = &m.category {
        return c;
    }
    let t = format!("{}{}", m.subject, m.detail);
    let rules: &[(&[&str], &str)] = &[
        (&["燃气井盖"], "01006"),
        (&["井盖"], "01001"),
        (&["路灯"], "01007"),
        (&["消防栓"], "01008"),
        (&["红绿灯", "信号灯"], "02001"),
        (&["护栏"], "02003"),
        (&["公交站"], "02004"),
        (&["路面", "坑洼", "道路破损"], "02008"),
        (&["公厕", "厕所"], "03001"),
        (&["垃圾站", "垃圾收集"], "03003"),
        (&["古树"], "04001"),
        (&["绿化", "树木"], "04002"),
        (&["油烟"], "05005"),
        (&["夜间施工"], "07005"),
        (&["施工", "工地"], "07001"),
        (&["扬尘"], "07002"),
        (&["噪音", "噪声", "扰民"], "05006"),
        (&["垃圾"], "05001"),
        (&["污水", "臭"], "05004"),
        (&["小广告"], "06001"),
        (&["广告", "招牌"], "06003"),
        (&["乱停", "停车"], "08004"),
        (&["占道", "摆摊"], "08002"),
        (&["烧烤"], "08006"),
        (&["物业"], "09002"),
        (&["工资", "欠薪", "拖欠", "劳动合同", "社保"], "09003"),
        (&["邻居", "邻里"], "09001"),
        (&["停水", "自来水", "供水", "水压"], "10001"),
        (&["停电", "供电"], "10002"),
        (&["天然气", "燃气"], "10003"),
        (&["养老", "老人"], "10004"),
        (&["低保", "救助", "困难"], "10005"),
        (&["就业", "招聘"], "10006"),
        (&["消防", "火灾"], "11001"),
        (&["危房", "裂缝", "倒塌"], "11002"),
        (&["电动车", "充电"], "11004"),
        (&["坠落", "高空"], "11005"),
        (&["建议"], "12002"),
        (&["感谢", "表扬"], "12003"),
    ];
    for (words, code) in rules {
        if words.iter().any(|w| t.contains(w)) {
            return code;
        }
    }
    match m.label.as_deref() {
        Some("城乡建设") => "05002",
        Some("环境保护") => "05004",
        Some("交通运输") => "08004",
        Some("劳动和社会保障") => "09003",
        Some("卫生计生") => "10004",
        Some("商贸旅游") => "08002",
        _ => "12001",
    }
}

/// How a demo case runs through the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Journey {
    Plain,
    Rework,
    SendBack,
    Transfer,
    Extension,
    Shelve,
    Merge,
    Refuse,
    OnSite,
    Breach,
    Unsatisfied,
    Whistle,
}

impl Journey {
    fn name(self) -> &'static str {
        match self {
            Journey::Plain => "plain",
            Journey::Rework => "rework",
            Journey::SendBack => "send_back",
            Journey::Transfer => "transfer",
            Journey::Extension => "extension",
            Journey::Shelve => "shelve",
            Journey::Merge => "merge",
            Journey::Refuse => "refuse",
            Journey::OnSite => "on_site",
            Journey::Breach => "breach",
            Journey::Unsatisfied => "unsatisfied",
            Journey::Whistle => "whistle",
        }
    }
}

const PATHS: &[(Journey, u32)] = &[
    (Journey::Plain, 46),
    (Journey::Rework, 8),
    (Journey::SendBack, 6),
    (Journey::Transfer, 4),
    (Journey::Extension, 5),
    (Journey::Shelve, 3),
    (Journey::Merge, 4),
    (Journey::Refuse, 3),
    (Journey::OnSite, 8),
    (Journey::Breach, 7),
    (Journey::Unsatisfied, 6),
    (Journey::Whistle, 4),
];

fn draw_path(rng: &mut ChaCha8Rng) -> Journey {
    let total: u32 = PATHS.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total);
    for (p, w) in PATHS {
        if x < *w {
            return *p;
        }
        x -= w;
    }
    Journey::Plain
}

/// What the demo cases came to.
#[derive(Debug, Clone, Default)]
pub struct DemoCasesReport {
    pub cases: usize,
    pub by_path: BTreeMap<&'static str, usize>,
    pub still_open: usize,
    /// Reported this morning and waiting at each step for the example accounts.
    pub waiting: usize,
}

struct Sim<'a> {
    app: App,
    clock: &'a ManualClock,
    now: Timestamp,
    end: Timestamp,
    tz: jiff::tz::TimeZone,
}

impl Sim<'_> {
    /// Attaches a generated photo of the case as `who` took it now (before or after handling).
    async fn photo(&self, case: &Case, who: &str, stage: PhotoStage) -> AppResult<Case> {
        let stamp = self
            .now
            .to_zoned(self.tz.clone())
            .strftime("%Y-%m-%d %H:%M")
            .to_string();
        let category = case.category.as_ref().map_or("", |c| c.as_str());
        // Seeded by the case, so both pictures show the same place and the demo's other
        // random draws are not disturbed.
        let seed = case.id.as_u128() as u64;
        let (before, after) = crate::demo::photos::before_and_after(seed, category, &stamp, &stamp);
        let png = if stage == PhotoStage::After {
            after
        } else {
            before
        };
        let actor = self.actor(who).await?;
        self.app
            .attach_photo(
                &case.id,
                case.state.version,
                stage,
                "image/png",
                png,
                &actor,
            )
            .await
    }

    async fn actor(&self, who: &str) -> AppResult<Actor> {
        if who == "system" {
            return Ok(Actor::System);
        }
        let u = self
            .app
            .repo
            .user(who)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("demo account {who}")))?;
        Ok(Actor::Staff {
            username: u.username,
            grants: u.grants,
        })
    }

    /// Moves the simulated clock on; false once it would pass the end of the demo period.
    fn wait(&mut self, d: SignedDuration) -> bool {
        let next = self.now.checked_add(d).unwrap_or(self.end);
        if next >= self.end {
            return false;
        }
        self.now = next;
        self.clock.set(next);
        true
    }

    async fn act(&self, case: &Case, who: &str, action: Action) -> AppResult<Case> {
        let actor = self.actor(who).await?;
        self.app
            .act_on_case(&case.id, case.state.version, action, &actor)
            .await
    }
}

fn street_tag(case: &Case) -> String {
    let street: u32 = case.region.as_str()[6..9].parse().unwrap_or(1);
    format!("st{street}")
}

fn community_tag(case: &Case) -> String {
    let c: u32 = case
        .region
        .as_str()
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    format!("{}c{c}", street_tag(case))
}

fn handler_for(unit: &str) -> String {
    format!("handler.{}", unit.to_ascii_lowercase())
}

fn minutes(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> SignedDuration {
    SignedDuration::from_mins(rng.random_range(lo..hi))
}

impl App {
    /// Generates `months` of cases ending now, about `per_month` a month, deterministic for a
    /// seed (and a day).
    pub async fn load_demo_cases(
        &self,
        seed: u64,
        texts: &CaseTexts,
        months: i64,
        per_month: usize,
    ) -> AppResult<DemoCasesReport> {
        let texts = texts.read()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x00ca_5e5d_e770);
        let reference = self.reference().await?;
        let grids = self.repo.grids(None).await?;
        if grids.is_empty() {
            return Err(AppError::Invalid("load the demo territory first".into()));
        }
        let tz = reference.calendar.time_zone().clone();
        let today = self.clock.now().to_zoned(tz.clone()).date();
        let end = today
            .to_zoned(tz.clone())
            .map_err(|e| AppError::Invalid(e.to_string()))?
            .timestamp();
        let start = end
            .checked_sub(SignedDuration::from_hours(24 * 30 * months))
            .unwrap_or(end);
        let count = per_month * usize::try_from(months).unwrap_or(0);
        let span = end.duration_since(start).as_secs();
        let mut offsets: Vec<i64> = (0..count)
            .map(|_| rng.random_range(0..span.max(1)))
            .collect();
        offsets.sort_unstable();

        let clock = Arc::new(ManualClock::new(start));
        let sim_app = self.with_clock_and_ids(clock.clone(), Arc::new(SeededIds::new(seed)));
        let mut report = DemoCasesReport::default();
        for offset in offsets {
            let reported_at = start + SignedDuration::from_secs(offset);
            let mut sim = Sim {
                app: sim_app.clone(),
                clock: &clock,
                now: reported_at,
                end,
                tz: tz.clone(),
            };
            clock.set(reported_at);
            let message = texts
                .choose(&mut rng)
                .ok_or_else(|| AppError::Invalid("no texts".into()))?;
            let category: CategoryCode = categorise(message).parse().map_err(
                |e: civicgrid_domain::catalogue::CatalogueError| AppError::Invalid(e.to_string()),
            )?;
            let mut attributes = BTreeMap::new();
            if let Some(c) = reference.category(&category) {
                for a in c.attributes.iter().filter(|a| a.required) {
                    let v = match a.datatype {
                        AttributeType::SingleValueList | AttributeType::MultiValueList => a
                            .values
                            .choose(&mut rng)
                            .map(|v| v.key.clone())
                            .unwrap_or_default(),
                        AttributeType::Number => rng.random_range(2..5).to_string(),
                        _ => "见描述".to_owned(),
                    };
                    attributes.insert(a.code.clone(), v);
                }
            }
            let grid = grids
                .choose(&mut rng)
                .ok_or_else(|| AppError::Invalid("no grids".into()))?;
            let location = point_in(grid, &reference.grid_index, &mut rng);
            let path = draw_path(&mut rng);
            let mut description: String = format!("{}：{}", message.subject, message.detail)
                .chars()
                .take(400)
                .collect();
            if description.ends_with('：') {
                description.pop();
            }
            let (channel, reporter) = match path {
                Journey::OnSite => (Channel::Patrol, None),
                _ => (
                    [Channel::Web, Channel::Hotline, Channel::Open311][rng.random_range(0..3)],
                    Some(()),
                ),
            };
            let contact = (self.sealer.is_some() && reporter.is_some() && rng.random_bool(0.6))
                .then(|| crate::cases::seal::Reporter {
                    name: None,
                    phone: Some(format!("13{:09}", rng.random_range(0..1_000_000_000u32))),
                    email: None,
                    ..Default::default()
                });
            let intake = Intake {
                grid: None,
                media_url: None,
                reporter: contact,
                description,
                location: Some(location),
                address: None,
                category: Some(category.clone()),
                attributes,
                priority: None,
                channel,
            };
            let reporter_actor = match reporter {
                Some(()) => Actor::Resident,
                None => {
                    let tag = format!(
                        "st{}c{}",
                        &grid.region.as_str()[6..9].trim_start_matches('0'),
                        grid.region.as_str()[9..12].trim_start_matches('0')
                    );
                    let u = self
                        .repo
                        .user(&format!("gw.{tag}.1"))
                        .await?
                        .ok_or_else(|| AppError::NotFound(format!("gw.{tag}.1")))?;
                    Actor::Staff {
                        username: u.username,
                        grants: u.grants,
                    }
                }
            };
            let mut case = sim_app.report_case(intake.clone(), &reporter_actor).await?;
            report.cases += 1;
            *report.by_path.entry(path.name()).or_default() += 1;
            let outcome = run_path(&mut sim, &mut rng, case.clone(), path, &intake).await?;
            case = outcome;
            if case.state.status.is_open() {
                report.still_open += 1;
            }
        }
        // Cases still waiting at the end are swept like the live job would.
        clock.set(end);
        sim_app.sweep_deadlines(0.8).await?;
        // This morning's work, so that every example account finds something waiting.
        report.waiting = self
            .leave_work_waiting(&sim_app, &clock, &texts, &mut rng, end)
            .await?;
        Ok(report)
    }

    /// Reports a few cases this morning in the first community's grids and takes each to a
    /// different step of the loop, so that the README's accounts each find work where they
    /// land: the call-taker new reports, the dispatcher registered cases, the handler cases
    /// dispatched to it, the grid worker cases to verify. Answers how many it reported.
    async fn leave_work_waiting(
        &self,
        sim_app: &App,
        clock: &ManualClock,
        texts: &[Message],
        rng: &mut ChaCha8Rng,
        morning: Timestamp,
    ) -> AppResult<usize> {
        let now = self.clock.now();
        if now <= morning {
            return Ok(0);
        }
        let reference = sim_app.reference().await?;
        let beats = sim_app.repo.beats().await?;
        let grids = sim_app.repo.grids(None).await?;
        let Some(grid) = beats
            .iter()
            .find(|b| b.workers.iter().any(|w| w == "gw.st1c1.1"))
            .and_then(|b| b.grids.first())
            .and_then(|code| grids.iter().find(|g| &g.code == code))
        else {
            return Ok(0);
        };
        let manholes: Vec<&Message> = texts.iter().filter(|m| categorise(m) == "01001").collect();
        let sim = Sim {
            app: sim_app.clone(),
            clock,
            now: morning,
            end: now,
            tz: reference.calendar.time_zone().clone(),
        };
        // Steps each case is taken through: (who, action), after its report.
        let register = || {
            vec![
                ("calltaker1", Action::Accept),
                ("calltaker1", Action::Register),
            ]
        };
        let dispatch = || {
            let mut s = register();
            s.push((
                "dispatcher.st1",
                Action::Dispatch {
                    units: vec!["SWJT".into()],
                },
            ));
            s
        };
        let reported_back = || {
            let mut s = dispatch();
            s.push(("handler.swjt", Action::StartHandling));
            s.push((
                "handler.swjt",
                Action::ReportBack {
                    note: "已更换井盖并设置警示".into(),
                },
            ));
            s
        };
        let plans: Vec<Vec<(&str, Action)>> = vec![
            vec![],
            vec![],
            register(),
            register(),
            dispatch(),
            dispatch(),
            reported_back(),
            reported_back(),
        ];
        let span = now.duration_since(morning).as_secs().max(1);
        let mut reported = 0;
        for (i, plan) in plans.into_iter().enumerate() {
            let at = morning + SignedDuration::from_secs(span * (i as i64 + 1) / 10);
            clock.set(at);
            let Some(message) = manholes.choose(rng).copied().or_else(|| texts.first()) else {
                return Ok(reported);
            };
            let intake = Intake {
                grid: None,
                media_url: None,
                reporter: None,
                description: format!("{}：{}", message.subject, message.detail)
                    .chars()
                    .take(400)
                    .collect(),
                location: Some(point_in(grid, &reference.grid_index, rng)),
                address: None,
                category: Some(categorise(message).parse().map_err(
                    |e: civicgrid_domain::catalogue::CatalogueError| {
                        AppError::Invalid(e.to_string())
                    },
                )?),
                attributes: [("damage".to_owned(), "missing".to_owned())].into(),
                priority: None,
                channel: Channel::Hotline,
            };
            let mut case = match sim_app.report_case(intake, &Actor::Resident).await {
                Ok(c) => c,
                // A text of another category may want other attributes: skip it.
                Err(AppError::Unprocessable(_)) => continue,
                Err(e) => return Err(e),
            };
            reported += 1;
            for (who, action) in plan {
                case = sim.act(&case, who, action).await?;
            }
        }
        clock.set(now);
        Ok(reported)
    }
}

fn point_in(
    grid: &civicgrid_domain::territory::Grid,
    index: &civicgrid_domain::geometry::locate::GridIndex,
    rng: &mut ChaCha8Rng,
) -> (f64, f64) {
    use geo::BoundingRect;
    let Some(r) = grid.geometry.bounding_rect() else {
        return (0.0, 0.0);
    };
    for _ in 0..100 {
        let p = (
            rng.random_range(r.min().x..r.max().x),
            rng.random_range(r.min().y..r.max().y),
        );
        if index.locate(p.0, p.1) == Some(&grid.code) {
            return ((p.0 * 1e6).round() / 1e6, (p.1 * 1e6).round() / 1e6);
        }
    }
    let c = r.center();
    (c.x, c.y)
}

/// Runs one case along its path, stopping early (still open) when the demo period ends.
async fn run_path(
    sim: &mut Sim<'_>,
    rng: &mut ChaCha8Rng,
    mut case: Case,
    path: Journey,
    intake: &Intake,
) -> AppResult<Case> {
    let calltaker = if rng.random_bool(0.5) {
        "calltaker1"
    } else {
        "calltaker2"
    };
    let dispatcher = format!("dispatcher.{}", street_tag(&case));
    let leader = format!("leader.{}", street_tag(&case));
    let worker = format!("gw.{}.1", community_tag(&case));

    if path == Journey::OnSite {
        if sim.wait(minutes(rng, 5, 40)) {
            case = sim.photo(&case, &worker, PhotoStage::Before).await?;
            case = sim
                .act(
                    &case,
                    &worker,
                    Action::ResolveOnSite {
                        note: "网格员现场处置完毕，已拍照留存".into(),
                    },
                )
                .await?;
            if sim.wait(minutes(rng, 1, 5)) {
                case = sim.photo(&case, &worker, PhotoStage::After).await?;
            }
        }
        return Ok(case);
    }
    if path == Journey::Merge && sim.wait(minutes(rng, 10, 60)) {
        // A neighbour reports the same matter; the call-taker merges it into this case.
        let mut dup = intake.clone();
        dup.description = format!("（另一位居民反映）{}", dup.description);
        let loc = dup.location.unwrap_or_default();
        dup.location = Some((loc.0 + 0.0001, loc.1));
        if let Ok(duplicate) = sim.app.report_case(dup, &Actor::Resident).await
            && sim.wait(minutes(rng, 5, 30))
        {
            sim.act(&duplicate, calltaker, Action::MergeInto { master: case.id })
                .await?;
        }
    }
    if !sim.wait(minutes(rng, 5, 50)) {
        return Ok(case);
    }
    if path == Journey::Refuse {
        return sim
            .act(
                &case,
                calltaker,
                Action::Refuse {
                    reason: "不属于本平台受理范围，已告知向有关部门反映".into(),
                },
            )
            .await;
    }
    if path == Journey::Breach {
        // Nobody picks it up in time: the deadline job raises the alarms and lifts the case.
        if !sim.wait(SignedDuration::from_hours(rng.random_range(5..30))) {
            return Ok(case);
        }
        case = sim
            .act(
                &case,
                "system",
                Action::RaiseAlarm {
                    stage: Stage::Accept,
                    level: Alarm::Red,
                },
            )
            .await?;
        case = sim
            .act(
                &case,
                "system",
                Action::Escalate {
                    tier: civicgrid_domain::case::Tier::Community,
                    reason: "受理超时".into(),
                },
            )
            .await?;
        if !sim.wait(minutes(rng, 10, 120)) {
            return Ok(case);
        }
    }
    case = sim.act(&case, calltaker, Action::Accept).await?;
    case = sim.act(&case, calltaker, Action::Register).await?;
    if !sim.wait(minutes(rng, 10, 120)) {
        return Ok(case);
    }
    let units = case.routed_units.clone();
    case = sim
        .act(
            &case,
            &dispatcher,
            Action::Dispatch {
                units: units.clone(),
            },
        )
        .await?;
    let mut handler = handler_for(units.first().map(String::as_str).unwrap_or("ST001"));
    if path == Journey::SendBack && sim.wait(minutes(rng, 30, 240)) {
        case = sim
            .act(
                &case,
                &handler,
                Action::SendBack {
                    reason: "经核实不属本单位职责，请重新派遣".into(),
                },
            )
            .await?;
        if !sim.wait(minutes(rng, 20, 120)) {
            return Ok(case);
        }
        let office = format!(
            "ST{:03}",
            street_tag(&case)[2..].parse::<u32>().unwrap_or(1)
        );
        case = sim
            .act(
                &case,
                &dispatcher,
                Action::Dispatch {
                    units: vec![office.clone()],
                },
            )
            .await?;
        handler = handler_for(&office);
    }
    if path == Journey::Transfer && sim.wait(minutes(rng, 30, 240)) {
        let to = if units.first().map(String::as_str) == Some("CGJ") {
            "ZJJ"
        } else {
            "CGJ"
        };
        case = sim
            .act(
                &case,
                &dispatcher,
                Action::Transfer {
                    units: vec![to.into()],
                    reason: "职责调整，转派".into(),
                },
            )
            .await?;
        handler = handler_for(to);
    }
    if !sim.wait(minutes(rng, 20, 300)) {
        return Ok(case);
    }
    case = sim.act(&case, &handler, Action::StartHandling).await?;
    if sim.wait(minutes(rng, 5, 60)) {
        case = sim.photo(&case, &handler, PhotoStage::Before).await?;
    }
    if path == Journey::Whistle && sim.wait(minutes(rng, 60, 600)) {
        // The matter exceeds the street's powers: it summons two departments (街乡吹哨).
        let due = sim.now + SignedDuration::from_hours(4);
        let units = vec!["ZJJ".to_owned(), "SJJ".to_owned()];
        case = sim
            .act(
                &case,
                &leader,
                Action::WhistleCall {
                    units,
                    due_at: due,
                    note: "街道吹哨，请相关部门到场联合处置".into(),
                },
            )
            .await?;
        if !sim.wait(minutes(rng, 30, 200)) {
            return Ok(case);
        }
        case = sim
            .act(
                &case,
                "handler.zjj",
                Action::AnswerWhistle {
                    unit: "ZJJ".into(),
                    note: "已派员到场".into(),
                },
            )
            .await?;
        if rng.random_bool(0.5) {
            if sim.wait(minutes(rng, 10, 30)) {
                case = sim
                    .act(
                        &case,
                        "handler.sjj",
                        Action::AnswerWhistle {
                            unit: "SJJ".into(),
                            note: "已派员到场".into(),
                        },
                    )
                    .await?;
            }
        } else if sim.wait(SignedDuration::from_hours(4)) {
            case = sim
                .act(&case, "system", Action::MissWhistle { unit: "SJJ".into() })
                .await?;
        }
    }
    if path == Journey::Extension && sim.wait(minutes(rng, 60, 600)) {
        let request = Request::Extension {
            stage: Stage::Handle,
            extra: TimeLimit {
                clock: ClockType::WorkingDays,
                amount: 2,
            },
            reason: "需协调产权单位，申请延期两个工作日".into(),
        };
        case = sim
            .act(&case, &handler, Action::RequestApproval { request })
            .await?;
        if !sim.wait(minutes(rng, 30, 240)) {
            return Ok(case);
        }
        case = sim
            .act(
                &case,
                &leader,
                Action::DecideApproval {
                    approve: true,
                    note: "同意延期".into(),
                },
            )
            .await?;
    }
    if path == Journey::Shelve && sim.wait(minutes(rng, 60, 600)) {
        let request = Request::Shelve {
            reason: "需纳入年度改造计划统筹解决".into(),
        };
        case = sim
            .act(&case, &handler, Action::RequestApproval { request })
            .await?;
        if !sim.wait(minutes(rng, 30, 240)) {
            return Ok(case);
        }
        case = sim
            .act(
                &case,
                &leader,
                Action::DecideApproval {
                    approve: true,
                    note: "同意挂账".into(),
                },
            )
            .await?;
        if !sim.wait(SignedDuration::from_hours(rng.random_range(24..24 * 20))) {
            return Ok(case);
        }
        case = sim.act(&case, &leader, Action::Resume).await?;
    }
    if !sim.wait(minutes(rng, 60, 60 * 30)) {
        return Ok(case);
    }
    case = sim.photo(&case, &handler, PhotoStage::After).await?;
    case = sim
        .act(
            &case,
            &handler,
            Action::ReportBack {
                note: "已现场处理完毕".into(),
            },
        )
        .await?;
    if path == Journey::Rework && sim.wait(minutes(rng, 30, 300)) {
        case = sim
            .act(
                &case,
                &worker,
                Action::Verify {
                    passed: false,
                    note: "现场核查问题仍未解决，退回返工".into(),
                },
            )
            .await?;
        if !sim.wait(minutes(rng, 60, 60 * 24)) {
            return Ok(case);
        }
        case = sim
            .act(
                &case,
                &handler,
                Action::ReportBack {
                    note: "已返工处理".into(),
                },
            )
            .await?;
    }
    if !sim.wait(minutes(rng, 30, 300)) {
        return Ok(case);
    }
    case = sim
        .act(
            &case,
            &worker,
            Action::Verify {
                passed: true,
                note: "现场核查已解决".into(),
            },
        )
        .await?;
    if !sim.wait(minutes(rng, 60, 60 * 48)) {
        return Ok(case);
    }
    let satisfaction = match path {
        Journey::Unsatisfied => Satisfaction::Unsatisfied,
        _ if rng.random_bool(0.2) => Satisfaction::BasicallySatisfied,
        _ => Satisfaction::Satisfied,
    };
    case = sim
        .act(
            &case,
            calltaker,
            Action::Evaluate {
                satisfaction,
                comment: "电话回访".into(),
            },
        )
        .await?;
    if satisfaction == Satisfaction::Unsatisfied && sim.wait(minutes(rng, 60, 600)) {
        case = sim
            .act(
                &case,
                calltaker,
                Action::Reopen {
                    reason: "居民回访不满意，重新处置".into(),
                },
            )
            .await?;
        if sim.wait(minutes(rng, 60, 60 * 24)) {
            case = sim
                .act(
                    &case,
                    &handler,
                    Action::ReportBack {
                        note: "已再次处理并与居民沟通".into(),
                    },
                )
                .await?;
            if sim.wait(minutes(rng, 30, 300)) {
                case = sim
                    .act(
                        &case,
                        &worker,
                        Action::Verify {
                            passed: true,
                            note: "复核已解决".into(),
                        },
                    )
                    .await?;
                if sim.wait(minutes(rng, 60, 600)) {
                    case = sim
                        .act(
                            &case,
                            calltaker,
                            Action::Evaluate {
                                satisfaction: Satisfaction::BasicallySatisfied,
                                comment: "二次回访".into(),
                            },
                        )
                        .await?;
                }
            }
        }
    }
    debug_assert!(case.state.status != Status::Merged);
    Ok(case)
}
