//! The gazetteer: buildings and landmarks imported as CSV or GeoJSON (all or nothing, every
//! bad row named by file, line or feature, and field), exported again, and found by the map's
//! place search with the grid and community they are in.

use super::support::TestApp;

#[tokio::test]
async fn a_gazetteer_is_imported_named_and_found_on_the_map() {
    let t = TestApp::builder().demo(1).build().await;
    // The demo has one: each community's service centre, park, school and buildings.
    let park = t
        .get("/map/places?q=%E5%85%AC%E5%9B%AD")
        .send()
        .await
        .json();
    let park = park.as_array().expect("places");
    assert!(
        park.iter()
            .any(|p| p["kind"] == "landmark" && p["grid_name"].is_string()),
        "{park:?}"
    );
    let before = t.app.export_places().await.expect("export");

    // A bad file: every problem named, nothing changed.
    let bad = "name,kind,lon,lat\n南头街道办事处,landmark,113.9171,22.5168\n第一栋,tower,113.9171,22.5168\n远方,building,100.0,30.0\n,building,113.9171,22.5168\n";
    let errors = match t.app.import_places("places.csv", bad).await {
        Err(civicgrid::error::AppError::Input(e)) => e,
        other => panic!("{other:?}"),
    };
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 2, "{text:?}");
    assert!(
        text[0].contains("places.csv") && text[0].contains("line 3") && text[0].contains("kind"),
        "{text:?}"
    );
    assert!(
        text[1].contains("line 5") && text[1].contains("name"),
        "{text:?}"
    );
    // Once the rows read, a place outside every grid is named by its line.
    let outside =
        "name,kind,lon,lat\n南头街道办事处,landmark,113.9171,22.5168\n远方,building,100.0,30.0\n";
    match t.app.import_places("places.csv", outside).await {
        Err(civicgrid::error::AppError::Input(e)) => {
            assert_eq!(e.len(), 1);
            let e = e[0].to_string();
            assert!(
                e.contains("line 3") && e.contains("lon") && e.contains("outside"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(t.app.export_places().await.expect("export"), before);

    // A good CSV replaces the gazetteer, and the search finds it with its grid and community.
    let good = "name,kind,lon,lat\n南头街道办事处,landmark,113.9171,22.5168\n荔林苑3栋,building,113.9172,22.5169\n";
    assert_eq!(
        t.app
            .import_places("places.csv", good)
            .await
            .expect("imported"),
        2
    );
    let found = t
        .get(&format!(
            "/map/places?q={}",
            civicgrid::cases::pages::resident::urlencode("荔林苑")
        ))
        .send()
        .await
        .json();
    let found = found.as_array().expect("places");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["kind"], "building");
    assert!(
        found[0]["community_name"]
            .as_str()
            .is_some_and(|c| c.ends_with("社区"))
    );
    let exported = t.app.export_places().await.expect("export");
    assert!(exported.starts_with("name,kind,lon,lat") && exported.contains("荔林苑3栋,building"));

    // GeoJSON Points too, problems named by feature.
    let geo = r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"name":"荔香公园","kind":"landmark"},"geometry":{"type":"Point","coordinates":[113.9171,22.5168]}},
        {"type":"Feature","properties":{"name":"坏点","kind":"landmark"},"geometry":{"type":"Polygon","coordinates":[]}}]}"#;
    match t.app.import_places("places.geojson", geo).await {
        Err(civicgrid::error::AppError::Input(e)) => {
            assert_eq!(e.len(), 1);
            assert!(e[0].to_string().contains("geometry"), "{}", e[0]);
        }
        other => panic!("{other:?}"),
    }
    let geo = geo.replace(
        r#","geometry":{"type":"Polygon","coordinates":[]}"#,
        r#","geometry":{"type":"Point","coordinates":[113.9172,22.5169]}"#,
    );
    assert_eq!(
        t.app
            .import_places("places.geojson", &geo)
            .await
            .expect("imported"),
        2
    );
}
