//! Tables as files at the command line: bad rows named by file, line and field; the catalogue,
//! calendar and list round-trip through their files; the same commands on PostgreSQL.

#![allow(unused_imports)]
use super::{Env, PgSchema, collection, everything, feature, path, square};
use civicgrid::cli::{Cli, run};
use civicgrid::error::AppError;
use clap::Parser;
use std::path::{Path, PathBuf};

#[tokio::test]
async fn bad_csv_rows_name_the_file_line_and_field() {
    let env = Env::new();
    env.with_regions().await;
    let before = env.snapshot().await;
    let cases = [
        (
            "regions",
            "regions2.csv",
            "code,name\n440305002,桃源街道\n44030500X,坏\n",
            "regions2.csv: line 3: field `code`: `44030500X`",
        ),
        (
            "regions",
            "orphan.csv",
            "code,name\n440399001,孤儿街道\n",
            "orphan.csv: line 2: field `code`: parent region 440399 does not exist",
        ),
        (
            "units",
            "units.csv",
            "code,name,kind,region\nCGJ,城管局,department,440305\nXX,某单位,ministry,440305\n",
            "units.csv: line 3: field `kind`: unknown unit kind `ministry`",
        ),
        (
            "units",
            "units2.csv",
            "code,name,kind,region\nCGJ,城管局,department,440306\n",
            "units2.csv: line 2: field `region`: region 440306 does not exist",
        ),
        (
            "units",
            "header.csv",
            "code,name\nCGJ,城管局\n",
            "header.csv: line 1: missing column(s): kind, region",
        ),
        (
            "units",
            "ragged.csv",
            "code,name,kind,region\nCGJ,城管局,department\n",
            "ragged.csv: line 2: malformed row",
        ),
        (
            "responsibility",
            "rules.csv",
            "line,category,region,condition,basis,primary,co_handlers,note\n1,01,440305,,sideways,CGJ,,\n",
            "rules.csv: line 2: field `basis`: unknown basis `sideways`",
        ),
        (
            "responsibility",
            "rules2.csv",
            "line,category,region,condition,basis,primary,co_handlers,note\n1,01,440305,,owner,NOBODY,,\n",
            "rules2.csv: line 2: field `category`: category 01 is not in the catalogue",
        ),
        (
            "catalogue",
            "cat.csv",
            "code,zh,en,kind,priority\n01,市政,Municipal,component,normal\n01001,井盖,Cover,component,normal\n",
            "cat.csv: line 3: field `urgent_accept`: is required",
        ),
        (
            "calendar",
            "cal.toml",
            "[[year]]\nyear = 2027\nholidays = [{ name = \"春节\", from = \"2027-02-30\", to = \"2027-02-10\" }]\n",
            "field `year 2027 holiday 1 (春节).from`",
        ),
        (
            "catalogue",
            "cat.toml",
            "[[category]]\ncode = \"01\"\nzh = \"x\"\nen = \"x\"\nkind = \"component\"\nbogus = 1\n",
            "cat.toml: line 6",
        ),
        (
            "catalogue",
            "cat2.toml",
            "[[category]]\ncode = \"01\"\nzh = \"x\"\nen = \"x\"\nkind = \"component\"\n\n[[category]]\ncode = \"01001\"\nzh = \"y\"\nen = \"y\"\ndeadlines = \"nope\"\n",
            "cat2.toml: line 8: field `category 01001: deadlines`: no profile named `nope`",
        ),
        ("units", "empty.csv", "", "empty.csv: the file is empty"),
    ];
    for (what, name, contents, expected) in cases {
        let f = env.file(name, contents);
        let message = env.err(&["import", what, path(&f)]).await;
        assert!(
            message.contains(expected),
            "{name}: expected `{expected}` in: {message}"
        );
        assert_eq!(env.snapshot().await, before, "{name} changed the database");
    }
}

#[tokio::test]
async fn catalogue_calendar_and_list_round_trip_through_their_files() {
    let env = Env::new();
    env.ok(&["demo"]).await;
    let toml = env.ok(&["export", "catalogue"]).await;
    let csv = env.ok(&["export", "catalogue", "--format", "csv"]).await;
    let calendar = env.ok(&["export", "calendar"]).await;
    let rules = env.ok(&["export", "responsibility"]).await;
    let units = env.ok(&["export", "units"]).await;
    let beats = env.ok(&["export", "beats"]).await;
    assert_eq!(beats.lines().count(), 19, "18 beats and a header: {beats}");
    assert!(csv.lines().count() > 60);
    for (what, name, text) in [
        ("catalogue", "c.toml", &toml),
        ("catalogue", "c.csv", &csv),
        ("calendar", "cal.toml", &calendar),
        ("units", "u.csv", &units),
        ("responsibility", "r.csv", &rules),
        ("beats", "b.csv", &beats),
    ] {
        let f = env.file(name, text);
        env.ok(&["import", what, path(&f)]).await;
    }
    assert_eq!(env.ok(&["export", "catalogue"]).await, toml);
    assert_eq!(
        env.ok(&["export", "catalogue", "--format", "csv"]).await,
        csv
    );
    assert_eq!(env.ok(&["export", "calendar"]).await, calendar);
    assert_eq!(env.ok(&["export", "responsibility"]).await, rules);
    assert_eq!(env.ok(&["export", "beats"]).await, beats);
    // Bad beats: a grid of another community, an unknown worker; nothing changes.
    let bad = env.file(
        "bad-beats.csv",
        "code,name,region,grids,workers\nX1,甲,440305001001,440305001002001,gw.st1c1.1\nX2,乙,440305001001,440305001001001,nobody\n",
    );
    let message = env.err(&["import", "beats", path(&bad)]).await;
    assert!(message.contains("bad-beats.csv: line 2: field `grids`: grid 440305001002001 lies in 440305001002, outside the beat's region 440305001001"), "{message}");
    assert!(
        message.contains("bad-beats.csv: line 3: field `workers`: no staff account `nobody`"),
        "{message}"
    );
    assert_eq!(env.ok(&["export", "beats"]).await, beats);
    // The stored calendar carries 2026's Spring Festival with its make-up Saturdays.
    let due = env
        .ok(&[
            "deadline",
            "--start",
            "2026-02-13T16:30:00+08:00",
            "--limit",
            "2h working_hours",
        ])
        .await;
    assert_eq!(due.trim(), "2026-02-14T09:30:00+08:00[Asia/Shanghai]");
    let due = env
        .ok(&[
            "deadline",
            "--start",
            "2026-02-14T17:00:00+08:00",
            "--limit",
            "1h working_hours",
        ])
        .await;
    assert_eq!(due.trim(), "2026-02-24T09:00:00+08:00[Asia/Shanghai]");
}

#[tokio::test]
async fn the_same_commands_run_on_postgresql() {
    let Some(pg) = crate::PgSchema::new("cli").await else {
        return;
    };
    let env = Env {
        dir: tempfile::tempdir().expect("dir"),
        db: pg.url.clone(),
    };
    env.ok(&["demo", "--seed", "3"]).await;
    assert!(
        env.ok(&["grids", "check"])
            .await
            .contains("0 overlap(s), 0 gap(s)")
    );
    let sqlite = Env::new();
    sqlite.ok(&["demo", "--seed", "3"]).await;
    assert_eq!(
        env.ok(&["export", "grids"]).await,
        sqlite.ok(&["export", "grids"]).await
    );
    assert_eq!(
        env.ok(&["export", "catalogue", "--format", "csv"]).await,
        sqlite.ok(&["export", "catalogue", "--format", "csv"]).await
    );
    let bad = env.file("bad.csv", "code,name\n440305009,x\n44030X,y\n");
    assert!(
        env.err(&["import", "regions", path(&bad)])
            .await
            .contains("bad.csv: line 3")
    );
    pg.drop_schema().await;
}
