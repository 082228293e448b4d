//! Finding things and reading the assessment: the public list and the staff queues filter,
//! sort and page; staff find a case by its receipt code; an unknown page is a page (the API
//! keeps problems), over-long input is not echoed, an unknown category says so; the assessment
//! page opens on the last complete month, lists the kind chosen, never puts one subject on both
//! lists, scores nobody on too few cases, shows the columns that apply, with formulas.

use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::cases::{Actor, Intake};
use civicgrid::clock::ManualClock;
use civicgrid_domain::case::Channel;
use serde_json::json;

use super::support::TestApp;

async fn session(t: &TestApp, username: &str) -> String {
    let s = t
        .post("/api/v1/session")
        .json(&json!({"username": username, "password": "civicgrid-demo"}))
        .send()
        .await
        .json();
    format!("cg_session={}", s["token"].as_str().expect("token"))
}

/// Rows of the first table body on a page.
fn rows(html: &str) -> usize {
    html.split("<tbody>")
        .nth(1)
        .and_then(|b| b.split("</tbody>").next())
        .map_or(0, |b| b.matches("<tr>").count())
}

#[tokio::test]
async fn unknown_pages_are_pages_and_input_is_not_echoed() {
    let t = TestApp::builder().demo(1).build().await;
    let page = t.get("/no/such/page").send().await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(page.text().contains("没有这个页面") && page.text().contains("<html lang=\"zh-CN\">"));
    let en = t
        .get("/no/such/page")
        .cookie("cg_lang=en")
        .send()
        .await
        .text();
    assert!(en.contains("There is no such page"));
    // The API keeps its problems, and so does a client that asks for JSON.
    t.get("/api/v1/no-such-thing")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    t.get("/no/such/page")
        .header("accept", "application/json")
        .send()
        .await
        .problem(StatusCode::NOT_FOUND);
    // Over-long input is not echoed back.
    let long = "X".repeat(600);
    let tracked = t.get(&format!("/track/{long}")).send().await;
    assert_eq!(tracked.status, StatusCode::NOT_FOUND);
    assert!(!tracked.text().contains(&"X".repeat(21)));
    let en_case = t
        .get(&format!("/cases/{long}"))
        .cookie("cg_lang=en")
        .send()
        .await;
    assert_eq!(en_case.status, StatusCode::NOT_FOUND);
    assert!(!en_case.text().contains(&"X".repeat(200)));
    // A category from an old link says so instead of showing an empty form.
    let unknown = t.get("/report?category=99999").send().await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.text().contains("没有这个问题类别"));
}

#[tokio::test]
async fn lists_filter_sort_and_page_and_staff_find_a_case_by_its_receipt() {
    let clock = Arc::new(ManualClock::new("2026-03-02T01:00:00Z".parse().expect("t")));
    let t = TestApp::builder()
        .demo(1)
        .clock(clock.clone())
        .build()
        .await;
    let start: jiff::Timestamp = "2026-03-02T01:00:00Z".parse().expect("t");
    let mut receipts = Vec::new();
    for i in 0..60 {
        clock.set(start + jiff::SignedDuration::from_mins(10 * i));
        let category = if i % 3 == 0 { "01006" } else { "01001" };
        let attributes = [("damage".to_owned(), "missing".to_owned())].into();
        let case = t
            .app
            .report_case(
                Intake {
                    grid: None,
                    media_url: None,
                    description: format!("第{i}件"),
                    location: Some((113.9171, 22.5168)),
                    address: None,
                    category: Some(category.parse().expect("category")),
                    attributes,
                    priority: None,
                    channel: Channel::Web,
                    reporter: None,
                },
                &Actor::Resident,
            )
            .await
            .expect("reported");
        receipts.push((case.receipt_code, case.public_id));
    }
    let first = t.get("/cases").send().await.text();
    assert_eq!(rows(&first), 50, "50 a page");
    assert!(
        first.contains("第 1 &#x2f; 2 页，共 60 条"),
        "{}",
        first.split("class=\"pager\"").nth(1).unwrap_or("no pager")
    );
    assert!(first.contains("rel=\"next\""));
    let second = t.get("/cases?page=2").send().await.text();
    assert_eq!(rows(&second), 10);
    // Newest first by default; oldest first when asked.
    let newest = first.find(&receipts[59].1).expect("newest listed");
    assert!(newest < first.find(&receipts[58].1).expect("next"));
    let oldest = t.get("/cases?sort=oldest").send().await.text();
    assert!(oldest.find(&receipts[0].1) < oldest.find(&receipts[1].1));
    // Filters: category, and an unknown status or period is named, not ignored.
    let pipes = t.get("/cases?category=01006").send().await.text();
    assert_eq!(rows(&pipes), 20);
    let bad = t.get("/cases?period=yesterday").send().await.text();
    assert!(bad.contains("id=\"f-period-error\""));
    // Staff queues page and filter the same way.
    let taker = session(&t, "calltaker1").await;
    let queue = t
        .get("/work?queue=accept&category=01001&sort=oldest")
        .cookie(&taker)
        .send()
        .await
        .text();
    assert!(
        queue.contains("共 40 件") || rows(&queue) == 40,
        "40 to accept of that kind"
    );
    // A receipt code read out on the phone goes straight to the case; an unknown one says so.
    let (code, _) = &receipts[7];
    let found = t
        .get(&format!(
            "/work?code={}",
            code.to_lowercase().replace('-', "")
        ))
        .cookie(&taker)
        .send()
        .await;
    assert_eq!(found.status, StatusCode::SEE_OTHER);
    assert!(
        found
            .location()
            .is_some_and(|l| l.starts_with("/work/case/"))
    );
    let none = t
        .get("/work?code=ZZZZ-ZZZZ")
        .cookie(&taker)
        .send()
        .await
        .text();
    assert!(none.contains("id=\"search-none\""));
    // /admin in sections, the longer tables a page at a time.
    let admin = session(&t, "admin").await;
    let users = t
        .get("/admin?section=users")
        .cookie(&admin)
        .send()
        .await
        .text();
    assert!(users.contains("aria-current=\"page\"") && !users.contains("id=\"grids\""));
    assert_eq!(
        t.get("/admin?section=nothing")
            .cookie(&admin)
            .send()
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_assessment_page_does_not_contradict_itself() {
    let t = TestApp::builder()
        .demo(5)
        .at("2026-11-25T04:00:00Z")
        .build()
        .await;
    t.app
        .load_demo_cases(5, &super::support::case_texts(), 2, 120)
        .await
        .expect("cases");
    t.app.refresh_kpis().await.expect("rollups");
    let leader = session(&t, "leader.st1").await;
    let page = t.get("/kpi").cookie(&leader).send().await.text();
    // The last complete month, not the one still running.
    assert!(page.contains("value=\"2026-10\""), "opens on October");
    let lists = |html: &str| -> (Vec<String>, Vec<String>) {
        let list = |title: &str| {
            html.split(title)
                .nth(1)
                .and_then(|s| s.split("</section>").next())
                .map(|s| {
                    s.split("<li>")
                        .skip(1)
                        .filter_map(|li| li.split("</li>").next())
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        (list(">红榜"), list(">黑榜"))
    };
    for kind in ["unit", "region", "grid"] {
        let html = t
            .get(&format!("/kpi?kind={kind}&period=2026-10"))
            .cookie(&leader)
            .send()
            .await
            .text();
        let (red, black) = lists(&html);
        assert!(
            red.iter().all(|r| !black.contains(r)),
            "{kind}: {red:?} {black:?}"
        );
        if kind == "region" {
            assert!(
                red.iter().chain(&black).all(|n| n.ends_with("社区")),
                "communities on the lists: {red:?} {black:?}"
            );
        }
        // The columns that apply: no 上报数 for units, 上报数 for places; each with its formula.
        let head = html
            .split("id=\"kpi-table\"")
            .nth(1)
            .and_then(|t| t.split("</thead>").next())
            .expect("the table's head")
            .to_owned();
        assert_eq!(head.contains(">上报数<"), kind != "unit", "{kind}");
        assert!(head.contains("title=\"满意率 =（满意 + 基本满意）÷ 已评价案件数\""));
    }
    // Too few cases: no score, no grade, on no list (a scheme of 1000 cases scores nobody).
    t.app
        .import_assessment(
            "scheme.toml",
            "min_cases = 1000\n[bands]\nA = 90.0\nB = 75.0\nC = 60.0\nD = 40.0\n[weights.unit]\nresolution_rate = 1.0\n",
            "admin",
        )
        .await
        .expect("scheme");
    let html = t
        .get("/kpi?kind=unit&period=2026-10")
        .cookie(&leader)
        .send()
        .await
        .text();
    let (red, black) = lists(&html);
    assert!(red.is_empty() && black.is_empty(), "{red:?} {black:?}");
    assert!(html.contains("本期办件少于 1000 件的对象不评分"));
    // The indicators explained on a page of their own, in Chinese.
    let explained = t.get("/kpi/indicators").send().await.text();
    assert!(explained.contains("满意率") && explained.contains("适用对象"));
}
