//! The map people use: the deployment's base map (XYZ raster tiles from a URL it sets, e.g.
//! its own tile server or 天地图 with its key; none by default, and then the server-drawn SVG
//! is the map), and what the map script asks of the territory — the grids as GeoJSON with
//! their communities, a point placed in its grid and community, and a place search over grid
//! and community names. Every page's map carries its configuration (`MapConfig`) as JSON.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::App;
use crate::web::{Ctx, Pages};

/// The deployment's base map. Without a tile URL nothing is fetched from outside.
#[derive(Debug, Clone)]
pub struct MapSettings {
    /// An XYZ tile URL template (`https://tiles.example/{z}/{x}/{y}.png`, `{s}` allowed).
    pub tiles: Option<String>,
    /// Shown on the map, as the tile provider requires.
    pub attribution: String,
    pub max_zoom: u8,
}

impl Default for MapSettings {
    fn default() -> Self {
        MapSettings {
            tiles: None,
            attribution: String::new(),
            max_zoom: 18,
        }
    }
}

impl MapSettings {
    /// The settings with `tiles` checked: an http(s) URL with {z}, {x} and {y}.
    pub fn with_tiles(
        tiles: Option<String>,
        attribution: String,
        max_zoom: u8,
    ) -> Result<Self, String> {
        if let Some(t) = &tiles {
            let http = t.starts_with("https://") || t.starts_with("http://");
            if !http || !["{z}", "{x}", "{y}"].iter().all(|p| t.contains(p)) {
                return Err(format!(
                    "--map-tiles `{t}` is not an http(s) URL template with {{z}}, {{x}} and {{y}}"
                ));
            }
            // The pages' CSP names the tile host; a wildcard may only be its first label.
            let host = t
                .split("://")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .unwrap_or("");
            let printable = host.bytes().all(|b| b.is_ascii_graphic());
            if !printable || host.split('.').skip(1).any(|label| label.contains("{s}")) {
                return Err(format!(
                    "--map-tiles `{t}`: the host must be ASCII, with {{s}} only in its first label"
                ));
            }
        }
        if !(1..=22).contains(&max_zoom) {
            return Err(format!("--map-max-zoom {max_zoom} is not 1 to 22"));
        }
        Ok(MapSettings {
            tiles,
            attribution,
            max_zoom,
        })
    }

    /// The origin the tiles come from (for the pages' content security policy), `{s}`
    /// subdomains widened to a wildcard.
    pub fn tile_origin(&self) -> Option<String> {
        let t = self.tiles.as_deref()?;
        let (scheme, rest) = t.split_once("://")?;
        let host = rest.split('/').next()?;
        // A host label holding `{s}` (t{s}.tianditu.gov.cn) becomes the wildcard label CSP
        // allows (*.tianditu.gov.cn).
        let host: Vec<String> = host
            .split('.')
            .map(|label| {
                if label.contains("{s}") {
                    "*".to_owned()
                } else {
                    label.to_owned()
                }
            })
            .collect();
        Some(format!("{scheme}://{}", host.join(".")))
    }
}

/// What one map on a page needs: the JSON its `data-map` attribute carries.
pub struct MapConfig<'a> {
    /// The report form's map: clicks, "use my location" and search results choose the place.
    pub pick: bool,
    /// Where the case points come from, if the map shows cases.
    pub cases: Option<&'a str>,
}

impl App {
    /// The `data-map` JSON of a map in `ctx`'s language.
    pub fn map_config(&self, ctx: &Ctx, config: MapConfig<'_>) -> String {
        let m = &self.map;
        // The script fills {grid}, {community} and {count} itself.
        let with = |key: &str, names: &[&str]| {
            crate::web::i18n::t(
                ctx.lang,
                key,
                &names
                    .iter()
                    .map(|n| (*n, format!("{{{n}}}")))
                    .collect::<Vec<_>>(),
            )
        };
        json!({
            "tiles": m.tiles,
            "attribution": m.attribution,
            "max_zoom": m.max_zoom,
            "min_zoom": 3,
            "grids": "/map/grids.geojson",
            "cases": config.cases,
            "pick": config.pick,
            "locate": "/map/locate",
            "places": "/map/places",
            "labels": {
                "use_location": ctx.t("map-use-location"),
                "locating": ctx.t("map-locating"),
                "no_location": ctx.t("map-no-location"),
                "search": ctx.t("map-search"),
                "chosen": with("map-chosen", &["grid", "community"]),
                "mismatch": ctx.t("err-outside"),
                "cases": with("map-cluster", &["count"]),
                "map": ctx.t("map-title"),
                "no_results": ctx.t("map-no-results"),
                "results": with("map-results", &["count"]),
                "kinds": {
                    "grid": ctx.t("kpi-kind-grid"),
                    "community": ctx.t("kpi-kind-region"),
                    "building": ctx.t("map-kind-building"),
                    "landmark": ctx.t("map-kind-landmark"),
                },
            },
        })
        .to_string()
    }
}

pub fn routes() -> Pages {
    Pages::new()
        .route("/map/grids.geojson", get(grids))
        .route("/map/locate", get(locate))
        .route("/map/places", get(places))
}

fn json_answer(status: StatusCode, content_type: &'static str, body: Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// A problem (RFC 9457) for the map script, whose `detail` it shows as it is: in the reader's
/// language.
fn problem(status: StatusCode, detail: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        json!({"type": "about:blank", "title": status.canonical_reason(), "status": status.as_u16(), "detail": detail}).to_string(),
    )
        .into_response()
}

/// The grids with their names and communities: the territory is public, as on the SVG map.
async fn grids(State(app): State<App>, ctx: Ctx) -> Response {
    let (grids, reference) = match (app.repo.grids(None).await, app.reference().await) {
        (Ok(g), Ok(r)) => (g, r),
        (Err(e), _) => return ctx.app_error(e.into()),
        (_, Err(e)) => return ctx.app_error(e),
    };
    let features: Vec<Value> = grids
        .iter()
        .map(|g| {
            let street = g.region.parent();
            json!({
                "type": "Feature",
                "id": g.code.as_str(),
                "properties": {
                    "code": g.code.as_str(),
                    "name": g.name,
                    "community_code": g.region.as_str(),
                    "community_name": reference.region_name(&g.region),
                    "street_name": street.map(|s| reference.region_name(&s)),
                },
                "geometry": civicgrid_store::multipolygon_to_json(&g.geometry),
            })
        })
        .collect();
    json_answer(
        StatusCode::OK,
        "application/geo+json",
        json!({"type": "FeatureCollection", "features": features}),
    )
}

#[derive(serde::Deserialize)]
struct Point {
    lon: Option<String>,
    lat: Option<String>,
}

/// The grid and community of a point, so that the reporter reads where the report goes before
/// sending it.
async fn locate(State(app): State<App>, ctx: Ctx, Query(p): Query<Point>) -> Response {
    let read = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<f64>().ok());
    let (Some(lon), Some(lat)) = (read(&p.lon), read(&p.lat)) else {
        return problem(StatusCode::BAD_REQUEST, ctx.t("err-number"));
    };
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return problem(StatusCode::BAD_REQUEST, ctx.t("err-number"));
    }
    let reference = match app.reference().await {
        Ok(r) => r,
        Err(e) => return ctx.app_error(e),
    };
    let Some(grid) = reference.grid_index.locate(lon, lat) else {
        return problem(StatusCode::NOT_FOUND, ctx.t("err-outside"));
    };
    let community = reference.grid_regions.get(grid);
    json_answer(
        StatusCode::OK,
        "application/json",
        json!({
            "grid": grid.as_str(),
            "grid_name": reference.grid_names.get(grid),
            "community": community.map(|c| c.as_str()),
            "community_name": community.map(|c| reference.region_name(c)),
        }),
    )
}

#[derive(serde::Deserialize)]
struct Search {
    q: Option<String>,
}

/// Places by name: grids and communities whose name holds the words typed, at the middle of
/// their outline; at most 10, communities first.
async fn places(State(app): State<App>, ctx: Ctx, Query(s): Query<Search>) -> Response {
    use geo::{BoundingRect, InteriorPoint};
    let q: String = s.q.unwrap_or_default().trim().chars().take(50).collect();
    if q.is_empty() {
        return json_answer(StatusCode::OK, "application/json", json!([]));
    }
    let (grids, reference) = match (app.repo.grids(None).await, app.reference().await) {
        (Ok(g), Ok(r)) => (g, r),
        (Err(e), _) => return ctx.app_error(e.into()),
        (_, Err(e)) => return ctx.app_error(e),
    };
    let mut found: Vec<Value> = Vec::new();
    // Communities: the middle of their grids' bounds.
    let mut communities: Vec<(&civicgrid_domain::territory::RegionCode, geo::Rect<f64>)> =
        Vec::new();
    for g in &grids {
        let Some(r) = g.geometry.bounding_rect() else {
            continue;
        };
        match communities.iter_mut().find(|(c, _)| *c == &g.region) {
            Some((_, b)) => {
                *b = geo::Rect::new(
                    geo::coord! { x: b.min().x.min(r.min().x), y: b.min().y.min(r.min().y) },
                    geo::coord! { x: b.max().x.max(r.max().x), y: b.max().y.max(r.max().y) },
                );
            }
            None => communities.push((&g.region, r)),
        }
    }
    for (code, _) in &communities {
        let name = reference.region_name(code);
        if !name.contains(&q) {
            continue;
        }
        // A point inside the community (its bounds' centre may lie outside an L-shaped one).
        let inside = grids
            .iter()
            .filter(|g| &g.region == *code)
            .find_map(|g| g.geometry.interior_point());
        if let Some(p) = inside {
            found.push(json!({"name": name, "kind": "community", "lon": p.x(), "lat": p.y(), "grid_name": null, "community_name": name}));
        }
    }
    for g in &grids {
        if !g.name.contains(&q) {
            continue;
        }
        let Some(p) = g.geometry.interior_point() else {
            continue;
        };
        found.push(json!({
            "name": g.name,
            "kind": "grid",
            "lon": p.x(),
            "lat": p.y(),
            "grid_name": g.name,
            "community_name": reference.region_name(&g.region),
        }));
    }
    // Buildings and landmarks from the gazetteer, each with the grid and community it is in.
    let gazetteer = match app.repo.find_places(&q, 10).await {
        Ok(p) => p,
        Err(e) => return ctx.app_error(e.into()),
    };
    let communities_found = found
        .iter()
        .take_while(|f| f["kind"] == "community")
        .count();
    let mut named = Vec::new();
    for p in gazetteer {
        let grid = reference.grid_index.locate(p.lon, p.lat);
        named.push(json!({
            "name": p.name,
            "kind": p.kind.as_str(),
            "lon": p.lon,
            "lat": p.lat,
            "grid_name": grid.and_then(|g| reference.grid_names.get(g)),
            "community_name": reference.region_name(&p.region),
        }));
    }
    // Communities, then the buildings and landmarks, then grids.
    found.splice(communities_found..communities_found, named);
    found.truncate(10);
    json_answer(StatusCode::OK, "application/json", json!(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_urls_are_checked_and_give_their_origin() {
        let m = MapSettings::with_tiles(
            Some("https://{s}.tiles.example.cn/vec/{z}/{x}/{y}.png?tk=KEY".into()),
            "© 天地图".into(),
            18,
        )
        .expect("good");
        assert_eq!(
            m.tile_origin().as_deref(),
            Some("https://*.tiles.example.cn")
        );
        assert!(
            MapSettings::with_tiles(Some("ftp://x/{z}/{x}/{y}".into()), String::new(), 18).is_err()
        );
        assert!(
            MapSettings::with_tiles(Some("https://x/{z}/{x}.png".into()), String::new(), 18)
                .is_err()
        );
        assert!(MapSettings::with_tiles(None, String::new(), 30).is_err());
        assert_eq!(MapSettings::default().tile_origin(), None);
        let tianditu = MapSettings::with_tiles(
            Some("https://t{s}.tianditu.gov.cn/vec_w/wmts?tk=KEY&x={x}&y={y}&l={z}".into()),
            String::new(),
            18,
        )
        .expect("tianditu");
        assert_eq!(
            tianditu.tile_origin().as_deref(),
            Some("https://*.tianditu.gov.cn")
        );
        assert!(
            MapSettings::with_tiles(
                Some("https://a.{s}.example.cn/{z}/{x}/{y}.png".into()),
                String::new(),
                18
            )
            .is_err()
        );
    }
}
