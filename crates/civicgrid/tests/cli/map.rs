//! The map people use: a base map from a tile server the deployment sets (here one started by
//! the test), nothing from outside without one; the grids as GeoJSON, a point placed in its
//! grid and community by name, the place search, the cases on the public map; and a report
//! whose place lies in another community than the one its text names is held for a check.

use std::sync::Arc;

use axum::http::StatusCode;
use civicgrid::territory::map::MapSettings;

use super::support::TestApp;

/// A tile server on a free local port answering every `/{z}/{x}/{y}.png` with a PNG; its URL
/// template.
async fn tile_server() -> String {
    // The 1×1 PNG every tile is: what the browser would draw.
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90,
        0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8,
        0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00,
        0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    let router = axum::Router::new().route(
        "/{z}/{x}/{y}",
        axum::routing::get(|| async { ([(axum::http::header::CONTENT_TYPE, "image/png")], PNG) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}/{{z}}/{{x}}/{{y}}.png")
}

/// The `data-map` JSON of the first map on a page.
fn map_config(html: &str) -> serde_json::Value {
    let start = html
        .find("data-map=\"")
        .expect("a map with its configuration")
        + 10;
    let end = start + html[start..].find('"').expect("end");
    let raw = html[start..end]
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{e}: {raw}"))
}

#[tokio::test]
async fn a_deployment_sets_its_tile_server_and_pages_fetch_nothing_else() {
    let mut t = TestApp::builder().demo(1).build().await;
    // No tile server set: the SVG map with names and a legend, no map library, nothing from
    // outside.
    let page = t.get("/report").send().await;
    let csp = page
        .header("content-security-policy")
        .expect("csp")
        .to_owned();
    assert!(csp.contains("img-src 'self' data:;"), "{csp}");
    let html = page.text();
    assert!(!html.contains("/static/vendor/leaflet.js"));
    assert!(html.contains("class=\"community-label\"") && html.contains("class=\"map-legend\""));
    assert_eq!(map_config(&html)["tiles"], serde_json::Value::Null);
    assert_eq!(map_config(&html)["pick"], true);

    // The test's own tile server, as a deployment sets it (`serve --map-tiles`).
    let tiles = tile_server().await;
    t.app.map = Arc::new(
        MapSettings::with_tiles(Some(tiles.clone()), "© 测试底图".into(), 18).expect("settings"),
    );
    let page = t.get("/report").send().await;
    let origin = tiles.split("/{z}").next().expect("origin").to_owned();
    let csp = page
        .header("content-security-policy")
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains(&format!("img-src 'self' data: {origin};")),
        "{csp}"
    );
    let html = page.text();
    assert!(html.contains("<script src=\"/static/vendor/leaflet.js\" defer>"));
    let config = map_config(&html);
    assert_eq!(config["tiles"], tiles.as_str());
    assert_eq!(config["attribution"], "© 测试底图");
    assert_eq!(config["labels"]["chosen"], "已选：{grid}（{community}）");
    // The library and its images are served by the platform itself.
    let lib = t.get("/static/vendor/leaflet.js").send().await;
    assert_eq!(lib.status, StatusCode::OK);
    assert!(lib.text().contains("Leaflet"));
    assert_eq!(
        t.get("/static/vendor/images/marker-icon.png")
            .send()
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        t.get("/static/vendor/nothing.js").send().await.status,
        StatusCode::NOT_FOUND
    );
    // The tile URL the pages name answers with tiles.
    let path = tiles
        .replace("{z}", "12")
        .replace("{x}", "3337")
        .replace("{y}", "1780");
    let addr = origin.trim_start_matches("http://").to_owned();
    let path = path.trim_start_matches(&origin).to_owned();
    let answer = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .expect("request");
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.expect("answer");
        out
    };
    assert!(answer.starts_with(b"HTTP/1.0 200") || answer.starts_with(b"HTTP/1.1 200"));
    assert!(answer.windows(4).any(|w| w == b"\x89PNG"), "a PNG tile");
    // Every map page carries the same base map.
    for path in ["/cases", "/report?category=01001"] {
        let html = t.get(path).send().await.text();
        assert_eq!(map_config(&html)["tiles"], tiles.as_str(), "{path}");
    }
    // A tile URL that is not a template is refused at start.
    assert!(
        MapSettings::with_tiles(Some("https://tiles.example/".into()), String::new(), 18).is_err()
    );
}

#[tokio::test]
async fn points_are_placed_by_name_and_places_are_found() {
    let t = TestApp::builder().demo(1).build().await;
    let here = t.get("/map/locate?lon=113.9171&lat=22.5168").send().await;
    assert_eq!(here.status, StatusCode::OK, "{}", here.text());
    let here = here.json();
    assert_eq!(here["grid"], "440305001001001");
    let community = here["community_name"]
        .as_str()
        .expect("community")
        .to_owned();
    let grid_name = here["grid_name"].as_str().expect("grid name").to_owned();
    assert!(
        community.ends_with("社区") && grid_name.contains("网格"),
        "{here}"
    );
    // Outside every grid: a problem the script shows as it is, in the reader's language.
    let outside = t.get("/map/locate?lon=100.0&lat=30.0").send().await;
    assert_eq!(outside.status, StatusCode::NOT_FOUND);
    assert_eq!(
        outside.header("content-type"),
        Some("application/problem+json")
    );
    assert!(
        outside.json()["detail"]
            .as_str()
            .expect("detail")
            .contains("网格")
    );
    assert_eq!(
        t.get("/map/locate?lon=abc&lat=22").send().await.status,
        StatusCode::BAD_REQUEST
    );
    // The grids with their communities, for the map script.
    let grids = t.get("/map/grids.geojson").send().await.json();
    let features = grids["features"].as_array().expect("features");
    assert_eq!(features.len(), 72);
    assert!(features.iter().all(|f| {
        f["properties"]["community_name"]
            .as_str()
            .is_some_and(|n| n.ends_with("社区"))
    }));
    // Search by community name and by grid name.
    let found = t
        .get(&format!(
            "/map/places?q={}",
            civicgrid::cases::pages::resident::urlencode(&community)
        ))
        .send()
        .await
        .json();
    let found = found.as_array().expect("places");
    assert!(
        found
            .iter()
            .any(|p| p["kind"] == "community" && p["name"] == community.as_str()),
        "{found:?}"
    );
    assert!(found.len() <= 10);
    let p = found
        .iter()
        .find(|p| p["kind"] == "community")
        .expect("community");
    let (lon, lat) = (
        p["lon"].as_f64().expect("lon"),
        p["lat"].as_f64().expect("lat"),
    );
    assert!((113.8..114.1).contains(&lon) && (22.4..22.7).contains(&lat));
    let nothing = t
        .get("/map/places?q=%E4%B8%8D%E5%AD%98%E5%9C%A8")
        .send()
        .await
        .json();
    assert_eq!(nothing, serde_json::json!([]));
}

#[tokio::test]
async fn a_place_in_another_community_than_the_text_names_is_held_for_a_check() {
    let t = TestApp::builder().demo(1).build().await;
    let here = t
        .get("/map/locate?lon=113.9171&lat=22.5168")
        .send()
        .await
        .json();
    let chosen = here["community_name"]
        .as_str()
        .expect("community")
        .to_owned();
    // Another community of the territory, named in the description.
    let grids = t.get("/map/grids.geojson").send().await.json();
    let other = grids["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["properties"]["community_name"].as_str())
        .find(|n| *n != chosen)
        .expect("another community")
        .to_owned();
    let token = t
        .get("/report")
        .send()
        .await
        .cookies()
        .iter()
        .find_map(|c| c.strip_prefix("cg_csrf="))
        .and_then(|c| c.split(';').next())
        .expect("csrf")
        .to_owned();
    let post = |confirmed: bool, duplicates_seen: bool| {
        let boundary = "----placeboundary";
        let mut body = String::new();
        let description = format!("{other}小区门口井盖丢失");
        let mut fields = vec![
            ("csrf", token.as_str()),
            ("category", "01001"),
            ("attr_damage", "missing"),
            ("description", description.as_str()),
            ("lon", "113.9171"),
            ("lat", "22.5168"),
        ];
        if confirmed {
            fields.push(("place_confirmed", "yes"));
        }
        if duplicates_seen {
            fields.push(("confirmed", "yes"));
        }
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        t.post("/report").cookie(&format!("cg_csrf={token}")).bytes(
            &format!("multipart/form-data; boundary={boundary}"),
            body.into_bytes(),
        )
    };
    let count = || async {
        t.app
            .list_cases(&civicgrid_store::CaseFilter {
                limit: 100,
                ..Default::default()
            })
            .await
            .expect("cases")
            .len()
    };
    // An open case of the same kind nearby: the duplicates check comes too.
    t.app
        .report_case(
            civicgrid::cases::Intake {
                grid: None,
                media_url: None,
                description: "路口井盖丢失".into(),
                location: Some((113.9171, 22.5168)),
                address: None,
                category: Some("01001".parse().expect("category")),
                attributes: [("damage".to_owned(), "missing".to_owned())].into(),
                priority: None,
                channel: civicgrid_domain::case::Channel::Web,
                reporter: None,
            },
            &civicgrid::cases::Actor::Resident,
        )
        .await
        .expect("nearby");
    let before = count().await;
    let held = post(false, false).send().await;
    assert_eq!(held.status, StatusCode::OK);
    let html = held.text();
    assert!(html.contains("id=\"place-warning\""), "{html}");
    assert!(html.contains(&other) && html.contains(&chosen));
    // The place chosen is named before sending.
    let shown = html
        .split("id=\"place-chosen\"")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .expect("the place chosen, named");
    assert!(shown.contains(&chosen), "{shown}");
    assert_eq!(
        count().await,
        before,
        "nothing is stored until the reporter confirms"
    );
    // The place confirmed, the duplicates are shown, and the place stays confirmed with them:
    // one check never undoes the other.
    let duplicates = post(true, false).send().await.text();
    assert!(
        duplicates.contains("id=\"dup-title\""),
        "the duplicates are shown"
    );
    assert!(duplicates.contains("name=\"place_confirmed\" value=\"yes\""));
    assert!(duplicates.contains("name=\"confirmed\" value=\"yes\""));
    assert!(!duplicates.contains("id=\"place-warning\""));
    assert_eq!(count().await, before);
    let sent = post(true, true).send().await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text());
    assert_eq!(count().await, before + 1);
}
