//! Hotline import (12345) on SQLite and PostgreSQL, through the example mapping shipped in
//! docs/: an XLSX export with a bad row is refused whole, each problem named by row and
//! column; the corrected file becomes cases (reported, accepted, skipped by status), the
//! caller's phone sealed; importing it again adds nothing; a CSV export of the same hotline
//! adds only its new ticket; the command line prints what it did.

use civicgrid::cases::Actor;
use civicgrid::error::{AppError, Location};
use civicgrid::hotline::mapping::Mapping;
use civicgrid_domain::case::{Channel, Status};
use civicgrid_store::CaseFilter;

use crate::support::{Backend, TestApp, every_row, run_cli};

const MAPPING: &str = include_str!("../../../../docs/hotline-mapping.example.toml");

const HEADINGS: [&str; 10] = [
    "工单编号",
    "来电时间",
    "工单标题",
    "诉求内容",
    "问题分类",
    "事发地址",
    "所属网格",
    "来电人",
    "来电号码",
    "工单状态",
];

fn workbook(rows: &[[&str; 10]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("工单明细").expect("name");
    for (c, h) in HEADINGS.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).expect("heading");
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 1, c as u16);
            // Tickets as numbers, as the hotline's system writes them.
            match cell.parse::<f64>() {
                Ok(n) if c == 0 => sheet.write_number(r, c, n).map(|_| ()),
                _ if cell.is_empty() => Ok(()),
                _ => sheet.write_string(r, c, *cell).map(|_| ()),
            }
            .expect("cell");
        }
    }
    book.save_to_buffer().expect("workbook")
}

fn all_cases() -> CaseFilter {
    CaseFilter {
        limit: 1000,
        ..Default::default()
    }
}

async fn hotline_import(backend: Backend) {
    let Some(t) = TestApp::builder()
        .on(backend)
        .demo(1)
        .sealed()
        .try_build()
        .await
    else {
        return;
    };
    let app = &t.app;
    let mapping = Mapping::parse("docs/hotline-mapping.example.toml", MAPPING).expect("example");
    let mut grids: Vec<String> = app
        .reference()
        .await
        .expect("reference")
        .grid_regions
        .keys()
        .map(|g| g.to_string())
        .collect();
    grids.sort();
    let (g1, g2) = (grids[0].as_str(), grids[1].as_str());
    let good: [[&str; 10]; 3] = [
        [
            "2026120700101",
            "2026-12-07 08:12:00",
            "井盖丢失",
            "小区门口的井盖不见了，很危险",
            "市政设施-井盖",
            "桃源路12号",
            g1,
            "王女士",
            "13800138000",
            "待签收",
        ],
        [
            "2026120700102",
            "2026/12/07 09:40",
            "",
            "路灯晚上不亮已经三天",
            "市政设施-路灯",
            "",
            g2,
            "",
            "",
            "已签收",
        ],
        [
            "2026120700103",
            "2026-12-06 15:00:00",
            "咨询",
            "已电话答复",
            "",
            "",
            g1,
            "",
            "",
            "已办结",
        ],
    ];
    let cases_before = app.list_cases(&all_cases()).await.expect("list").len();

    // A file with problems: refused whole, each named by row and column.
    let mut bad = good.to_vec();
    bad[0][9] = "处理中啦"; // an unmapped status
    bad[1][4] = "园林绿化"; // an unmapped category
    bad.push([
        "2026120700102",
        "昨天",
        "",
        "重复的工单",
        "",
        "",
        g1,
        "",
        "",
        "待签收",
    ]);
    bad.push([
        "2026120700104",
        "明天上午",
        "",
        "时间写错了",
        "",
        "",
        g1,
        "",
        "138",
        "待签收",
    ]);
    let refused = app
        .import_hotline("export.xlsx", &workbook(&bad), &mapping, &Actor::System)
        .await
        .expect_err("refused");
    let AppError::Input(problems) = refused else {
        panic!("input problems expected, got {refused:?}");
    };
    // The duplicate ticket is found first, and alone stops the import.
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(
        problems[0].location,
        Location::Row {
            row: 5,
            column: Some("A (工单编号)".into()),
        }
    );
    assert!(
        problems[0].message.contains("also on row 3"),
        "{problems:?}"
    );
    bad.remove(3);
    let AppError::Input(problems) = app
        .import_hotline("export.xlsx", &workbook(&bad), &mapping, &Actor::System)
        .await
        .expect_err("refused")
    else {
        panic!("input problems expected");
    };
    let at: Vec<(u64, String)> = problems
        .iter()
        .map(|p| match &p.location {
            Location::Row {
                row,
                column: Some(c),
            } => (*row, c.clone()),
            other => panic!("a row expected: {other:?}"),
        })
        .collect();
    assert_eq!(
        at,
        [
            (2, "J (工单状态)".to_owned()),
            (3, "E (问题分类)".to_owned()),
            (5, "B (来电时间)".to_owned()),
            (5, "I (来电号码)".to_owned()),
        ],
        "{problems:#?}"
    );
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text[0].contains("处理中啦") && text[0].contains("export.xlsx: sheet 工单明细: row 2"),
        "{text:?}"
    );
    assert!(text[1].contains("园林绿化"), "{text:?}");
    assert!(text[2].contains("明天上午"), "{text:?}");
    assert!(text[3].contains("138"), "{text:?}");
    assert_eq!(
        app.list_cases(&all_cases()).await.expect("list").len(),
        cases_before,
        "nothing is stored"
    );

    // The good file: two cases, one accepted, one skipped by its status.
    let export = workbook(&good);
    let report = app
        .import_hotline("export.xlsx", &export, &mapping, &Actor::System)
        .await
        .expect("imported");
    assert_eq!(
        (
            report.added,
            report.accepted,
            report.already,
            report.skipped
        ),
        (2, 1, 0, 1),
        "{report:?}"
    );
    let cases = app.list_cases(&all_cases()).await.expect("list");
    assert_eq!(cases.len(), cases_before + 2);
    let mut imported: Vec<_> = cases
        .iter()
        .filter(|c| {
            c.channel == Channel::Hotline && c.description.contains("井盖不见了")
                || c.description == "路灯晚上不亮已经三天"
        })
        .cloned()
        .collect();
    imported.sort_by_key(|c| c.description.chars().count());
    assert_eq!(imported.len(), 2, "{imported:?}");
    let (lamp, manhole) = (&imported[0], &imported[1]);
    assert_eq!(
        manhole.description,
        "井盖丢失：小区门口的井盖不见了，很危险"
    );
    assert_eq!(manhole.address.as_deref(), Some("桃源路12号"));
    assert_eq!(manhole.grid.as_ref().map(|g| g.as_str()), Some(g1));
    assert_eq!(manhole.category.as_ref().map(|c| c.as_str()), Some("01001"));
    assert_eq!(
        manhole.attributes.get("damage").map(String::as_str),
        Some("missing")
    );
    assert_eq!(manhole.state.status, Status::Reported);
    assert!(!manhole.routed_units.is_empty(), "routed like any report");
    assert_eq!(lamp.state.status, Status::Accepted);
    let events = app.case_timeline(&lamp.id).await.expect("events");
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["report", "accept"]);
    let hotline = &events[0].payload["hotline"];
    assert_eq!(hotline["ticket"], "2026120700102");
    assert_eq!(hotline["source"], "12345");
    assert_eq!(hotline["received_at"], "2026-12-07T09:40:00");
    assert_eq!(hotline["row"], 3);
    let contact = app
        .reporter_contact(manhole, &Actor::System)
        .await
        .expect("contact")
        .expect("a caller");
    assert_eq!(contact.phone.as_deref(), Some("13800138000"));
    let rows = every_row(&t).await;
    assert!(
        !rows
            .iter()
            .any(|(_, r)| r.contains("13800138000") || r.contains("王女士")),
        "the caller is sealed"
    );

    // Again: nothing new.
    let again = app
        .import_hotline("export.xlsx", &export, &mapping, &Actor::System)
        .await
        .expect("again");
    assert_eq!((again.added, again.already, again.skipped), (0, 2, 1));

    // A CSV export of the same hotline with one new ticket.
    let mut csv = HEADINGS.join(",");
    for row in good.iter().chain(
        [[
            "2026120700105",
            "2026-12-07 10:05:00",
            "",
            "路面坑洼，电动车容易摔倒",
            "道路-路面破损",
            "",
            g2,
            "",
            "",
            "待签收",
        ]]
        .iter(),
    ) {
        csv.push('\n');
        csv.push_str(&row.join(","));
    }
    let from_csv = app
        .import_hotline("export.csv", csv.as_bytes(), &mapping, &Actor::System)
        .await
        .expect("csv");
    assert_eq!(
        (from_csv.added, from_csv.already, from_csv.skipped),
        (1, 2, 1)
    );

    // The command line, with the mapping as a file: a summary, or the problems by row.
    let dir = tempfile::tempdir().expect("dir");
    let mapping_file = dir.path().join("mapping.toml");
    std::fs::write(&mapping_file, MAPPING).expect("mapping");
    let export_file = dir.path().join("export.xlsx");
    std::fs::write(&export_file, &export).expect("export");
    let (code, out) = run_cli(
        &t.url,
        &[
            "import",
            "hotline",
            crate::support::path(&export_file),
            "--mapping",
            crate::support::path(&mapping_file),
        ],
        "",
    )
    .await
    .expect("runs");
    assert_eq!(code, 0);
    let out = String::from_utf8(out).expect("utf-8");
    assert!(
        out.contains(
            "hotline 12345: 0 new cases (0 accepted), 2 imported before, 1 skipped by status"
        ),
        "{out}"
    );
    std::fs::write(&mapping_file, MAPPING.replace("\"accepted\"", "\"closed\"")).expect("bad");
    let refused = run_cli(
        &t.url,
        &[
            "import",
            "hotline",
            crate::support::path(&export_file),
            "--mapping",
            crate::support::path(&mapping_file),
        ],
        "",
    )
    .await
    .expect_err("bad mapping")
    .to_string();
    assert!(
        refused.contains("mapping.toml") && refused.contains("statuses.已签收"),
        "{refused}"
    );
    t.finish().await;
}

#[tokio::test]
async fn hotline_exports_become_cases_once_on_sqlite() {
    hotline_import(Backend::Sqlite).await;
}

#[tokio::test]
async fn hotline_exports_become_cases_once_on_postgresql() {
    hotline_import(Backend::Postgres).await;
}
