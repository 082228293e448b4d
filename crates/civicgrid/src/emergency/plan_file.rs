//! A plan as a TOML file, read all or nothing (every problem named by file, line or field) and
//! written back. Each `[[task]]` says whom it is for and, per level it is part of, its
//! deadline in minutes after activation:
//!
//! ```toml
//! code = "typhoon-nanshan"
//! kind = "typhoon"
//! title = "南山街道防台风预案"
//!
//! [[task]]
//! key = "check-households"
//! to = "grid_workers"            # or "unit:SWJT", "role:street_leader"
//! title = "逐户排查独居老人和危旧房屋"
//! due = { III = 240, II = 120, I = 60 }
//!
//! [[shelter]]
//! name = "南山小学体育馆"
//! capacity = 300
//! grid = "440305001001002"
//! ```

use std::collections::BTreeMap;

use civicgrid_domain::emergency::{
    Addressee, IncidentKind, Level, Plan, PlanContact, PlanResource, PlanTask, Shelter,
};
use civicgrid_domain::territory::GridCode;
use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::error::{InputError, Location};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    code: String,
    kind: String,
    title: String,
    #[serde(default, rename = "task")]
    tasks: Vec<TaskFile>,
    #[serde(default, rename = "contact", skip_serializing_if = "Vec::is_empty")]
    contacts: Vec<PlanContact>,
    #[serde(default, rename = "resource", skip_serializing_if = "Vec::is_empty")]
    resources: Vec<PlanResource>,
    #[serde(default, rename = "shelter", skip_serializing_if = "Vec::is_empty")]
    shelters: Vec<Shelter>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    key: String,
    to: String,
    title: String,
    /// Minutes after activation, per level.
    due: BTreeMap<String, i64>,
}

fn addressee(to: &str) -> Option<Addressee> {
    match to.trim().split_once(':') {
        Some(("unit", code)) => Some(Addressee::Unit(code.trim().to_owned())),
        Some(("role", code)) => Some(Addressee::Role(code.trim().to_owned())),
        None if to.trim() == "grid_workers" => Some(Addressee::GridWorkers),
        _ => None,
    }
}

fn to_text(a: &Addressee) -> String {
    match a {
        Addressee::Unit(c) => format!("unit:{c}"),
        Addressee::Role(c) => format!("role:{c}"),
        Addressee::GridWorkers => "grid_workers".to_owned(),
    }
}

/// Reads a plan file; every problem, or the plan.
pub fn read_plan(file: &str, text: &str) -> Result<Plan, Vec<InputError>> {
    let raw: PlanFile =
        toml::from_str(text).map_err(|e| vec![crate::interchange::toml_error(file, text, &e)])?;
    let problem = |field: String, message: String| InputError {
        file: file.to_owned(),
        location: Location::File,
        field: Some(field),
        message,
    };
    let mut problems = Vec::new();
    let kind = raw.kind.parse::<IncidentKind>().unwrap_or_else(|e| {
        problems.push(problem("kind".into(), e));
        IncidentKind::Other
    });
    let mut tasks = Vec::new();
    // Which [[task]] each flattened task came from, to name it in the domain's problems.
    let mut origin = Vec::new();
    for (i, t) in raw.tasks.iter().enumerate() {
        let Some(to) = addressee(&t.to) else {
            problems.push(problem(
                format!("task[{i}].to"),
                format!("`{}` is not unit:CODE, role:CODE or grid_workers", t.to),
            ));
            continue;
        };
        if t.due.is_empty() {
            problems.push(problem(
                format!("task[{i}].due"),
                "give the deadline in minutes at each level the task is part of".into(),
            ));
        }
        for (level, minutes) in &t.due {
            let Some(level) = Level::parse(level) else {
                problems.push(problem(
                    format!("task[{i}].due.{level}"),
                    "levels are I, II, III and IV".into(),
                ));
                continue;
            };
            tasks.push(PlanTask {
                key: t.key.clone(),
                level,
                addressee: to.clone(),
                title: t.title.clone(),
                due_after: SignedDuration::from_mins(*minutes),
            });
            origin.push(i);
        }
    }
    let plan = Plan {
        code: raw.code,
        kind,
        title: raw.title,
        tasks,
        contacts: raw.contacts,
        resources: raw.resources,
        shelters: raw.shelters,
    };
    for (field, message) in plan.problems() {
        // `tasks[k].x` names a task of one level: name the file's [[task]] instead.
        let field = match field
            .strip_prefix("tasks[")
            .and_then(|r| r.split_once(']'))
            .and_then(|(k, rest)| Some((k.parse::<usize>().ok()?, rest)))
        {
            Some((k, rest)) => match origin.get(k) {
                Some(i) => format!("task[{i}]{rest}"),
                None => field,
            },
            None => field
                .replace("contacts[", "contact[")
                .replace("resources[", "resource[")
                .replace("shelters[", "shelter["),
        };
        problems.push(problem(field, message));
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(problems)
    }
}

/// A plan as its file: one `[[task]]` per key, its deadline at each level.
pub fn write_plan(plan: &Plan) -> Result<String, String> {
    let mut tasks: Vec<TaskFile> = Vec::new();
    for t in &plan.tasks {
        let minutes = t.due_after.as_mins();
        match tasks.iter_mut().find(|f| f.key == t.key) {
            Some(f) => {
                f.due.insert(t.level.as_str().to_owned(), minutes);
            }
            None => tasks.push(TaskFile {
                key: t.key.clone(),
                to: to_text(&t.addressee),
                title: t.title.clone(),
                due: BTreeMap::from([(t.level.as_str().to_owned(), minutes)]),
            }),
        }
    }
    toml::to_string(&PlanFile {
        code: plan.code.clone(),
        kind: plan.kind.as_str().to_owned(),
        title: plan.title.clone(),
        tasks,
        contacts: plan.contacts.clone(),
        resources: plan.resources.clone(),
        shelters: plan.shelters.clone(),
    })
    .map_err(|e| e.to_string())
}

/// The columns of the plans' CSV: one row per task (its deadline in minutes at each level it
/// is part of, blank where it is not), contact, resource or shelter, with the plan it belongs
/// to on every row.
pub const CSV_COLUMNS: [&str; 19] = [
    "plan",
    "kind",
    "plan_title",
    "record",
    "key",
    "to",
    "title",
    "due_I",
    "due_II",
    "due_III",
    "due_IV",
    "name",
    "role",
    "phone",
    "quantity",
    "unit",
    "capacity",
    "grid",
    "address",
];

/// An item of a plan read from CSV: its index in its list, its line, and which list (0
/// tasks, 1 contacts, 2 resources, 3 shelters).
type Origin = (usize, u64, usize);

/// Reads plans from CSV, all or nothing: every problem by line and column.
pub fn read_plans_csv(file: &str, text: &str) -> Result<Vec<Plan>, Vec<InputError>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let problem = |line: u64, field: &str, message: String| InputError {
        file: file.to_owned(),
        location: Location::Line { line, column: None },
        field: Some(field.to_owned()),
        message,
    };
    let headers = reader
        .headers()
        .map_err(|e| vec![InputError::file(file, e.to_string())])?
        .clone();
    let index: BTreeMap<&str, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let missing: Vec<&str> = ["plan", "kind", "plan_title", "record"]
        .into_iter()
        .filter(|c| !index.contains_key(c))
        .collect();
    if !missing.is_empty() {
        return Err(vec![InputError::file(
            file,
            format!(
                "the header lacks {}; expected {}",
                missing.join(", "),
                CSV_COLUMNS.join(",")
            ),
        )]);
    }
    let mut problems = Vec::new();
    // Each plan, the line it starts on, and where each of its items came from.
    let mut plans: Vec<(Plan, u64, Vec<Origin>)> = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let line = n as u64 + 2;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                problems.push(InputError {
                    file: file.to_owned(),
                    location: Location::Line { line, column: None },
                    field: None,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let get = |c: &str| {
            index
                .get(c)
                .and_then(|i| row.get(*i))
                .map(str::trim)
                .unwrap_or("")
        };
        let number = |c: &str, problems: &mut Vec<InputError>| -> Option<u32> {
            match get(c) {
                "" => None,
                v => match v.parse::<u32>() {
                    Ok(x) => Some(x),
                    Err(_) => {
                        problems.push(problem(line, c, format!("`{v}` is not a whole number")));
                        None
                    }
                },
            }
        };
        let grid = |problems: &mut Vec<InputError>| -> Option<GridCode> {
            match get("grid") {
                "" => None,
                g => match g.parse() {
                    Ok(g) => Some(g),
                    Err(e) => {
                        problems.push(problem(line, "grid", format!("`{g}`: {e}")));
                        None
                    }
                },
            }
        };
        let code = get("plan");
        if code.is_empty() {
            problems.push(problem(line, "plan", "name the plan's code".into()));
            continue;
        }
        let kind = match get("kind").parse::<IncidentKind>() {
            Ok(k) => k,
            Err(e) => {
                problems.push(problem(line, "kind", e));
                IncidentKind::Other
            }
        };
        let at = match plans.iter().position(|(p, _, _)| p.code == code) {
            Some(i) => {
                if plans[i].0.kind != kind || plans[i].0.title != get("plan_title") {
                    problems.push(problem(
                        line,
                        "plan_title",
                        format!(
                            "plan {code} has another kind or title on line {}",
                            plans[i].1
                        ),
                    ));
                }
                i
            }
            None => {
                plans.push((
                    Plan {
                        code: code.to_owned(),
                        kind,
                        title: get("plan_title").to_owned(),
                        tasks: Vec::new(),
                        contacts: Vec::new(),
                        resources: Vec::new(),
                        shelters: Vec::new(),
                    },
                    line,
                    Vec::new(),
                ));
                plans.len() - 1
            }
        };
        match get("record") {
            "task" => {
                // Every problem of the row: the addressee and each deadline.
                let to = addressee(get("to"));
                if to.is_none() {
                    problems.push(problem(
                        line,
                        "to",
                        format!(
                            "`{}` is not unit:CODE, role:CODE or grid_workers",
                            get("to")
                        ),
                    ));
                }
                let mut any = false;
                for level in Level::ALL {
                    let column = format!("due_{}", level.as_str());
                    if let Some(minutes) = number(&column, &mut problems) {
                        any = true;
                        if let Some(to) = &to {
                            let (plan, _, origin) = &mut plans[at];
                            origin.push((plan.tasks.len(), line, 0));
                            plan.tasks.push(PlanTask {
                                key: get("key").to_owned(),
                                level,
                                addressee: to.clone(),
                                title: get("title").to_owned(),
                                due_after: SignedDuration::from_mins(i64::from(minutes)),
                            });
                        }
                    }
                }
                if !any
                    && !problems
                        .iter()
                        .any(|p| matches!(p.location, Location::Line { line: l, .. } if l == line))
                {
                    problems.push(problem(
                        line,
                        "due_I",
                        "give the deadline in minutes at one level at least".into(),
                    ));
                }
            }
            "contact" => {
                let grid = grid(&mut problems);
                plans[at].0.contacts.push(PlanContact {
                    name: get("name").to_owned(),
                    role: get("role").to_owned(),
                    phone: get("phone").to_owned(),
                    grid,
                });
                let k = plans[at].0.contacts.len() - 1;
                plans[at].2.push((k, line, 1));
            }
            "resource" => {
                let quantity = number("quantity", &mut problems).unwrap_or(0);
                let grid = grid(&mut problems);
                plans[at].0.resources.push(PlanResource {
                    name: get("name").to_owned(),
                    quantity,
                    unit: get("unit").to_owned(),
                    grid,
                });
                let k = plans[at].0.resources.len() - 1;
                plans[at].2.push((k, line, 2));
            }
            "shelter" => {
                let capacity = number("capacity", &mut problems).unwrap_or(0);
                match grid(&mut problems) {
                    Some(g) => {
                        plans[at].0.shelters.push(Shelter {
                            name: get("name").to_owned(),
                            capacity,
                            grid: g,
                            address: get("address").to_owned(),
                        });
                        let k = plans[at].0.shelters.len() - 1;
                        plans[at].2.push((k, line, 3));
                    }
                    None => problems.push(problem(
                        line,
                        "grid",
                        "a shelter is placed in a grid".into(),
                    )),
                }
            }
            other => problems.push(problem(
                line,
                "record",
                format!("`{other}` is not task, contact, resource or shelter"),
            )),
        }
    }
    for (plan, first, origin) in &plans {
        // Name the domain's problems by the line they come from.
        let line_of = |field: &str| -> u64 {
            let kinds = [
                ("tasks[", 0),
                ("contacts[", 1),
                ("resources[", 2),
                ("shelters[", 3),
            ];
            for (prefix, kind) in kinds {
                if let Some(k) = field
                    .strip_prefix(prefix)
                    .and_then(|r| r.split_once(']'))
                    .and_then(|(k, _)| k.parse::<usize>().ok())
                    && let Some((_, line, _)) =
                        origin.iter().find(|(i, _, w)| *i == k && *w == kind)
                {
                    return *line;
                }
            }
            *first
        };
        for (field, message) in plan.problems() {
            let column = field.rsplit('.').next().unwrap_or(&field).to_owned();
            let column = match column.as_str() {
                "due_after" => "due_I".to_owned(),
                "addressee" => "to".to_owned(),
                c if c.starts_with("tasks[")
                    || c.starts_with("contacts[")
                    || c.starts_with("resources[") =>
                {
                    "record".to_owned()
                }
                "code" => "plan".to_owned(),
                "title" if !field.contains('[') => "plan_title".to_owned(),
                c => c.to_owned(),
            };
            problems.push(problem(line_of(&field), &column, message));
        }
    }
    if plans.is_empty() && problems.is_empty() {
        problems.push(InputError::file(file, "no plan in the file"));
    }
    if problems.is_empty() {
        Ok(plans.into_iter().map(|(p, _, _)| p).collect())
    } else {
        Err(problems)
    }
}

/// Plans as CSV (the columns of `CSV_COLUMNS`).
pub fn write_plans_csv(plans: &[Plan]) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS).map_err(|e| e.to_string())?;
    for p in plans {
        let head = [p.code.clone(), p.kind.as_str().to_owned(), p.title.clone()];
        let mut keys: Vec<&str> = Vec::new();
        for t in &p.tasks {
            if !keys.contains(&t.key.as_str()) {
                keys.push(&t.key);
            }
        }
        for key in keys {
            let of_key: Vec<&PlanTask> = p.tasks.iter().filter(|t| t.key == key).collect();
            let first = of_key[0];
            let due = |l: Level| {
                of_key
                    .iter()
                    .find(|t| t.level == l)
                    .map(|t| t.due_after.as_mins().to_string())
                    .unwrap_or_default()
            };
            let mut row = head.to_vec();
            row.extend([
                "task".to_owned(),
                key.to_owned(),
                to_text(&first.addressee),
                first.title.clone(),
                due(Level::I),
                due(Level::II),
                due(Level::III),
                due(Level::IV),
            ]);
            row.extend(std::iter::repeat_n(String::new(), 8));
            w.write_record(&row).map_err(|e| e.to_string())?;
        }
        let grid = |g: &Option<GridCode>| g.as_ref().map(|g| g.to_string()).unwrap_or_default();
        let blank7 = || std::iter::repeat_n(String::new(), 7);
        for c in &p.contacts {
            let mut row = head.to_vec();
            row.push("contact".into());
            row.extend(blank7());
            row.extend([
                c.name.clone(),
                c.role.clone(),
                c.phone.clone(),
                String::new(),
                String::new(),
                String::new(),
                grid(&c.grid),
                String::new(),
            ]);
            w.write_record(&row).map_err(|e| e.to_string())?;
        }
        for r in &p.resources {
            let mut row = head.to_vec();
            row.push("resource".into());
            row.extend(blank7());
            row.extend([
                r.name.clone(),
                String::new(),
                String::new(),
                r.quantity.to_string(),
                r.unit.clone(),
                String::new(),
                grid(&r.grid),
                String::new(),
            ]);
            w.write_record(&row).map_err(|e| e.to_string())?;
        }
        for s in &p.shelters {
            let mut row = head.to_vec();
            row.push("shelter".into());
            row.extend(blank7());
            row.extend([
                s.name.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                s.capacity.to_string(),
                s.grid.to_string(),
                s.address.clone(),
            ]);
            w.write_record(&row).map_err(|e| e.to_string())?;
        }
    }
    String::from_utf8(w.into_inner().map_err(|e| e.to_string())?).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPHOON: &str = r#"
code = "typhoon-nanshan"
kind = "typhoon"
title = "南山街道防台风预案"

[[task]]
key = "duty-watch"
to = "role:street_leader"
title = "街道领导带班值守"
due = { IV = 60, III = 60, II = 30, I = 30 }

[[task]]
key = "check-households"
to = "grid_workers"
title = "逐户排查独居老人和危旧房屋"
due = { III = 240, II = 120, I = 60 }

[[task]]
key = "drainage"
to = "unit:SWJT"
title = "排查低洼路段排水"
due = { III = 360, II = 180 }

[[contact]]
name = "街道防汛办"
role = "防汛值班"
phone = "0755-26660000"

[[resource]]
name = "沙袋"
quantity = 2000
unit = "个"
grid = "440305001001001"

[[shelter]]
name = "南山小学体育馆"
capacity = 300
grid = "440305001001002"
address = "南山大道100号"
"#;

    #[test]
    fn a_plan_file_reads_and_writes_back_the_same_plan() {
        let plan = read_plan("typhoon.toml", TYPHOON).expect("reads");
        assert_eq!(plan.kind, IncidentKind::Typhoon);
        assert_eq!(plan.tasks.len(), 4 + 3 + 2);
        let check = plan
            .tasks
            .iter()
            .find(|t| t.key == "check-households" && t.level == Level::I)
            .expect("a check at I");
        assert_eq!(check.addressee, Addressee::GridWorkers);
        assert_eq!(check.due_after, SignedDuration::from_mins(60));
        assert_eq!(plan.shelters[0].capacity, 300);
        let written = write_plan(&plan).expect("writes");
        let again = read_plan("again.toml", &written).expect("reads back");
        let sorted = |p: &Plan| {
            let mut t = p.tasks.clone();
            t.sort_by(|a, b| (&a.key, a.level).cmp(&(&b.key, b.level)));
            t
        };
        assert_eq!(sorted(&again), sorted(&plan));
        assert_eq!(
            (&again.contacts, &again.resources, &again.shelters),
            (&plan.contacts, &plan.resources, &plan.shelters)
        );
    }

    #[test]
    fn problems_are_named_by_line_or_field() {
        let syntax = read_plan("t.toml", "code = \"x\"\nkind = typhoon\n").expect_err("syntax");
        assert!(
            matches!(syntax[0].location, Location::Line { line: 2, .. }),
            "{syntax:?}"
        );
        let unknown = read_plan(
            "t.toml",
            &TYPHOON.replace(
                "title = \"排查低洼路段排水\"",
                "title = \"x\"\ncolour = \"red\"",
            ),
        )
        .expect_err("unknown key");
        assert!(unknown[0].to_string().contains("colour"), "{unknown:?}");
        let bad = TYPHOON
            .replace("kind = \"typhoon\"", "kind = \"tornado\"")
            .replace("to = \"unit:SWJT\"", "to = \"department SWJT\"")
            .replace(
                "due = { III = 240, II = 120, I = 60 }",
                "due = { III = 240, V = 1, I = 0 }",
            )
            .replace("capacity = 300", "capacity = 0");
        let problems = read_plan("typhoon.toml", &bad).expect_err("bad");
        let fields: Vec<&str> = problems.iter().filter_map(|p| p.field.as_deref()).collect();
        assert_eq!(
            fields,
            [
                "kind",
                "task[1].due.V",
                "task[2].to",
                "shelter[0].capacity",
                "task[1].due_after"
            ],
            "{problems:#?}"
        );
        assert!(
            problems[0]
                .to_string()
                .starts_with("typhoon.toml: field `kind`")
        );
    }

    #[test]
    fn plans_as_csv_read_back_and_name_problems_by_line_and_column() {
        let plan = read_plan("typhoon.toml", TYPHOON).expect("reads");
        let text = write_plans_csv(std::slice::from_ref(&plan)).expect("csv");
        let again = read_plans_csv("plans.csv", &text).expect("reads back");
        assert_eq!(again.len(), 1);
        let sorted = |p: &Plan| {
            let mut t = p.tasks.clone();
            t.sort_by(|a, b| (&a.key, a.level).cmp(&(&b.key, b.level)));
            t
        };
        assert_eq!(sorted(&again[0]), sorted(&plan));
        assert_eq!(
            (&again[0].contacts, &again[0].resources, &again[0].shelters),
            (&plan.contacts, &plan.resources, &plan.shelters)
        );
        // Line 3 (the second task) gets a bad addressee, line 6 a shelter without capacity.
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[2] = lines[2].replace("grid_workers", "everyone");
        let shelter = lines
            .iter()
            .position(|l| l.contains(",shelter,"))
            .expect("shelter row");
        lines[shelter] = lines[shelter].replace(",300,", ",0,");
        let problems = read_plans_csv("plans.csv", &lines.join("\n")).expect_err("bad");
        let at: Vec<(String, Option<String>)> = problems
            .iter()
            .map(|p| (format!("{:?}", p.location), p.field.clone()))
            .collect();
        assert_eq!(at.len(), 2, "{problems:#?}");
        assert!(matches!(
            problems[0].location,
            Location::Line { line: 3, .. }
        ));
        assert_eq!(problems[0].field.as_deref(), Some("to"));
        assert!(
            matches!(problems[1].location, Location::Line { line, .. } if line == shelter as u64 + 1)
        );
        assert_eq!(problems[1].field.as_deref(), Some("capacity"));
        assert!(read_plans_csv("x.csv", "a,b\n1,2\n").is_err());
    }
}
