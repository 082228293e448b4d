//! Territory at the command line: grid imports with repairs, refusals that name the problem,
//! gaps and overlaps, point → grid.

#![allow(unused_imports)]
use super::{Env, PgSchema, collection, everything, feature, path, square};
use civicgrid::cli::{Cli, run};
use civicgrid::error::AppError;
use clap::Parser;
use std::path::{Path, PathBuf};

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
