//! Chinese pages speak Chinese: every page, rendered in zh-CN for the public and for every
//! demo role, shows no internal name (snake_case identifiers, permission names, clock types,
//! English routing sentences) and no untranslated message id, and shows places and units by
//! name rather than by their 12- and 15-digit codes.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use civicgrid::cases::Actor;
use civicgrid_domain::case::Action;
use serde_json::json;

use super::support::{TestApp, staff};

/// Words that only the code and its files use: a reader of a Chinese page must never meet them.
const DENIED: &[&str] = &[
    "working_days",
    "working_hours",
    "calendar_days",
    "natural_days",
    "working",
    "rule",
    "rules",
    "routing",
    "routed",
    "fallback",
    "locality",
    "owner",
    "basis",
    "region",
    "grid",
    "unit",
    "units",
    "staff",
    "resident",
    "system",
    "hotline",
    "patrol",
    "import",
    "web",
    "status",
    "category",
    "null",
    "none",
    "some",
    "true",
    "false",
    "undefined",
    "the",
    "and",
    "of",
    "is",
    "to",
    "reported",
    "accepted",
    "dispatched",
    "closed",
    "damage",
    "missing",
];

/// The text a reader sees (and hears from a screen reader): element text and the aria-label,
/// placeholder and alt attributes, without scripts and styles, and without what is meant to be
/// literal (`<code>`, and a code kept on a line of its own as `<span class="code">`). Tooltips
/// (`title`) come second: codes may stay there, words may not.
fn visible_text(html: &str) -> (String, String) {
    let mut out = String::new();
    let mut tooltips = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let after = &rest[open..];
        let close = after.find('>').map_or(after.len(), |i| i + 1);
        let tag = &after[..close];
        for attr in [" title=\"", "aria-label=\"", "placeholder=\"", "alt=\""] {
            let mut t = tag;
            while let Some(i) = t.find(attr) {
                let v = &t[i + attr.len()..];
                let end = v.find('"').unwrap_or(v.len());
                let into = if attr == " title=\"" {
                    &mut tooltips
                } else {
                    &mut out
                };
                into.push(' ');
                into.push_str(&v[..end]);
                into.push(' ');
                t = &v[end..];
            }
        }
        let lower = tag.to_ascii_lowercase();
        rest = &after[close..];
        for (skipped, end) in [
            ("<script", "</script>"),
            ("<style", "</style>"),
            ("<code", "</code>"),
            ("<span class=\"code\"", "</span>"),
        ] {
            if lower.starts_with(skipped) {
                rest = rest.find(end).map_or("", |i| &rest[i + end.len()..]);
            }
        }
    }
    out.push_str(rest);
    let unescape = |s: String| {
        s.replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
    };
    (unescape(out), unescape(tooltips))
}

/// What on a page betrays an untranslated or internal text, each with why.
fn problems((text, tooltips): &(String, String)) -> Vec<String> {
    let mut found = words(text, true);
    found.extend(words(tooltips, false));
    found.sort();
    found.dedup();
    found
}

fn words(text: &str, codes_denied: bool) -> Vec<String> {
    let mut found = BTreeSet::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        let word = word.trim_matches(|c: char| c == '.' || c == '-');
        if word.is_empty() {
            continue;
        }
        let lower = word.to_ascii_lowercase();
        let letters = word.chars().any(|c| c.is_ascii_alphabetic());
        if DENIED.contains(&lower.as_str()) {
            found.insert(format!("internal word `{word}`"));
        } else if letters && word.contains('_') {
            found.insert(format!("identifier `{word}`"));
        } else if letters
            && word.contains('-')
            && word
                .split('-')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        {
            found.insert(format!("message id `{word}`"));
        } else if letters
            && word.contains('.')
            && !word.contains("..")
            && word
                .split('.')
                .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
            && !word.ends_with("md")
        {
            found.insert(format!("permission or key `{word}`"));
        } else if codes_denied && word.len() >= 12 && word.chars().all(|c| c.is_ascii_digit()) {
            found.insert(format!("code `{word}` where a name belongs"));
        }
    }
    found.into_iter().collect()
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    let page = r#"<h1>派遣</h1><p title="rule 3">3d working_days · case.read · kpi-red-list</p>
        <td>440305001001001</td><script>var routing_rule = 1;</script><p>Open311 · 2026-03</p>"#;
    let found = problems(&visible_text(page));
    assert_eq!(found.len(), 5, "{found:?}");
    // Codes may stay in a tooltip or a code element; words may not.
    assert!(
        problems(&visible_text(
            r#"<td title="440305001001001">南联社区第3网格</td><code>civicgrid import units</code>"#
        ))
        .is_empty()
    );
    assert_eq!(
        problems(&visible_text(r#"<td title="working_days">工作日</td>"#)).len(),
        1
    );
    assert!(
        problems(&visible_text(
            "<p>受理编号 K7QH-3MXR · Open311 · CSV · 2026-Q4</p>"
        ))
        .is_empty()
    );
}

#[tokio::test]
async fn every_page_in_chinese_shows_no_internal_names_and_no_message_ids() {
    let t = TestApp::builder().demo(1).sealed().build().await;
    let app = &t.app;
    // Cases at several points of the loop, so that the workbench, the case pages, the
    // timelines and the routing explanations have something to show.
    let created = t
        .post("/api/v1/cases")
        .json(&json!({"description": "安乐社区路口井盖丢失", "lon": 113.9171, "lat": 22.5168, "category": "01001", "attributes": {"damage": "missing"}, "reporter": {"phone": "13800000000"}}))
        .send()
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id: uuid::Uuid = created.json()["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let calltaker = staff(app, "calltaker1").await;
    let dispatcher = staff(app, "dispatcher.st1").await;
    let steps: Vec<(&Actor, Action)> = vec![
        (&calltaker, Action::Accept),
        (&calltaker, Action::Register),
        (
            &dispatcher,
            Action::Dispatch {
                units: vec!["SWJT".into()],
            },
        ),
    ];
    for (actor, action) in steps {
        let case = app.get_case(&id).await.expect("case");
        app.act_on_case(&id, case.state.version, action, actor)
            .await
            .expect("step");
    }
    let case = app.get_case(&id).await.expect("case");
    // An address-only report, without a grid.
    let placeless = t
        .post("/api/v1/cases")
        .json(&json!({"description": "南头街道某小区门口垃圾堆放", "address": "南头街道某小区", "category": "01001", "attributes": {"damage": "missing"}}))
        .send()
        .await;
    assert_eq!(
        placeless.status,
        StatusCode::CREATED,
        "{}",
        placeless.text()
    );

    let mut report = Vec::new();
    let mut pages = 0;
    for who in [
        None,
        Some("admin"),
        Some("calltaker1"),
        Some("dispatcher.st1"),
        Some("handler.swjt"),
        Some("gw.st1c1.1"),
        Some("leader.st1"),
    ] {
        let cookie = match who {
            None => "cg_lang=zh-CN".to_owned(),
            Some(username) => {
                let session = t
                    .post("/api/v1/session")
                    .json(&json!({"username": username, "password": "civicgrid-demo"}))
                    .send()
                    .await
                    .json();
                let token = session["token"].as_str().expect("token");
                format!("cg_lang=zh-CN; cg_session={token}")
            }
        };
        for path in civicgrid::web::pages().paths() {
            if path.starts_with("/static") || path.contains("{file}") || path.contains("{sha") {
                continue;
            }
            let uri = path
                .replace("{id}", &case.id.to_string())
                .replace("{public_id}", &case.public_id)
                .replace("{code}", &case.receipt_code)
                .replace("{kind}", "responsibility");
            let a = t.get(&uri).cookie(&cookie).send().await;
            let html = a.text();
            if !a
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html"))
            {
                continue;
            }
            pages += 1;
            for p in problems(&visible_text(&html)) {
                report.push(format!("{} {uri}: {p}", who.unwrap_or("public")));
            }
        }
    }
    assert!(pages >= 60, "{pages} pages rendered");
    report.sort();
    report.dedup();
    assert!(
        report.is_empty(),
        "{} problems:\n{}",
        report.len(),
        report.join("\n")
    );
}
