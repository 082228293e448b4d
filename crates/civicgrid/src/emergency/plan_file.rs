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
}
