//! The civicgrid command line, run in-process against a fresh SQLite database per test (and
//! PostgreSQL where the backend matters), with real files.

use std::path::{Path, PathBuf};

use civicgrid::cli::{Cli, run};
use civicgrid::error::AppError;
use clap::Parser;

/// A PostgreSQL schema of one test's own (`t_PREFIX_xxxxxxxx`) at `CIVICGRID_TEST_POSTGRES`:
/// its repository and a database URL that names it. None only where PostgreSQL may be skipped
/// (`CIVICGRID_SKIP_POSTGRES=1`, never with `CI=true`); otherwise unreachable is a failure.
struct PgSchema {
    repo: std::sync::Arc<civicgrid_store::postgres::PgRepository>,
    url: String,
    name: String,
}

impl PgSchema {
    async fn new(prefix: &str) -> Option<PgSchema> {
        let base = std::env::var("CIVICGRID_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let id = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("t_{prefix}_{}", &id[id.len() - 8..]);
        match civicgrid_store::postgres::PgRepository::connect_in_schema(&base, &name).await {
            Ok(repo) => {
                let sep = if base.contains('?') { '&' } else { '?' };
                Some(PgSchema {
                    repo: std::sync::Arc::new(repo),
                    url: format!("{base}{sep}options=-c%20search_path%3D{name}"),
                    name,
                })
            }
            Err(e) => {
                let may_skip = std::env::var("CIVICGRID_SKIP_POSTGRES").is_ok_and(|v| v == "1")
                    && !std::env::var("CI").is_ok_and(|v| v == "true");
                assert!(may_skip, "PostgreSQL at {base} is unreachable: {e}");
                eprintln!("SKIPPING a PostgreSQL test ({prefix}): {e}");
                None
            }
        }
    }

    async fn drop_schema(&self) {
        self.repo
            .drop_schema(&self.name)
            .await
            .expect("drop schema");
    }
}

struct Env {
    dir: tempfile::TempDir,
    db: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = format!("sqlite:{}", dir.path().join("t.db").display());
        Env { dir, db }
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).expect("write");
        p
    }

    async fn run_with_input(&self, args: &[&str], input: &str) -> Result<(i32, String), AppError> {
        let mut argv = vec!["civicgrid", "--database", self.db.as_str()];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).expect("arguments parse");
        let mut out = Vec::new();
        let code = run(cli, &mut input.as_bytes(), &mut out).await?;
        Ok((code, String::from_utf8(out).expect("utf-8")))
    }

    async fn run(&self, args: &[&str]) -> Result<String, AppError> {
        let (code, out) = self.run_with_input(args, "").await?;
        assert_eq!(code, 0, "{args:?} exited {code}: {out}");
        Ok(out)
    }

    async fn ok(&self, args: &[&str]) -> String {
        match self.run(args).await {
            Ok(out) => out,
            Err(e) => panic!("{args:?} failed: {e}"),
        }
    }

    async fn err(&self, args: &[&str]) -> String {
        match self.run_with_input(args, "").await {
            Ok((code, out)) => panic!("{args:?} should fail but exited {code}: {out}"),
            Err(e) => e.to_string(),
        }
    }

    /// Everything stored, to prove a failed command changed nothing.
    async fn snapshot(&self) -> String {
        let mut s = String::new();
        for what in ["grids", "regions", "units", "responsibility"] {
            s.push_str(&self.ok(&["export", what]).await);
        }
        s.push_str(&self.ok(&["export", "catalogue", "--format", "csv"]).await);
        s.push_str(&self.ok(&["user", "list"]).await);
        s
    }

    async fn with_regions(&self) -> &Self {
        let regions = self.file(
            "regions.csv",
            "code,name\n440305,南山区\n440305001,南头街道\n440305001001,安乐社区\n440305001002,同乐社区\n",
        );
        self.ok(&["import", "regions", path(&regions)]).await;
        self
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn square(x: f64, y: f64, d: f64) -> String {
    format!(
        "[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]",
        x + d,
        x + d,
        y + d,
        y + d
    )
}

fn feature(props: &str, geometry_type: &str, coordinates: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{{props}}},"geometry":{{"type":"{geometry_type}","coordinates":{coordinates}}}}}"#
    )
}

fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

#[tokio::test]
async fn grids_import_with_repairs_and_reimport_updates_in_place() {
    let env = Env::new();
    env.with_regions().await;
    // A bow tie (self-intersecting), a ring with repeated points left open, and a multipolygon
    // with a degenerate component.
    let bow_tie = "[[[113.90,22.50],[113.91,22.51],[113.91,22.50],[113.90,22.51],[113.90,22.50]]]";
    let open_repeated =
        "[[[113.92,22.50],[113.92,22.50],[113.93,22.50],[113.93,22.51],[113.92,22.51]]]";
    let multi = format!(
        "[{},[[[113.95,22.50],[113.96,22.51],[113.95,22.50]]]]",
        square(113.94, 22.50, 0.01)
    );
    let file = env.file(
        "grids.geojson",
        &collection(&[
            feature(
                r#""code":"440305001001001","name":"一网格""#,
                "Polygon",
                bow_tie,
            ),
            feature(r#""name":"二网格""#, "Polygon", open_repeated),
            feature(r#""name":"三网格""#, "MultiPolygon", &multi),
        ]),
    );
    let out = env
        .ok(&["import", "grids", path(&file), "--parent", "440305001001"])
        .await;
    assert!(
        out.contains("repaired feature 0 (440305001001001): repaired invalid geometry"),
        "{out}"
    );
    assert!(out.contains("removed 1 repeated point(s)"), "{out}");
    assert!(out.contains("closed open ring"), "{out}");
    assert!(out.contains("dropped polygon 1"), "{out}");
    assert!(out.contains("3 created, 0 updated"), "{out}");

    let exported = env.ok(&["export", "grids"]).await;
    let json: serde_json::Value = serde_json::from_str(&exported).expect("GeoJSON");
    let codes: Vec<&str> = json["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| f["properties"]["code"].as_str().expect("code"))
        .collect();
    // Features without a code are numbered 6+3+3+3 after the highest existing sequence.
    assert_eq!(
        codes,
        ["440305001001001", "440305001001002", "440305001001003"]
    );

    // The same file again updates the same grids in place, matched by code or by name.
    let again = env
        .ok(&["import", "grids", path(&file), "--parent", "440305001001"])
        .await;
    assert!(again.contains("0 created, 3 updated"), "{again}");
    assert_eq!(env.ok(&["export", "grids"]).await, exported);

    // The exported file imports back unchanged (round trip).
    let back = env.file("back.geojson", &exported);
    let out = env.ok(&["import", "grids", path(&back)]).await;
    assert!(out.contains("0 created, 3 updated"), "{out}");
    assert!(
        !out.contains("repaired"),
        "exported geometry is already valid: {out}"
    );
    assert_eq!(env.ok(&["export", "grids"]).await, exported);
}

#[tokio::test]
async fn bad_grid_files_are_refused_naming_the_problem_and_change_nothing() {
    let env = Env::new();
    env.with_regions().await;
    let good = env.file(
        "good.geojson",
        &collection(&[feature(
            r#""code":"440305001001001""#,
            "Polygon",
            &square(113.9, 22.5, 0.01),
        )]),
    );
    env.ok(&["import", "grids", path(&good)]).await;
    let before = env.snapshot().await;

    let cases: Vec<(&str, String, Vec<&str>, &str)> = vec![
        ("malformed.geojson", "{\"type\": \"FeatureCollection\", \"features\": [\n  {oops}\n]}".into(), vec![], "line 2"),
        ("not-a-collection.geojson", r#"{"type":"Feature"}"#.into(), vec![], "field `type`"),
        (
            "unknown-parent.geojson",
            collection(&[feature(r#""name":"x""#, "Polygon", &square(113.9, 22.5, 0.01))]),
            vec!["--parent", "440305009009"],
            "parent region 440305009009 does not exist",
        ),
        (
            "unknown-region-in-code.geojson",
            collection(&[feature(r#""code":"440305009009001""#, "Polygon", &square(113.9, 22.5, 0.01))]),
            vec![],
            "feature 0 (code 440305009009001): field `code`: region 440305009009 does not exist",
        ),
        (
            "duplicates.geojson",
            collection(&[
                feature(r#""code":"440305001001007""#, "Polygon", &square(113.9, 22.5, 0.01)),
                feature(r#""code":"440305001001007""#, "Polygon", &square(113.91, 22.5, 0.01)),
            ]),
            vec![],
            "feature 1 (code 440305001001007): field `code`: code 440305001001007 is also used by feature 0",
        ),
        (
            "projected.geojson",
            collection(&[feature(r#""code":"440305001001008""#, "Polygon", &square(440123.5, 2493012.0, 100.0))]),
            vec![],
            "feature 0 (code 440305001001008): field `geometry`: rejected: coordinate (440123.5, 2493012) is not WGS84",
        ),
        (
            "wrong-crs.geojson",
            r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3857"}},"features":[]}"#.into(),
            vec![],
            "field `crs`: coordinate reference system `urn:ogc:def:crs:EPSG::3857` is not WGS84",
        ),
        ("empty.geojson", "   \n".into(), vec![], "empty.geojson: the file is empty"),
        (
            "code-and-parent-disagree.geojson",
            collection(&[feature(r#""code":"440305001002001""#, "Polygon", &square(113.9, 22.5, 0.01))]),
            vec!["--parent", "440305001001"],
            "the 6+3+3+3 code names community 440305001002, but --parent is 440305001001",
        ),
        (
            "no-features.geojson",
            collection(&[]),
            vec![],
            "the collection has no features",
        ),
        (
            "point.geojson",
            collection(&[feature(r#""code":"440305001001009""#, "Point", "[113.9,22.5]")]),
            vec![],
            "field `geometry.type`: `Point` is not a Polygon or MultiPolygon",
        ),
        (
            "degenerate.geojson",
            collection(&[feature(r#""code":"440305001001010""#, "Polygon", "[[[113.9,22.5],[113.91,22.51],[113.9,22.5]]]")]),
            vec![],
            "rejected: no polygon has a usable exterior ring",
        ),
        (
            // One good feature and one bad: all or nothing, so the good one is not imported.
            "mixed.geojson",
            collection(&[
                feature(r#""code":"440305001001011""#, "Polygon", &square(113.93, 22.5, 0.01)),
                feature(r#""code":"440305001001012""#, "Polygon", "[[[1,1],[2,2]]]"),
            ]),
            vec![],
            "feature 1 (code 440305001001012)",
        ),
    ];
    for (name, contents, extra, expected) in cases {
        let f = env.file(name, &contents);
        let mut args = vec!["import", "grids", path(&f)];
        args.extend(extra);
        let message = env.err(&args).await;
        assert!(
            message.contains(name),
            "{name}: message does not name the file: {message}"
        );
        assert!(
            message.contains(expected),
            "{name}: expected `{expected}` in: {message}"
        );
        assert!(message.contains("nothing was changed"), "{message}");
        assert_eq!(env.snapshot().await, before, "{name} changed the database");
    }

    // A huge file is refused before it is read.
    let big = env.file("big.geojson", &" ".repeat(2048));
    let message = env
        .err(&["import", "grids", path(&big), "--max-bytes", "1024"])
        .await;
    assert!(
        message.contains("big.geojson: the file is 2048 bytes, over the limit of 1024"),
        "{message}"
    );
    assert_eq!(env.snapshot().await, before);
}

#[tokio::test]
async fn grids_check_reports_overlaps_and_gaps_in_square_metres() {
    let env = Env::new();
    env.with_regions().await;
    let d = 0.001;
    let mut features = Vec::new();
    // Eight cells around an empty centre, plus one overlapping half a cell.
    for i in 0..3 {
        for j in 0..3 {
            if (i, j) == (1, 1) {
                continue;
            }
            let (x, y) = (113.9 + f64::from(i) * d, 22.5 + f64::from(j) * d);
            features.push(feature(
                &format!(r#""name":"G{i}{j}""#),
                "Polygon",
                &square(x, y, d),
            ));
        }
    }
    features.push(feature(
        r#""name":"X""#,
        "Polygon",
        "[[[113.9,22.5],[113.9005,22.5],[113.9005,22.501],[113.9,22.501],[113.9,22.5]]]",
    ));
    let f = env.file("ring.geojson", &collection(&features));
    env.ok(&["import", "grids", path(&f), "--parent", "440305001002"])
        .await;
    let (code, out) = env
        .run_with_input(&["grids", "check"], "")
        .await
        .expect("check");
    assert_eq!(code, 1, "issues found exit with 1: {out}");
    assert!(out.contains("1 overlap(s), 1 gap(s)"), "{out}");
    let overlap = out
        .lines()
        .find(|l| l.starts_with("overlap"))
        .expect("overlap line");
    assert!(
        overlap.contains("440305001002001 and 440305001002009"),
        "{overlap}"
    );
    let area = |line: &str| -> f64 {
        line.split(": ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .expect("area")
    };
    // A 0.001° cell at 22.5°N is about 102.9 m × 110.7 m.
    let gap = out
        .lines()
        .find(|l| l.starts_with("gap"))
        .expect("gap line");
    assert!((11_000.0..11_800.0).contains(&area(gap)), "{gap}");
    assert!((5_500.0..5_900.0).contains(&area(overlap)), "{overlap}");
    // Other communities are not siblings and are clean.
    let (code, out) = env
        .run_with_input(&["grids", "check", "--within", "440305001001"], "")
        .await
        .expect("check");
    assert_eq!((code, out.trim()), (0, "0 overlap(s), 0 gap(s)"));
}

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
async fn demo_is_a_believable_seeded_territory() {
    let env = Env::new();
    let out = env.ok(&["demo", "--seed", "7"]).await;
    assert!(out.contains("demo territory created"), "{out}");
    // At least 2 streets and 6 communities, 60 grids tiling them without gaps or overlaps.
    let regions = env.ok(&["export", "regions"]).await;
    let streets = regions
        .lines()
        .filter(|l| l.split(',').next().is_some_and(|c| c.len() == 9))
        .count();
    let communities = regions
        .lines()
        .filter(|l| l.split(',').next().is_some_and(|c| c.len() == 12))
        .count();
    assert!(streets >= 2 && communities >= 6, "{regions}");
    let grids: serde_json::Value =
        serde_json::from_str(&env.ok(&["export", "grids"]).await).expect("json");
    assert!(grids["features"].as_array().expect("features").len() >= 60);
    assert!(
        env.ok(&["grids", "check"])
            .await
            .contains("0 overlap(s), 0 gap(s)")
    );
    // Staff for every role, grid workers on beats.
    let users = env.ok(&["user", "list"]).await;
    for role in [
        "resident",
        "grid_worker",
        "call_taker",
        "dispatcher",
        "shift_leader",
        "department_handler",
        "community_admin",
        "street_leader",
        "supervisor",
        "system_admin",
    ] {
        assert!(users.contains(&format!("{role}@")), "no {role} in\n{users}");
    }
    // Running it again changes nothing.
    let again = env.ok(&["demo", "--seed", "7"]).await;
    assert!(again.contains("already loaded"), "{again}");

    // Same seed, same data; another seed, other data.
    let same = Env::new();
    same.ok(&["demo", "--seed", "7"]).await;
    let other = Env::new();
    other.ok(&["demo", "--seed", "8"]).await;
    assert_eq!(everything(&env).await, everything(&same).await);
    assert_ne!(everything(&env).await, everything(&other).await);
    let names = |u: &str| {
        u.lines()
            .map(|l| l.split('\t').nth(1).unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&users), names(&same.ok(&["user", "list"]).await));
}

async fn everything(e: &Env) -> String {
    let mut s = e.ok(&["export", "grids"]).await;
    s.push_str(&e.ok(&["export", "regions"]).await);
    s.push_str(&e.ok(&["export", "units"]).await);
    s.push_str(&e.ok(&["export", "responsibility"]).await);
    s
}

#[tokio::test]
async fn locate_reads_points_and_answers_a_line_each() {
    let env = Env::new();
    env.ok(&["demo"]).await;
    let grids: serde_json::Value =
        serde_json::from_str(&env.ok(&["export", "grids"]).await).expect("json");
    // A vertex shared by four grids resolves to the smallest code, every time.
    let first = &grids["features"][0];
    let ring = first["geometry"]["coordinates"][0][0]
        .as_array()
        .expect("ring");
    let corner = &ring[6]; // the cell's top-right lattice vertex, shared with three neighbours
    let (lon, lat) = (
        corner[0].as_f64().expect("lon"),
        corner[1].as_f64().expect("lat"),
    );
    let input = format!("lon,lat\n{lon},{lat}\n{lon},{lat}\n0,0\n");
    let (_, out) = env
        .run_with_input(&["locate"], &input)
        .await
        .expect("locate");
    let lines: Vec<&str> = out.split('\n').collect();
    assert_eq!(lines.len(), 4, "{out:?}");
    assert_eq!(
        lines[0],
        first["properties"]["code"].as_str().expect("code")
    );
    assert_eq!(lines[0], lines[1]);
    assert_eq!(lines[2], "", "a point in no grid gives an empty line");

    // GCJ-02 input is converted before lookup.
    let (glon, glat) = civicgrid_domain::geometry::crs::Crs::Gcj02.from_wgs84(113.92, 22.52);
    let (_, wgs) = env
        .run_with_input(&["locate"], "113.92,22.52\n")
        .await
        .expect("locate");
    let (_, gcj) = env
        .run_with_input(&["locate", "--crs", "gcj02"], &format!("{glon},{glat}\n"))
        .await
        .expect("locate");
    assert_eq!(wgs, gcj);
    assert!(!wgs.trim().is_empty());

    let bad = env
        .run_with_input(&["locate"], "113.9,22.5\n113.9;22.5\n200,22\n")
        .await;
    let message = bad.expect_err("bad input").to_string();
    assert!(
        message.contains("standard input: line 2: `113.9;22.5` is not `lon,lat`"),
        "{message}"
    );
    assert!(
        message.contains("standard input: line 3, column 1: field `lon`: `200` is not a longitude"),
        "{message}"
    );
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
async fn routing_follows_owner_and_locality_order_with_fallback() {
    let env = Env::new();
    env.ok(&["demo"]).await;
    let grid = "440305001001001";
    let out = env
        .ok(&["route", "--category", "01006", "--grid", grid])
        .await;
    assert!(
        out.starts_with("primary: RQJT"),
        "gas manhole covers go to their owner: {out}"
    );
    assert!(out.contains("co-handler: YJJ"), "{out}");
    let out = env
        .ok(&["route", "--category", "08004", "--grid", grid])
        .await;
    assert!(
        out.starts_with("primary: ST001 "),
        "parking is the street's (locality first): {out}"
    );
    let out = env
        .ok(&["route", "--category", "12002", "--grid", grid])
        .await;
    assert!(
        out.starts_with("primary: ST001-C001 "),
        "no rule: falls back to the community: {out}"
    );
    assert!(out.contains("兜底"), "{out}");
    let err = env
        .err(&["route", "--category", "99001", "--grid", grid])
        .await;
    assert!(err.contains("category 99001"), "{err}");
}

#[tokio::test]
async fn accounts_and_api_keys() {
    let env = Env::new();
    env.ok(&["demo"]).await;
    let (_, out) = env
        .run_with_input(
            &[
                "user",
                "add",
                "zhao.gw",
                "--name",
                "赵网格",
                "--role",
                "grid_worker",
                "--scope",
                "region:440305001001",
                "--password-stdin",
            ],
            "a long enough passphrase\n",
        )
        .await
        .expect("user add");
    assert!(
        out.contains("created user zhao.gw") && !out.contains("password"),
        "{out}"
    );
    assert!(
        env.ok(&["user", "list"])
            .await
            .contains("zhao.gw\t赵网格\tgrid_worker@region:440305001001")
    );
    let before = env.snapshot().await;
    for (args, expected) in [
        (
            vec![
                "user",
                "add",
                "zhao.gw",
                "--name",
                "x",
                "--role",
                "grid_worker",
                "--scope",
                "region:440305",
            ],
            "already exists",
        ),
        (
            vec![
                "user",
                "add",
                "qian",
                "--name",
                "x",
                "--role",
                "emperor",
                "--scope",
                "region:440305",
            ],
            "role `emperor` does not exist",
        ),
        (
            vec![
                "user",
                "add",
                "sun",
                "--name",
                "x",
                "--role",
                "dispatcher",
                "--scope",
                "region:440399",
            ],
            "scope region:440399 does not exist",
        ),
        (
            vec![
                "user",
                "add",
                "li",
                "--name",
                "x",
                "--role",
                "dispatcher",
                "--scope",
                "everywhere",
            ],
            "is not a scope",
        ),
    ] {
        let message = env.err(&args).await;
        assert!(message.contains(expected), "{args:?}: {message}");
        assert_eq!(env.snapshot().await, before);
    }
    let key = env
        .ok(&["apikey", "create", "--name", "12345 hotline"])
        .await;
    let key = key.trim();
    assert!(key.starts_with("cg_") && key.len() == 51, "{key}");
    let again = env.ok(&["apikey", "create", "--name", "other"]).await;
    assert_ne!(again.trim(), key);
    assert!(
        env.err(&["apikey", "create", "--name", "12345 hotline"])
            .await
            .contains("already exists")
    );
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

mod case_loop {
    //! The case service over a demo territory: intake, routing, deadlines, permissions,
    //! concurrency and the event trail.

    use std::sync::Arc;

    use civicgrid::App;
    use civicgrid::cases::{Actor, Intake};
    use civicgrid::clock::FixedClock;
    use civicgrid::error::AppError;
    use civicgrid_domain::calendar::{ClockType, TimeLimit};
    use civicgrid_domain::case::{
        Action, Channel, Request, Satisfaction, Status, Transition, replay,
    };
    use civicgrid_domain::catalogue::Stage;
    use jiff::Timestamp;

    async fn app_at(now: &str) -> (tempfile::TempDir, App) {
        let dir = tempfile::tempdir().expect("dir");
        let repo =
            civicgrid_store::connect(&format!("sqlite:{}", dir.path().join("c.db").display()))
                .await
                .expect("store");
        let app = App::new(repo, Arc::new(FixedClock(now.parse().expect("time"))));
        app.load_demo(1).await.expect("demo");
        (dir, app)
    }

    async fn staff(app: &App, username: &str) -> Actor {
        let u = app.repo.user(username).await.expect("query").expect("user");
        Actor::Staff {
            username: u.username,
            grants: u.grants,
        }
    }

    fn intake(category: &str) -> Intake {
        Intake {
            grid: None,
            media_url: None,
            description: "安乐社区路口井盖丢失，晚上很危险".into(),
            location: Some((113.9171, 22.5168)),
            address: Some("南头街道安乐社区".into()),
            category: Some(category.parse().expect("category")),
            attributes: [("damage".to_owned(), "missing".to_owned())]
                .into_iter()
                .collect(),
            priority: None,
            channel: Channel::Web,
            reporter: None,
        }
    }

    #[tokio::test]
    async fn intake_places_routes_and_times_the_case() {
        // Friday 13 Feb 2026, 17:15 Beijing time: the accept limit (high priority: 30 working
        // minutes) runs 15 minutes into the make-up Saturday.
        let (_dir, app) = app_at("2026-02-13T09:15:00Z").await;
        let case = app
            .report_case(intake("01001"), &Actor::Resident)
            .await
            .expect("reported");
        assert_eq!(
            case.grid.as_ref().map(|g| g.as_str()),
            Some("440305001001001")
        );
        assert_eq!(case.state.status, Status::Reported);
        assert_eq!(case.routed_units, ["SWJT"], "{}", case.routing);
        let clock = case.clock.expect("accept clock");
        assert_eq!(clock.stage, Stage::Accept);
        let due: Timestamp = "2026-02-14T00:45:00Z".parse().expect("time"); // Sat 08:45 +08:00
        assert_eq!(clock.due_at, due);
        assert_eq!(case.receipt_code.len(), 9);
        let events = app.case_timeline(&case.id).await.expect("timeline");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].action, "report");

        // Bad reports are refused field by field and nothing is stored.
        let mut bad = intake("01001");
        bad.description = " ".into();
        bad.attributes.insert("damage".into(), "stolen".into());
        bad.attributes.insert("colour".into(), "red".into());
        match app.report_case(bad, &Actor::Resident).await {
            Err(AppError::Unprocessable(fields)) => {
                let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
                assert_eq!(
                    names,
                    ["description", "attributes.colour", "attributes.damage"]
                );
            }
            other => panic!("expected 422, got {other:?}"),
        }
        let mut outside = intake("01001");
        outside.location = Some((116.4, 39.9));
        assert!(matches!(
            app.report_case(outside, &Actor::Resident).await,
            Err(AppError::Unprocessable(_))
        ));
        let mut with_contact = intake("01001");
        with_contact.reporter = Some(civicgrid::cases::seal::Reporter {
            phone: Some("13800138000".into()),
            ..Default::default()
        });
        match app.report_case(with_contact, &Actor::Resident).await {
            Err(AppError::Unprocessable(fields)) => {
                assert_eq!(fields[0].0, "reporter", "no data key, no contact kept")
            }
            other => panic!("expected 422, got {other:?}"),
        }
        let mut major = intake("01");
        major.attributes.clear();
        assert!(matches!(
            app.report_case(major, &Actor::Resident).await,
            Err(AppError::Unprocessable(_))
        ));
        let all = app
            .list_cases(&civicgrid_store::CaseFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .expect("list");
        assert_eq!(all.len(), 1);
    }

    #[tokio::test]
    async fn the_loop_with_rework_shelving_and_an_audit_trail_that_replays() {
        let (_dir, app) = app_at("2026-03-03T01:00:00Z").await;
        let case = app
            .report_case(intake("01001"), &Actor::Resident)
            .await
            .expect("reported");
        let calltaker = staff(&app, "calltaker1").await;
        let dispatcher = staff(&app, "dispatcher.st1").await;
        let handler = staff(&app, "handler.swjt").await;
        let worker = staff(&app, "gw.st1c1.1").await;
        let leader = staff(&app, "leader.st1").await;
        let steps: Vec<(&Actor, Action)> = vec![
            (&calltaker, Action::Accept),
            (&calltaker, Action::Register),
            (
                &dispatcher,
                Action::Dispatch {
                    units: vec!["SWJT".into()],
                },
            ),
            (&handler, Action::StartHandling),
            (
                &handler,
                Action::RequestApproval {
                    request: Request::Extension {
                        stage: Stage::Handle,
                        extra: TimeLimit {
                            clock: ClockType::WorkingHours,
                            amount: 120,
                        },
                        reason: "等待井盖配件".into(),
                    },
                },
            ),
            (
                &leader,
                Action::DecideApproval {
                    approve: true,
                    note: "同意".into(),
                },
            ),
            (
                &handler,
                Action::ReportBack {
                    note: "已安装临时井盖".into(),
                },
            ),
            (
                &worker,
                Action::Verify {
                    passed: false,
                    note: "临时井盖不牢固".into(),
                },
            ),
            (
                &handler,
                Action::ReportBack {
                    note: "已更换正式井盖".into(),
                },
            ),
            (
                &worker,
                Action::Verify {
                    passed: true,
                    note: String::new(),
                },
            ),
            (
                &calltaker,
                Action::Evaluate {
                    satisfaction: Satisfaction::Satisfied,
                    comment: "满意".into(),
                },
            ),
        ];
        let mut current = case.clone();
        let mut handle_due = None;
        for (actor, action) in steps {
            let name = action.name();
            let before = current.clone();
            current = app
                .act_on_case(&current.id, current.state.version, action, actor)
                .await
                .unwrap_or_else(|e| panic!("{name} by {}: {e}", actor.name()));
            if name == "start_handling" {
                handle_due = current.clock.map(|c| c.due_at);
            }
            if name == "decide_approval" {
                // The extension moved the handle deadline by two working hours.
                let moved = current.clock.expect("clock").due_at;
                assert!(moved > before.clock.expect("clock").due_at);
            }
        }
        assert!(handle_due.is_some());
        assert_eq!(current.state.status, Status::Evaluated);
        assert_eq!(current.state.rework_count, 1);
        assert!(
            current.clock.is_none(),
            "a finished case has no running clock"
        );
        let events = app.case_timeline(&current.id).await.expect("events");
        assert_eq!(events.len() as u64, current.state.version);
        let transitions: Vec<Transition> = events[1..]
            .iter()
            .map(|e| serde_json::from_value(e.payload.clone()).expect("transition"))
            .collect();
        assert_eq!(replay(&transitions), current.state);
        assert_eq!(events[3].actor, "dispatcher.st1");
    }

    #[tokio::test]
    async fn permissions_versions_and_illegal_actions_change_nothing() {
        let (_dir, app) = app_at("2026-03-03T01:00:00Z").await;
        let case = app
            .report_case(intake("01001"), &Actor::Resident)
            .await
            .expect("reported");
        let calltaker = staff(&app, "calltaker1").await;
        // A grid worker may not accept; a dispatcher of the other street may not either.
        let worker = staff(&app, "gw.st1c1.1").await;
        assert!(matches!(
            app.act_on_case(&case.id, 1, Action::Accept, &worker).await,
            Err(AppError::Forbidden(_))
        ));
        let other_street = staff(&app, "dispatcher.st2").await;
        assert!(matches!(
            app.act_on_case(
                &case.id,
                1,
                Action::Dispatch {
                    units: vec!["CGJ".into()]
                },
                &other_street
            )
            .await,
            Err(AppError::Forbidden(_))
        ));
        // Illegal in this state: 409 naming the state.
        match app
            .act_on_case(&case.id, 1, Action::Register, &calltaker)
            .await
        {
            Err(AppError::NotAllowed { status, message }) => {
                assert_eq!(status, Status::Reported);
                assert!(message.contains("reported"), "{message}");
            }
            other => panic!("expected 409, got {other:?}"),
        }
        // Two call-takers act on version 1 at once: exactly one wins, no event is lost.
        let other = staff(&app, "calltaker2").await;
        let (a, b) = tokio::join!(
            app.act_on_case(&case.id, 1, Action::Accept, &calltaker),
            app.act_on_case(
                &case.id,
                1,
                Action::Refuse {
                    reason: "重复".into()
                },
                &other
            ),
        );
        assert!(a.is_ok() != b.is_ok(), "exactly one wins: {a:?} / {b:?}");
        let loser = if a.is_ok() { b } else { a };
        assert!(
            matches!(loser, Err(AppError::Stale { current: 2 })),
            "{loser:?}"
        );
        let events = app.case_timeline(&case.id).await.expect("events");
        assert_eq!(events.len(), 2);
        let stored = app.get_case(&case.id).await.expect("case");
        assert_eq!(stored.state.version, 2);
        // Unknown units are refused before the loop is asked.
        if stored.state.status == Status::Accepted {
            app.act_on_case(&case.id, 2, Action::Register, &calltaker)
                .await
                .expect("register");
            let dispatcher = staff(&app, "dispatcher.st1").await;
            assert!(matches!(
                app.act_on_case(
                    &case.id,
                    3,
                    Action::Dispatch {
                        units: vec!["NOPE".into()]
                    },
                    &dispatcher
                )
                .await,
                Err(AppError::Unprocessable(_))
            ));
            assert_eq!(app.case_timeline(&case.id).await.expect("events").len(), 3);
        }
    }
}

#[path = "cli/kpi.rs"]
mod kpi;

#[path = "cli/limits.rs"]
mod limits;

#[path = "cli/access.rs"]
mod access;

#[path = "cli/support.rs"]
mod support;

#[path = "cli/web.rs"]
mod web;

#[path = "cli/openapi.rs"]
mod openapi;

#[path = "cli/open311.rs"]
mod open311;

#[path = "cli/instances.rs"]
mod instances;

#[path = "cli/backup.rs"]
mod backup;

#[path = "cli/webhooks.rs"]
mod webhooks;

mod http_api {
    //! The REST API against the real router, in process.

    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use civicgrid::App;
    use civicgrid::clock::FixedClock;
    use http_body_util::BodyExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    struct Api {
        _dir: tempfile::TempDir,
        app: App,
        dispatcher_key: String,
        calltaker_key: String,
        handler_key: String,
    }

    impl Api {
        async fn new() -> Api {
            let dir = tempfile::tempdir().expect("dir");
            let repo =
                civicgrid_store::connect(&format!("sqlite:{}", dir.path().join("h.db").display()))
                    .await
                    .expect("store");
            let mut app = App::new(
                repo,
                Arc::new(FixedClock("2026-03-03T01:00:00Z".parse().expect("t"))),
            );
            app.sealer = Some(Arc::new(
                civicgrid::cases::seal::Sealer::from_hex(
                    &civicgrid::cases::seal::Sealer::generate_hex(),
                )
                .expect("key"),
            ));
            app.load_demo(1).await.expect("demo");
            let dispatcher_key = app
                .create_api_key("d", Some("dispatcher.st1"))
                .await
                .expect("key");
            let calltaker_key = app
                .create_api_key("c", Some("calltaker1"))
                .await
                .expect("key");
            let handler_key = app
                .create_api_key("h", Some("handler.swjt"))
                .await
                .expect("key");
            Api {
                _dir: dir,
                app,
                dispatcher_key,
                calltaker_key,
                handler_key,
            }
        }

        async fn call(
            &self,
            method: &str,
            uri: &str,
            key: Option<&str>,
            body: Option<Value>,
            if_match: Option<&str>,
        ) -> (StatusCode, Value, Option<String>) {
            let mut req = Request::builder().method(method).uri(uri);
            if let Some(k) = key {
                req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
            }
            if let Some(m) = if_match {
                req = req.header(header::IF_MATCH, m);
            }
            let req = match body {
                Some(b) => req
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(b.to_string())),
                None => req.body(Body::empty()),
            }
            .expect("request");
            let res = civicgrid::http::router(self.app.clone())
                .oneshot(req)
                .await
                .expect("response");
            let status = res.status();
            let etag = res
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let content_type = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let bytes = res.into_body().collect().await.expect("body").to_bytes();
            let value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
            if status.is_client_error() || status.is_server_error() {
                assert_eq!(content_type, "application/problem+json", "{status} {value}");
                assert_eq!(value["status"], status.as_u16(), "{value}");
            }
            (status, value, etag)
        }
    }

    /// An API key's actor is kept for a few seconds (another instance's revocation is seen
    /// within `KEY_TTL`); a change made through this process drops it at once.
    #[tokio::test]
    async fn an_api_key_is_read_again_after_a_local_change() {
        let api = Api::new().await;
        let key = api.calltaker_key.clone();
        assert!(
            api.app
                .authenticate_api_key(&key)
                .await
                .expect("auth")
                .is_some()
        );
        let db = format!("sqlite:{}", api._dir.path().join("h.db").display());
        let pool = sqlx::SqlitePool::connect(&db).await.expect("pool");
        sqlx::query("UPDATE api_keys SET revoked_at = 1")
            .execute(&pool)
            .await
            .expect("revoke");
        // As if another instance revoked it: this one still knows the key, for KEY_TTL.
        assert!(
            api.app
                .authenticate_api_key(&key)
                .await
                .expect("auth")
                .is_some()
        );
        api.app.invalidate_reference();
        assert!(
            api.app
                .authenticate_api_key(&key)
                .await
                .expect("auth")
                .is_none()
        );
        assert!(
            api.app
                .authenticate_api_key("cg_not_a_key")
                .await
                .expect("auth")
                .is_none()
        );
    }

    /// `/metrics` counts what one router answered, per route pattern, and reads the store's
    /// gauges at the scrape.
    #[tokio::test]
    async fn metrics_in_the_prometheus_text_format() {
        let api = Api::new().await;
        let router = civicgrid::http::router(api.app.clone());
        let get = |uri: &str| {
            let router = router.clone();
            let req = Request::builder()
                .uri(uri)
                .body(Body::empty())
                .expect("request");
            async move {
                let res = router.oneshot(req).await.expect("response");
                let status = res.status();
                let ct = res
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let body = res.into_body().collect().await.expect("body").to_bytes();
                (status, ct, String::from_utf8_lossy(&body).into_owned())
            }
        };
        for _ in 0..3 {
            assert_eq!(get("/healthz").await.0, StatusCode::OK);
        }
        let unknown = uuid::Uuid::now_v7();
        assert_eq!(
            get(&format!("/api/v1/track/{unknown}")).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(get("/no/such/page").await.0, StatusCode::NOT_FOUND);
        let (s, case, _) = api
            .call("POST", "/api/v1/cases", None, Some(report()), None)
            .await;
        assert_eq!(s, StatusCode::CREATED, "{case}");
        let swept = api.app.sweep_deadlines(0.8).await.expect("sweep");
        let (status, ct, text) = get("/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
        let has = |line: &str| {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            )
        };
        has(r#"civicgrid_http_requests_total{method="GET",route="/healthz",status="200"} 3"#);
        has(
            r#"civicgrid_http_requests_total{method="GET",route="/api/v1/track/{receipt}",status="404"} 1"#,
        );
        has(r#"civicgrid_http_requests_total{method="GET",route="unmatched",status="404"} 1"#);
        has(r#"civicgrid_http_request_duration_seconds_count{method="GET",route="/healthz"} 3"#);
        has(
            r#"civicgrid_http_request_duration_seconds_bucket{method="GET",route="/healthz",le="+Inf"} 3"#,
        );
        // The case went through another router: counted in the store's gauges, not here.
        assert!(!text.contains("route=\"/api/v1/cases\""), "{text}");
        has(r#"civicgrid_cases{state="reported"} 1"#);
        has("civicgrid_cases_overdue 0");
        has("civicgrid_deadline_sweeps_total 1");
        has(&format!(
            "civicgrid_deadline_regions_swept_total {}",
            swept.scopes
        ));
        assert!(swept.scopes > 0);
        has("civicgrid_deadline_breaches_total 0");
        has(r#"civicgrid_job_lag_seconds{job="deadlines"} 0"#);
        // Every sample line belongs to a declared family.
        let families: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        for sample in text.lines().filter(|l| !l.starts_with('#')) {
            let name = sample.split(['{', ' ']).next().unwrap_or_default();
            assert!(
                families.iter().any(|f| name == *f
                    || name
                        .strip_prefix(f)
                        .is_some_and(|rest| { ["_bucket", "_sum", "_count"].contains(&rest) })),
                "{sample}"
            );
        }
    }

    fn report() -> Value {
        json!({"description": "井盖丢失", "lon": 113.9171, "lat": 22.5168, "category": "01001", "attributes": {"damage": "missing"}})
    }

    #[tokio::test]
    async fn anonymous_intake_staff_actions_tracking_and_problems() {
        let api = Api::new().await;
        let (s, _, _) = api.call("GET", "/healthz", None, None, None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, _) = api.call("GET", "/readyz", None, None, None).await;
        assert_eq!(s, StatusCode::OK);

        let (s, case, etag) = api
            .call("POST", "/api/v1/cases", None, Some(report()), None)
            .await;
        assert_eq!(s, StatusCode::CREATED, "{case}");
        assert_eq!(etag.as_deref(), Some("\"1\""));
        for field in [
            "id",
            "receipt_code",
            "status",
            "grid",
            "category",
            "assigned_units",
            "deadlines",
        ] {
            assert!(case.get(field).is_some(), "missing {field}: {case}");
        }
        assert_eq!(case["grid"], "440305001001001");
        assert_eq!(
            case["assigned_units"],
            json!(["SWJT"]),
            "routed at intake: {case}"
        );
        let id = case["id"].as_str().expect("id").to_owned();
        let receipt = case["receipt_code"].as_str().expect("code").to_owned();

        // Reading needs a staff key; anonymous callers use the receipt code.
        let (s, _, _) = api
            .call("GET", &format!("/api/v1/cases/{id}"), None, None, None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}"),
                Some("cg_wrong"),
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, got, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}"),
                Some(&api.calltaker_key),
                None,
                None,
            )
            .await;
        assert_eq!(
            (s, got["status"].as_str()),
            (StatusCode::OK, Some("reported"))
        );

        // Actions need the version: missing → 428, stale → 412, illegal → 409, wrong role → 403.
        let accept = format!("/api/v1/cases/{id}/actions/accept");
        let (s, _, _) = api
            .call(
                "POST",
                &accept,
                Some(&api.calltaker_key),
                Some(json!({})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::PRECONDITION_REQUIRED);
        let (s, p, _) = api
            .call(
                "POST",
                &accept,
                Some(&api.calltaker_key),
                Some(json!({"version": 7})),
                None,
            )
            .await;
        assert_eq!(
            (s, p["current_version"].as_u64()),
            (StatusCode::PRECONDITION_FAILED, Some(1))
        );
        let (s, p, _) = api
            .call(
                "POST",
                &format!("/api/v1/cases/{id}/actions/register"),
                Some(&api.calltaker_key),
                Some(json!({"version": 1})),
                None,
            )
            .await;
        assert_eq!(
            (s, p["current_status"].as_str()),
            (StatusCode::CONFLICT, Some("reported"))
        );
        let (s, _, _) = api
            .call(
                "POST",
                &accept,
                Some(&api.handler_key),
                Some(json!({"version": 1})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, p, _) = api
            .call(
                "POST",
                &format!("/api/v1/cases/{id}/actions/fly"),
                Some(&api.calltaker_key),
                Some(json!({"version": 1})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        let alarm = json!({"version": 1, "stage": "accept", "level": "red"});
        let raise = format!("/api/v1/cases/{id}/actions/raise_alarm");
        let (s, _, _) = api
            .call("POST", &raise, Some(&api.dispatcher_key), Some(alarm), None)
            .await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "alarms are the deadline job's to raise"
        );
        let (s, c, etag) = api
            .call(
                "POST",
                &accept,
                Some(&api.calltaker_key),
                None,
                Some("\"1\""),
            )
            .await;
        assert_eq!(
            (s, c["status"].as_str(), etag.as_deref()),
            (StatusCode::OK, Some("accepted"), Some("\"2\""))
        );
        let (s, _, _) = api
            .call(
                "POST",
                &format!("/api/v1/cases/{id}/actions/register"),
                Some(&api.calltaker_key),
                Some(json!({"version": 2})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, c, _) = api
            .call(
                "POST",
                &format!("/api/v1/cases/{id}/actions/dispatch"),
                Some(&api.dispatcher_key),
                Some(json!({"version": 3})),
                None,
            )
            .await;
        assert_eq!(
            (s, c["lead_unit"].as_str()),
            (StatusCode::OK, Some("SWJT")),
            "{c}"
        );
        // The handler's unit now has the case.
        let (s, _, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}"),
                Some(&api.handler_key),
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);

        let (s, events, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}/events"),
                Some(&api.dispatcher_key),
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let actions: Vec<&str> = events["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["action"].as_str().expect("a"))
            .collect();
        assert_eq!(actions, ["report", "accept", "register", "dispatch"]);

        // The public view: the timeline, without actors or free text.
        let (s, t, _) = api
            .call(
                "GET",
                &format!("/api/v1/track/{}", receipt.to_lowercase().replace('-', "")),
                None,
                None,
                None,
            )
            .await;
        assert_eq!(
            (s, t["status"].as_str()),
            (StatusCode::OK, Some("dispatched"))
        );
        let text = t.to_string();
        assert!(
            !text.contains("calltaker1") && !text.contains("井盖丢失"),
            "{text}"
        );
        let (s, _, _) = api
            .call("GET", "/api/v1/track/0000-0000", None, None, None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Bad intake: field errors in one 422; malformed JSON 400.
        let (s, p, _) = api
            .call(
                "POST",
                "/api/v1/cases",
                None,
                Some(json!({"description": "", "lon": 500, "lat": 22.5, "category": "1"})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(p["errors"].as_array().expect("errors").len() >= 2, "{p}");
        let (s, _, _) = api
            .call("POST", "/api/v1/cases", None, Some(json!({"lon": 1})), None)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        // Listing with filters and a cursor.
        for _ in 0..3 {
            api.call("POST", "/api/v1/cases", None, Some(report()), None)
                .await;
        }
        let (s, page, _) = api
            .call(
                "GET",
                "/api/v1/cases?limit=2",
                Some(&api.dispatcher_key),
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(page["cases"].as_array().expect("cases").len(), 2);
        let cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
        let (_, page2, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases?limit=2&cursor={cursor}"),
                Some(&api.dispatcher_key),
                None,
                None,
            )
            .await;
        assert_eq!(page2["cases"].as_array().expect("cases").len(), 2);
        let (_, dispatched, _) = api
            .call(
                "GET",
                "/api/v1/cases?status=dispatched&unit=SWJT",
                Some(&api.dispatcher_key),
                None,
                None,
            )
            .await;
        assert_eq!(dispatched["cases"].as_array().expect("cases").len(), 1);
        let (s, _, _) = api
            .call(
                "GET",
                "/api/v1/cases?status=flying",
                Some(&api.dispatcher_key),
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _, _) = api
            .call("GET", "/api/v1/nothing-here", None, None, None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn photos_are_attached_with_their_checksum_and_stage() {
        let api = Api::new().await;
        let (_, case, _) = api
            .call("POST", "/api/v1/cases", None, Some(report()), None)
            .await;
        let id = case["id"].as_str().expect("id");
        let png: Vec<u8> = [
            &[0x89u8, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
            &[7u8; 64][..],
        ]
        .concat();
        let send = |bytes: Vec<u8>,
                    content_type: &'static str,
                    stage: &'static str,
                    if_match: &'static str| {
            let req = Request::post(format!("/api/v1/cases/{id}/photos?stage={stage}"))
                .header(
                    header::AUTHORIZATION,
                    format!("Bearer {}", api.calltaker_key),
                )
                .header(header::CONTENT_TYPE, content_type)
                .header(header::IF_MATCH, if_match)
                .body(Body::from(bytes))
                .expect("request");
            let app = api.app.clone();
            async move {
                let res = civicgrid::http::router(app)
                    .oneshot(req)
                    .await
                    .expect("response");
                let status = res.status();
                let body = res.into_body().collect().await.expect("body").to_bytes();
                (
                    status,
                    serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
                )
            }
        };
        let (s, c) = send(png.clone(), "image/png", "report", "\"1\"").await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        assert_eq!(c["version"], 2);
        // Not an image, a wrong kind, a bad stage, the same photo again: refused, nothing changes.
        let (s, _) = send(b"hello".to_vec(), "image/png", "before", "\"2\"").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = send(png.clone(), "application/pdf", "before", "\"2\"").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = send(png.clone(), "image/png", "sideways", "\"2\"").await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let (s, _) = send(png.clone(), "image/png", "before", "\"2\"").await;
        assert_eq!(s, StatusCode::CONFLICT, "already attached");
        let (s, list, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}/photos"),
                Some(&api.calltaker_key),
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let photos = list["photos"].as_array().expect("photos");
        assert_eq!(photos.len(), 1);
        assert_eq!(photos[0]["stage"], "report");
        let sha = photos[0]["sha256"].as_str().expect("sha");
        assert_eq!(sha, civicgrid::accounts::sha256_bytes_hex(&png));
        let req = Request::get(format!("/api/v1/cases/{id}/photos/{sha}"))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", api.calltaker_key),
            )
            .body(Body::empty())
            .expect("request");
        let res = civicgrid::http::router(api.app.clone())
            .oneshot(req)
            .await
            .expect("response");
        assert_eq!(
            res.headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("image/png")
        );
        assert_eq!(
            res.into_body()
                .collect()
                .await
                .expect("body")
                .to_bytes()
                .to_vec(),
            png
        );
    }

    #[tokio::test]
    async fn staff_sign_in_with_a_session_and_out_again() {
        let api = Api::new().await;
        let (s, _, _) = api
            .call(
                "POST",
                "/api/v1/session",
                None,
                Some(json!({"username": "calltaker1", "password": "wrong password"})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = api
            .call(
                "POST",
                "/api/v1/session",
                None,
                Some(json!({"username": "nobody", "password": "civicgrid-demo"})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, login, _) = api
            .call(
                "POST",
                "/api/v1/session",
                None,
                Some(json!({"username": "calltaker1", "password": "civicgrid-demo"})),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{login}");
        let token = login["token"].as_str().expect("token").to_owned();
        let (_, case, _) = api
            .call("POST", "/api/v1/cases", None, Some(report()), None)
            .await;
        let id = case["id"].as_str().expect("id");
        let (s, c, _) = api
            .call(
                "POST",
                &format!("/api/v1/cases/{id}/actions/accept"),
                Some(&token),
                Some(json!({"version": 1})),
                None,
            )
            .await;
        assert_eq!(
            (s, c["status"].as_str()),
            (StatusCode::OK, Some("accepted"))
        );
        let (s, _, _) = api
            .call("DELETE", "/api/v1/session", Some(&token), None, None)
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}"),
                Some(&token),
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "the session has ended");
        // Ending it again, or ending a made-up session, is a bad credential.
        for bad in [token.as_str(), "cs_made_up"] {
            let (s, _, _) = api
                .call("DELETE", "/api/v1/session", Some(bad), None, None)
                .await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{bad}");
        }
    }

    #[tokio::test]
    async fn reporter_contacts_are_sealed_shown_only_to_roles_that_need_them_and_reads_recorded() {
        let api = Api::new().await;
        let mut body = report();
        body["reporter"] = json!({"name": "王女士", "phone": "13800138000"});
        let (s, case, _) = api
            .call("POST", "/api/v1/cases", None, Some(body.clone()), None)
            .await;
        assert_eq!(s, StatusCode::CREATED, "{case}");
        assert_eq!(case["has_reporter_contact"], true);
        assert!(
            !case.to_string().contains("13800138000"),
            "the case itself never shows the contact"
        );
        let id = case["id"].as_str().expect("id");
        let stored = api
            .app
            .get_case(&id.parse().expect("uuid"))
            .await
            .expect("case");
        assert!(
            !stored
                .reporter_sealed
                .as_deref()
                .unwrap_or("")
                .contains("13800138000"),
            "sealed at rest"
        );
        // A handler may not read it; the dispatcher (case.read_contact) may, and the read is recorded.
        let path = format!("/api/v1/cases/{id}/reporter");
        let (s, _, _) = api
            .call("GET", &path, Some(&api.handler_key), None, None)
            .await;
        assert!(s == StatusCode::FORBIDDEN, "{s}");
        let (s, r, _) = api
            .call("GET", &path, Some(&api.dispatcher_key), None, None)
            .await;
        assert_eq!(
            (s, r["reporter"]["phone"].as_str()),
            (StatusCode::OK, Some("13800138000"))
        );
        let reads = api
            .app
            .repo
            .personal_data_reads(&stored.id)
            .await
            .expect("reads");
        assert_eq!(reads.len(), 1);
        assert_eq!(reads[0].1, "dispatcher.st1");
        // Bad contact fields are refused with the rest.
        body["reporter"] = json!({"phone": "call me maybe"});
        let (s, p, _) = api
            .call("POST", "/api/v1/cases", None, Some(body), None)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    }

    #[tokio::test]
    async fn duplicate_suggestions_are_nearby_open_cases_of_the_same_category() {
        let api = Api::new().await;
        let at = |lon: f64, lat: f64, category: &str| {
            let attributes = if category == "01001" {
                json!({"damage": "missing"})
            } else {
                json!({})
            };
            json!({"description": "x", "lon": lon, "lat": lat, "category": category, "attributes": attributes})
        };
        let (_, first, _) = api
            .call(
                "POST",
                "/api/v1/cases",
                None,
                Some(at(113.9171, 22.5168, "01001")),
                None,
            )
            .await;
        // 20 m east: a candidate. 200 m east: not. Same spot, other category: not.
        let (_, near, _) = api
            .call(
                "POST",
                "/api/v1/cases",
                None,
                Some(at(113.91729, 22.5168, "01001")),
                None,
            )
            .await;
        api.call(
            "POST",
            "/api/v1/cases",
            None,
            Some(at(113.9191, 22.5168, "01001")),
            None,
        )
        .await;
        api.call(
            "POST",
            "/api/v1/cases",
            None,
            Some(at(113.9171, 22.5168, "05001")),
            None,
        )
        .await;
        let id = first["id"].as_str().expect("id");
        let key = Some(api.calltaker_key.as_str());
        // A call-taker entering a report at the same spot is offered the open cases at intake;
        // an anonymous reporter is not shown other people's cases.
        let (_, staff_intake, _) = api
            .call(
                "POST",
                "/api/v1/cases",
                key,
                Some(at(113.9171, 22.5168, "01001")),
                None,
            )
            .await;
        assert_eq!(
            staff_intake["possible_duplicates"]
                .as_array()
                .expect("offered")
                .len(),
            2,
            "{staff_intake}"
        );
        let (_, anonymous, _) = api
            .call(
                "POST",
                "/api/v1/cases",
                None,
                Some(at(113.9171, 22.5168, "01001")),
                None,
            )
            .await;
        assert!(anonymous.get("possible_duplicates").is_none());
        for extra in [&staff_intake, &anonymous] {
            let extra_id = extra["id"].as_str().expect("id");
            let v = json!({"version": 1, "master": id});
            let merge = format!("/api/v1/cases/{extra_id}/actions/merge");
            let (s, _, _) = api.call("POST", &merge, key, Some(v), None).await;
            assert_eq!(s, StatusCode::OK);
        }
        let (s, d, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}/duplicates"),
                key,
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let ids: Vec<&str> = d["candidates"]
            .as_array()
            .expect("c")
            .iter()
            .map(|c| c["id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids, [near["id"].as_str().expect("id")]);
        let dist = d["candidates"][0]["distance_m"].as_f64().expect("distance");
        assert!((15.0..25.0).contains(&dist), "{dist}");
        let (_, wide, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}/duplicates?radius=500"),
                key,
                None,
                None,
            )
            .await;
        assert_eq!(wide["candidates"].as_array().expect("c").len(), 2);
        let (s, _, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}/duplicates?radius=-1"),
                key,
                None,
                None,
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // Merging is an explicit action, after which the duplicate is no longer offered.
        let near_id = near["id"].as_str().expect("id");
        let merge = format!("/api/v1/cases/{near_id}/actions/merge");
        let (s, m, _) = api
            .call(
                "POST",
                &merge,
                key,
                Some(json!({"version": 1, "master": id})),
                None,
            )
            .await;
        assert_eq!(
            (s, m["status"].as_str()),
            (StatusCode::OK, Some("merged")),
            "{m}"
        );
        // The duplicate's reporter now follows the master case.
        let near_receipt = near["receipt_code"].as_str().expect("receipt");
        let (_, tracked, _) = api
            .call(
                "GET",
                &format!("/api/v1/track/{near_receipt}"),
                None,
                None,
                None,
            )
            .await;
        assert_eq!(tracked["merged_into"], first["receipt_code"], "{tracked}");
        assert_eq!(tracked["receipt_code"], near["receipt_code"]);
        assert_eq!(tracked["status"], "reported", "the master's status");
        let (_, after, _) = api
            .call(
                "GET",
                &format!("/api/v1/cases/{id}/duplicates"),
                key,
                None,
                None,
            )
            .await;
        assert_eq!(after["candidates"].as_array().expect("c").len(), 0);
    }
}

mod deadline_job {
    use std::sync::Arc;

    use civicgrid::App;
    use civicgrid::cases::jobs::SweepReport;
    use civicgrid::cases::{Actor, Intake};
    use civicgrid::clock::ManualClock;
    use civicgrid_domain::case::deadline::Alarm;
    use civicgrid_domain::case::{Channel, Tier};
    use civicgrid_domain::catalogue::Stage;

    #[tokio::test]
    async fn warnings_breaches_and_escalation_happen_once() {
        let dir = tempfile::tempdir().expect("dir");
        let repo =
            civicgrid_store::connect(&format!("sqlite:{}", dir.path().join("j.db").display()))
                .await
                .expect("store");
        // Tuesday 3 March 2026, 09:00 Beijing time.
        let clock = Arc::new(ManualClock::new("2026-03-03T01:00:00Z".parse().expect("t")));
        let app = App::new(repo, clock.clone());
        app.load_demo(1).await.expect("demo");
        let intake = Intake {
            grid: None,
            media_url: None,
            description: "路灯不亮".into(),
            location: Some((113.9171, 22.5168)),
            address: None,
            category: Some("01007".parse().expect("c")),
            attributes: [("fault".to_owned(), "dark".to_owned())]
                .into_iter()
                .collect(),
            priority: None,
            channel: Channel::Hotline,
            reporter: None,
        };
        // Street lamps are normal priority: accept within 1 working hour, so due at 10:00.
        let case = app
            .report_case(intake, &Actor::Resident)
            .await
            .expect("reported");
        assert_eq!(
            case.clock.expect("clock").due_at,
            "2026-03-03T02:00:00Z".parse().expect("t")
        );
        let sweep = |at: &str| {
            clock.set(at.parse().expect("t"));
            let app = app.clone();
            // How many regions it swept is beside the point here.
            async move {
                SweepReport {
                    scopes: 0,
                    ..app.sweep_deadlines(0.8).await.expect("sweep")
                }
            }
        };
        assert_eq!(sweep("2026-03-03T01:30:00Z").await, SweepReport::default());
        // 09:48 +08: a fifth of the hour left → yellow, once.
        assert_eq!(
            sweep("2026-03-03T01:48:00Z").await,
            SweepReport {
                yellow: 1,
                ..Default::default()
            }
        );
        assert_eq!(sweep("2026-03-03T01:50:00Z").await, SweepReport::default());
        // 10:00 +08: breach, and the case climbs from grid to community, once.
        assert_eq!(
            sweep("2026-03-03T02:00:00Z").await,
            SweepReport {
                red: 1,
                escalated: 1,
                ..Default::default()
            }
        );
        assert_eq!(sweep("2026-03-03T03:00:00Z").await, SweepReport::default());
        let stored = app.get_case(&case.id).await.expect("case");
        assert_eq!(stored.state.tier, Tier::Community);
        assert_eq!(stored.state.alarm, Some((Stage::Accept, Alarm::Red)));
        let actions: Vec<String> = app
            .case_timeline(&case.id)
            .await
            .expect("events")
            .into_iter()
            .map(|e| format!("{}:{}", e.action, e.actor))
            .collect();
        assert_eq!(
            actions,
            [
                "report:resident",
                "raise_alarm:system",
                "raise_alarm:system",
                "escalate:system"
            ]
        );
        // Two sweeps at once (two instances) still take each step once.
        let other = app
            .report_case(
                Intake {
                    grid: None,
                    media_url: None,
                    description: "又一处路灯不亮".into(),
                    location: Some((113.9171, 22.5168)),
                    address: None,
                    category: Some("01007".parse().expect("c")),
                    attributes: [("fault".to_owned(), "dark".to_owned())]
                        .into_iter()
                        .collect(),
                    priority: None,
                    channel: Channel::Hotline,
                    reporter: None,
                },
                &Actor::Resident,
            )
            .await
            .expect("reported");
        clock.set("2026-03-03T06:00:00Z".parse().expect("t"));
        let (a, b) = tokio::join!(app.sweep_deadlines(0.8), app.sweep_deadlines(0.8));
        let (a, b) = (a.expect("a"), b.expect("b"));
        assert_eq!(a.red + b.red, 1, "{a:?} {b:?}");
        assert_eq!(a.escalated + b.escalated, 1, "{a:?} {b:?}");
        assert_eq!(app.case_timeline(&other.id).await.expect("events").len(), 3);
    }
}

mod durability {
    //! The crash test: kill -9 the real server again and again under mixed load (intake and
    //! actions), 20 cycles per backend: every case and change that got an answer is there
    //! after the restarts, no event is duplicated, and the integrity checks pass. Also: a
    //! SIGTERM stops the server gracefully.

    use std::process::Stdio;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;
    use tokio::process::{Child, Command};

    const BIN: &str = env!("CARGO_BIN_EXE_civicgrid");

    async fn start(db: &str) -> (Child, String) {
        start_logging(db, false).await
    }

    /// With `logs`, the server logs at info level to a piped stderr.
    async fn start_logging(db: &str, logs: bool) -> (Child, String) {
        let mut child = Command::new(BIN)
            .args(["--database", db, "serve", "--listen", "127.0.0.1:0"])
            .env("CIVICGRID_LOG", if logs { "info" } else { "warn" })
            .stdout(Stdio::piped())
            .stderr(if logs { Stdio::piped() } else { Stdio::null() })
            .kill_on_drop(true)
            .spawn()
            .expect("server starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .await
            .expect("banner");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .expect("address in banner")
            .to_owned();
        (child, addr)
    }

    /// One HTTP/1.1 POST on its own connection (`headers`: extra lines, each ending in CRLF);
    /// the status and body, or None if the connection broke (the server was killed).
    async fn post(addr: &str, path: &str, body: &str, headers: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.ok()?;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text.split_whitespace().nth(1)?.parse().ok()?;
        let body = text.split("\r\n\r\n").nth(1)?.to_owned();
        Some((status, body))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_work_survives_20_kill_9_cycles() {
        let dir = tempfile::tempdir().expect("dir");
        let db = format!("sqlite:{}", dir.path().join("k.db").display());
        kill_9_cycles(&db, 20).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_work_survives_20_kill_9_cycles_on_postgresql() {
        let Some(pg) = crate::PgSchema::new("kill").await else {
            return;
        };
        kill_9_cycles(&pg.url, 20).await;
        pg.drop_schema().await;
    }

    /// SIGTERM: the request in flight (its handler already reading the body, as the
    /// `100 Continue` shows) is answered, the process exits cleanly and holds no job lease.
    /// Its logs are JSON lines.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sigterm_answers_the_request_in_flight_and_frees_the_leases() {
        let dir = tempfile::tempdir().expect("dir");
        let db = format!("sqlite:{}", dir.path().join("t.db").display());
        let status = Command::new(BIN)
            .args(["--database", &db, "demo", "--months", "0"])
            .stdout(Stdio::null())
            .status()
            .await
            .expect("demo");
        assert!(status.success());
        let (server, addr) = start_logging(&db, true).await;
        let pool = sqlx::SqlitePool::connect(&db).await.expect("pool");
        // The job loop's first round has begun (it made its lease rows).
        let waited = std::time::Instant::now();
        while sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM job_leases")
            .fetch_one(&pool)
            .await
            .map_or(true, |(n,)| n == 0)
        {
            assert!(waited.elapsed() < std::time::Duration::from_secs(30));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let body =
            r#"{"description":"夜间施工噪音扰民","lon":113.9171,"lat":22.5168,"category":"07005"}"#;
        let mut s = TcpStream::connect(&addr).await.expect("connect");
        let head = format!(
            "POST /api/v1/cases HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.expect("head");
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        reader.read_line(&mut line).await.expect("interim");
        assert!(line.starts_with("HTTP/1.1 100"), "{line}");
        reader.read_line(&mut line).await.expect("blank");
        let pid = server.id().expect("pid").to_string();
        let term = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill");
        assert!(term.success());
        let mut s = reader.into_inner();
        s.write_all(body.as_bytes()).await.expect("body");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.expect("response");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.starts_with("HTTP/1.1 201"), "{text}");
        let exit = server.wait_with_output().await.expect("exit");
        assert!(exit.status.success(), "{:?}", exit.status);
        let logs: Vec<serde_json::Value> = String::from_utf8_lossy(&exit.stderr)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        assert!(
            logs.iter()
                .all(|l| l["level"].is_string() && l["timestamp"].is_string())
        );
        assert!(logs.iter().any(|l| l["message"] == "request"
            && l["route"] == "/api/v1/cases"
            && l["status"] == 201));
        assert!(
            logs.iter()
                .any(|l| l["message"] == "stopped; job leases released"),
            "{logs:?}"
        );
        let (leases, held): (i64, i64) =
            sqlx::query_as("SELECT COUNT(*), COUNT(owner) FROM job_leases")
                .fetch_one(&pool)
                .await
                .expect("leases");
        assert!(leases > 0, "the job ran");
        assert_eq!(held, 0);
        let (cases,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cases")
            .fetch_one(&pool)
            .await
            .expect("cases");
        assert_eq!(cases, 1);
    }

    /// `cycles` times: a server under mixed load (4 clients, each reporting a case, then
    /// accepting it as the call-taker and registering it as the dispatcher) is killed with
    /// SIGKILL after some answers, and started again. Then: every acknowledged case and event
    /// is there, no event is duplicated, and the integrity checks pass.
    async fn kill_9_cycles(db: &str, cycles: usize) {
        let db = db.to_owned();
        let status = Command::new(BIN)
            .args(["--database", &db, "demo", "--months", "0"])
            .stdout(Stdio::null())
            .status()
            .await
            .expect("demo");
        assert!(status.success());
        let key = |user: &str| {
            let db = db.clone();
            let user = user.to_owned();
            async move {
                let out = Command::new(BIN)
                    .args([
                        "--database",
                        &db,
                        "apikey",
                        "create",
                        "--name",
                        &user,
                        "--user",
                        &user,
                    ])
                    .output()
                    .await
                    .expect("apikey");
                assert!(out.status.success());
                String::from_utf8_lossy(&out.stdout).trim().to_owned()
            }
        };
        let calltaker = key("calltaker1").await;
        let dispatcher = key("dispatcher.st1").await;
        // (case id, version) of every change the server acknowledged.
        let acknowledged = Arc::new(std::sync::Mutex::new(Vec::<(String, u64)>::new()));
        let body =
            r#"{"description":"夜间施工噪音扰民","lon":113.9171,"lat":22.5168,"category":"07005"}"#;
        for cycle in 0..cycles {
            let (mut server, addr) = start(&db).await;
            let count = Arc::new(AtomicUsize::new(0));
            let progress = Arc::new(tokio::sync::Notify::new());
            let mut clients = Vec::new();
            for _ in 0..4 {
                let (addr, acknowledged, count, progress) = (
                    addr.clone(),
                    acknowledged.clone(),
                    count.clone(),
                    progress.clone(),
                );
                let steps = [
                    ("accept", calltaker.clone(), 1),
                    ("register", dispatcher.clone(), 2),
                ];
                clients.push(tokio::spawn(async move {
                    let ack = |id: &str, version: u64| {
                        acknowledged
                            .lock()
                            .expect("lock")
                            .push((id.to_owned(), version));
                        count.fetch_add(1, Ordering::SeqCst);
                        progress.notify_one();
                    };
                    // Bounded: at most 300 cases per client, stopping at the first broken request.
                    for _ in 0..300 {
                        let id = match post(&addr, "/api/v1/cases", body, "").await {
                            Some((201, body)) => {
                                let v: serde_json::Value =
                                    serde_json::from_str(&body).expect("json");
                                v["id"].as_str().expect("id").to_owned()
                            }
                            Some((status, body)) => panic!("unexpected {status}: {body}"),
                            None => return,
                        };
                        ack(&id, 1);
                        for (action, key, version) in &steps {
                            let headers = format!(
                                "Authorization: Bearer {key}\r\nIf-Match: \"{version}\"\r\n"
                            );
                            let path = format!("/api/v1/cases/{id}/actions/{action}");
                            match post(&addr, &path, "{}", &headers).await {
                                Some((200, _)) => ack(&id, version + 1),
                                Some((status, body)) => panic!("{action}: {status}: {body}"),
                                None => return,
                            }
                        }
                    }
                }));
            }
            // Kill the server mid-load, after a number of answers that varies per cycle.
            let answers = 12 + (cycle * 7) % 40;
            while count.load(Ordering::SeqCst) < answers {
                progress.notified().await;
            }
            server.start_kill().expect("kill -9");
            server.wait().await.expect("killed");
            for c in clients {
                c.await.expect("client");
            }
        }
        let acknowledged = acknowledged.lock().expect("lock").clone();
        assert!(acknowledged.len() >= cycles * 12);

        // Restart once more: the server serves on the same database.
        let (mut again, addr) = start(&db).await;
        let (status, _) = post(&addr, "/api/v1/cases", body, "")
            .await
            .expect("serves again");
        assert_eq!(status, 201);
        again.start_kill().expect("stop");
        again.wait().await.expect("stopped");

        let repo = civicgrid_store::connect(&db).await.expect("open");
        let mut cases = std::collections::BTreeMap::<String, u64>::new();
        for (id, version) in &acknowledged {
            let v = cases.entry(id.clone()).or_default();
            *v = (*v).max(*version);
        }
        for (id, acked) in &cases {
            let uuid: uuid::Uuid = id.parse().expect("uuid");
            let case = repo
                .case(&uuid)
                .await
                .expect("read")
                .unwrap_or_else(|| panic!("acknowledged case {id} was lost"));
            assert!(
                case.state.version >= *acked,
                "case {id}: change {acked} lost"
            );
            let events = repo.case_events(&uuid).await.expect("events");
            let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
            assert_eq!(
                seqs,
                (1..=case.state.version).collect::<Vec<_>>(),
                "case {id}: one event per version, no gap, no duplicate"
            );
            for action in ["report", "accept", "register"] {
                assert!(
                    events.iter().filter(|e| e.action == action).count() <= 1,
                    "case {id}: {action} twice"
                );
            }
        }
        assert_eq!(
            repo.check_integrity().await.expect("check"),
            Vec::<String>::new()
        );
        let out = Command::new(BIN)
            .args(["--database", &db, "check"])
            .output()
            .await
            .expect("check");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        eprintln!(
            "{cycles} kill -9 cycles: {} acknowledged changes on {} cases, all there",
            acknowledged.len(),
            cases.len()
        );
    }
}

mod whistle {
    use std::sync::Arc;

    use civicgrid::App;
    use civicgrid::cases::{Actor, Intake};
    use civicgrid::clock::ManualClock;
    use civicgrid::error::AppError;
    use civicgrid_domain::case::{Action, Channel};

    async fn staff(app: &App, name: &str) -> Actor {
        let u = app.repo.user(name).await.expect("q").expect("user");
        Actor::Staff {
            username: u.username,
            grants: u.grants,
        }
    }

    #[tokio::test]
    async fn summoned_departments_answer_or_their_silence_is_recorded() {
        let dir = tempfile::tempdir().expect("dir");
        let repo =
            civicgrid_store::connect(&format!("sqlite:{}", dir.path().join("w.db").display()))
                .await
                .expect("store");
        let clock = Arc::new(ManualClock::new("2026-03-03T01:00:00Z".parse().expect("t")));
        let app = App::new(repo, clock.clone());
        app.load_demo(1).await.expect("demo");
        let intake = Intake {
            grid: None,
            media_url: None,
            description: "小区外非法汽车检测站施工，存在严重安全隐患".into(),
            location: Some((113.9171, 22.5168)),
            address: None,
            category: Some("11002".parse().expect("c")),
            attributes: Default::default(),
            priority: None,
            channel: Channel::Web,
            reporter: None,
        };
        let mut case = app
            .report_case(intake, &Actor::Resident)
            .await
            .expect("report");
        let calltaker = staff(&app, "calltaker1").await;
        let dispatcher = staff(&app, "dispatcher.st1").await;
        for (who, action) in [
            (&calltaker, Action::Accept),
            (&calltaker, Action::Register),
            (
                &dispatcher,
                Action::Dispatch {
                    units: vec!["ST001".into()],
                },
            ),
        ] {
            case = app
                .act_on_case(&case.id, case.state.version, action, who)
                .await
                .expect("step");
        }
        let leader = staff(&app, "leader.st1").await;
        let due: jiff::Timestamp = "2026-03-03T03:00:00Z".parse().expect("t");
        let call = Action::WhistleCall {
            units: vec!["ZJJ".into(), "SJJ".into()],
            due_at: due,
            note: "街道吹哨，请住建、市场监管报到".into(),
        };
        // A department cannot blow the whistle; the street leader can.
        let zjj = staff(&app, "handler.zjj").await;
        assert!(matches!(
            app.act_on_case(&case.id, case.state.version, call.clone(), &zjj)
                .await,
            Err(AppError::Forbidden(_))
        ));
        case = app
            .act_on_case(&case.id, case.state.version, call, &leader)
            .await
            .expect("whistle");
        // The summoned department may answer although the case is not dispatched to it.
        case = app
            .act_on_case(
                &case.id,
                case.state.version,
                Action::AnswerWhistle {
                    unit: "ZJJ".into(),
                    note: "已到场核查".into(),
                },
                &zjj,
            )
            .await
            .expect("answer");
        clock.set("2026-03-03T02:59:00Z".parse().expect("t"));
        assert_eq!(
            app.sweep_deadlines(0.8)
                .await
                .expect("sweep")
                .missed_whistles,
            0
        );
        clock.set("2026-03-03T03:00:00Z".parse().expect("t"));
        assert_eq!(
            app.sweep_deadlines(0.8)
                .await
                .expect("sweep")
                .missed_whistles,
            1
        );
        assert_eq!(
            app.sweep_deadlines(0.8)
                .await
                .expect("sweep")
                .missed_whistles,
            0
        );
        let stored = app.get_case(&case.id).await.expect("case");
        let sjj = stored
            .state
            .summons
            .iter()
            .find(|x| x.unit == "SJJ")
            .expect("summons");
        assert!(sjj.missed && !sjj.answered);
        let last = app
            .case_timeline(&case.id)
            .await
            .expect("events")
            .pop()
            .expect("event");
        assert_eq!(
            (last.action.as_str(), last.actor.as_str()),
            ("miss_whistle", "system")
        );
    }
}

mod demo_cases {
    use std::path::PathBuf;
    use std::sync::Arc;

    use civicgrid::App;
    use civicgrid::clock::FixedClock;
    use civicgrid_domain::case::{Transition, replay};

    fn messages() -> civicgrid::demo::cases::CaseTexts {
        civicgrid::demo::cases::CaseTexts::from_dir_or_shipped(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/teddy2020"),
        )
    }

    async fn demo(
        dir: &tempfile::TempDir,
        name: &str,
    ) -> (App, civicgrid::demo::cases::DemoCasesReport) {
        demo_from(dir, name, &messages()).await
    }

    async fn demo_from(
        dir: &tempfile::TempDir,
        name: &str,
        texts: &civicgrid::demo::cases::CaseTexts,
    ) -> (App, civicgrid::demo::cases::DemoCasesReport) {
        let repo = civicgrid_store::connect(&format!("sqlite:{}", dir.path().join(name).display()))
            .await
            .expect("store");
        let app = App::new(
            repo,
            Arc::new(FixedClock("2026-11-25T04:00:00Z".parse().expect("t"))),
        );
        app.load_demo(5).await.expect("territory");
        let report = app.load_demo_cases(5, texts, 2, 120).await.expect("cases");
        (app, report)
    }

    /// The same loop on PostgreSQL: every path, integrity, and each case replays from its events.
    #[tokio::test]
    async fn the_loop_runs_the_same_on_postgresql() {
        let Some(pg) = crate::PgSchema::new("loop").await else {
            return;
        };
        let repo = pg.repo.clone();
        let app = App::new(
            repo.clone(),
            Arc::new(FixedClock("2026-11-25T04:00:00Z".parse().expect("t"))),
        );
        app.load_demo(5).await.expect("territory");
        let report = app
            .load_demo_cases(5, &messages(), 1, 150)
            .await
            .expect("cases");
        assert_eq!(report.cases, 150);
        assert_eq!(
            app.repo.check_integrity().await.expect("check"),
            Vec::<String>::new()
        );
        let all = app
            .list_cases(&civicgrid_store::CaseFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("cases");
        for case in &all {
            let events = app.case_timeline(&case.id).await.expect("events");
            let transitions: Vec<Transition> = events[1..]
                .iter()
                .map(|e| serde_json::from_value(e.payload.clone()).expect("transition"))
                .collect();
            assert_eq!(replay(&transitions), case.state, "case {}", case.id);
        }
        // The same seed on SQLite gives the same cases.
        let dir = tempfile::tempdir().expect("dir");
        let sqlite =
            civicgrid_store::connect(&format!("sqlite:{}", dir.path().join("s.db").display()))
                .await
                .expect("store");
        let twin = App::new(
            sqlite,
            Arc::new(FixedClock("2026-11-25T04:00:00Z".parse().expect("t"))),
        );
        twin.load_demo(5).await.expect("territory");
        twin.load_demo_cases(5, &messages(), 1, 150)
            .await
            .expect("cases");
        let other = twin
            .list_cases(&civicgrid_store::CaseFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("cases");
        assert_eq!(all, other);
        pg.drop_schema().await;
    }

    #[tokio::test]
    async fn months_of_cases_cover_every_path_replay_and_repeat_with_the_seed() {
        let dir = tempfile::tempdir().expect("dir");
        let (app, report) = demo(&dir, "a.db").await;
        assert_eq!(report.cases, 240);
        for path in [
            "plain",
            "rework",
            "send_back",
            "transfer",
            "extension",
            "shelve",
            "merge",
            "refuse",
            "on_site",
            "breach",
            "unsatisfied",
        ] {
            assert!(
                report.by_path.get(path).copied().unwrap_or(0) > 0,
                "no {path} case: {report:?}"
            );
        }
        assert_eq!(
            app.repo.check_integrity().await.expect("check"),
            Vec::<String>::new()
        );
        let all = app
            .list_cases(&civicgrid_store::CaseFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("cases");
        // Merged duplicates come on top of the 240.
        assert!(all.len() > 240);
        let mut grades = std::collections::BTreeSet::new();
        for case in &all {
            let events = app.case_timeline(&case.id).await.expect("events");
            let transitions: Vec<Transition> = events[1..]
                .iter()
                .map(|e| serde_json::from_value(e.payload.clone()).expect("transition"))
                .collect();
            assert_eq!(replay(&transitions), case.state, "case {}", case.id);
            for t in &transitions {
                if let civicgrid_domain::case::Action::Evaluate { satisfaction, .. } = &t.action {
                    grades.insert(format!("{satisfaction:?}"));
                }
            }
            assert!(!case.description.is_empty());
        }
        assert_eq!(grades.len(), 3, "every grade of evaluation: {grades:?}");
        assert!(
            all.iter()
                .any(|c| c.state.tier != civicgrid_domain::case::Tier::Grid),
            "some case escalated"
        );

        let (again, _) = demo(&dir, "b.db").await;
        let other = again
            .list_cases(&civicgrid_store::CaseFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("cases");
        assert_eq!(all, other, "the same seed gives the same cases");
    }

    /// A fresh clone without ../shared beside it: the shipped texts, every category of them,
    /// and handled cases with photos taken before and after, as PNG.
    #[tokio::test]
    async fn without_the_data_set_the_demo_runs_on_the_shipped_texts_with_photos() {
        use civicgrid::demo::cases::CaseTexts;
        use civicgrid_domain::case::PhotoStage;
        let dir = tempfile::tempdir().expect("dir");
        let (app, report) = demo_from(&dir, "s.db", &CaseTexts::Shipped).await;
        assert_eq!(report.cases, 240);
        let all = app
            .list_cases(&civicgrid_store::CaseFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .expect("cases");
        let shipped = civicgrid::app::shipped::DEMO_CASE_TEXTS_TOML;
        let categories: std::collections::BTreeSet<_> =
            all.iter().filter_map(|c| c.category.clone()).collect();
        assert!(categories.len() > 40, "{} categories", categories.len());
        let mut with_both = 0;
        for case in &all {
            let subject = case
                .description
                .trim_start_matches("（另一位居民反映）")
                .split('：')
                .next()
                .unwrap_or("");
            assert!(
                shipped.contains(subject),
                "{} is not a shipped text",
                case.description
            );
            let stages: Vec<PhotoStage> = case.state.photos.iter().map(|(s, _)| *s).collect();
            if stages.contains(&PhotoStage::Before) && stages.contains(&PhotoStage::After) {
                with_both += 1;
                for (_, sha) in &case.state.photos {
                    let photo = app
                        .repo
                        .photo(&case.id, sha)
                        .await
                        .expect("read")
                        .expect("stored");
                    assert_eq!(photo.content_type, "image/png");
                    assert!(photo.data.starts_with(b"\x89PNG\r\n\x1a\n"));
                }
            }
            // Every case that reached verification was handled on camera.
            if case.state.status == civicgrid_domain::case::Status::Closed
                && !case.state.resolved_on_site
            {
                assert!(
                    stages.contains(&PhotoStage::Before) && stages.contains(&PhotoStage::After),
                    "closed case {} without before/after photos: {stages:?}",
                    case.id
                );
            }
        }
        assert!(
            with_both > 100,
            "{with_both} cases with before and after photos"
        );
        assert_eq!(
            app.repo.check_integrity().await.expect("check"),
            Vec::<String>::new()
        );
    }
}
