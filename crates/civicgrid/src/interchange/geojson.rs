//! GeoJSON (RFC 7946) FeatureCollections of grids, read and written.

use civicgrid_domain::geometry::repair::RawPolygon;
use civicgrid_domain::territory::Grid;
use serde_json::{Map, Value, json};

use crate::error::{InputError, Location};

/// One feature as read, before repair.
#[derive(Debug, Clone)]
pub struct GridFeature {
    pub index: usize,
    pub code: Option<String>,
    pub name: Option<String>,
    pub polygons: Vec<RawPolygon>,
}

impl GridFeature {
    pub fn label(&self) -> Option<String> {
        self.code
            .as_ref()
            .map(|c| format!("code {c}"))
            .or_else(|| self.name.as_ref().map(|n| format!("name {n}")))
    }
}

pub fn feature_error(
    file: &str,
    index: usize,
    label: Option<String>,
    field: Option<&str>,
    message: impl Into<String>,
) -> InputError {
    InputError {
        file: file.to_owned(),
        location: Location::Feature { index, label },
        field: field.map(str::to_owned),
        message: message.into(),
    }
}

/// Names under which GeoJSON 2008's `crs` member may say WGS84 lon/lat.
const WGS84_NAMES: &[&str] = &[
    "urn:ogc:def:crs:OGC:1.3:CRS84",
    "urn:ogc:def:crs:OGC::CRS84",
    "urn:ogc:def:crs:EPSG::4326",
    "EPSG:4326",
    "CRS84",
];

/// Reads the features of a FeatureCollection. Every problem found is returned, not just the
/// first, so one run of the import shows everything to fix.
pub fn read_grid_features(
    file: &str,
    text: &str,
    code_prop: &str,
    name_prop: &str,
) -> Result<Vec<GridFeature>, Vec<InputError>> {
    let root: Value = serde_json::from_str(text).map_err(|e| {
        vec![InputError {
            file: file.to_owned(),
            location: Location::Line {
                line: e.line() as u64,
                column: Some(e.column() as u64),
            },
            field: None,
            message: format!("malformed JSON: {e}"),
        }]
    })?;
    let whole = |field: Option<&str>, m: String| {
        vec![InputError {
            file: file.to_owned(),
            location: Location::File,
            field: field.map(str::to_owned),
            message: m,
        }]
    };
    if root.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(whole(
            Some("type"),
            "expected a GeoJSON FeatureCollection".into(),
        ));
    }
    if let Some(crs) = root.get("crs") {
        let name = crs
            .pointer("/properties/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !WGS84_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Err(whole(
                Some("crs"),
                format!(
                    "coordinate reference system `{name}` is not WGS84; RFC 7946 requires longitude/latitude in WGS84 — reproject to EPSG:4326 first"
                ),
            ));
        }
    }
    let Some(features) = root.get("features").and_then(Value::as_array) else {
        return Err(whole(
            Some("features"),
            "expected an array of features".into(),
        ));
    };
    if features.is_empty() {
        return Err(whole(
            Some("features"),
            "the collection has no features".into(),
        ));
    }
    let mut out = Vec::with_capacity(features.len());
    let mut errors = Vec::new();
    for (index, feature) in features.iter().enumerate() {
        match read_feature(file, index, feature, code_prop, name_prop) {
            Ok(f) => out.push(f),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn property_text(props: Option<&Map<String, Value>>, name: &str) -> Option<String> {
    match props?.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn read_feature(
    file: &str,
    index: usize,
    feature: &Value,
    code_prop: &str,
    name_prop: &str,
) -> Result<GridFeature, InputError> {
    let props = feature.get("properties").and_then(Value::as_object);
    let code = property_text(props, code_prop);
    let name = property_text(props, name_prop);
    let label = code
        .as_ref()
        .map(|c| format!("code {c}"))
        .or_else(|| name.as_ref().map(|n| format!("name {n}")))
        .or_else(|| feature.get("id").map(|id| format!("id {id}")));
    let err = |field: &str, m: String| feature_error(file, index, label.clone(), Some(field), m);
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(err("type", "expected a Feature".into()));
    }
    let Some(geometry) = feature.get("geometry").filter(|g| !g.is_null()) else {
        return Err(err("geometry", "the feature has no geometry".into()));
    };
    let kind = geometry.get("type").and_then(Value::as_str).unwrap_or("");
    let coords = geometry.get("coordinates");
    let polygons = match kind {
        "Polygon" => vec![read_polygon(coords).map_err(|m| err("geometry.coordinates", m))?],
        "MultiPolygon" => coords
            .and_then(Value::as_array)
            .ok_or_else(|| {
                err(
                    "geometry.coordinates",
                    "expected an array of polygons".into(),
                )
            })?
            .iter()
            .enumerate()
            .map(|(i, p)| {
                read_polygon(Some(p))
                    .map_err(|m| err("geometry.coordinates", format!("polygon {i}: {m}")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(err(
                "geometry.type",
                format!("`{other}` is not a Polygon or MultiPolygon"),
            ));
        }
    };
    Ok(GridFeature {
        index,
        code,
        name,
        polygons,
    })
}

fn read_polygon(v: Option<&Value>) -> Result<RawPolygon, String> {
    let rings = v
        .and_then(Value::as_array)
        .ok_or("expected an array of rings")?;
    let mut out = Vec::with_capacity(rings.len());
    for (ri, ring) in rings.iter().enumerate() {
        let positions = ring
            .as_array()
            .ok_or_else(|| format!("ring {ri}: expected an array of positions"))?;
        let mut pts = Vec::with_capacity(positions.len());
        for (pi, p) in positions.iter().enumerate() {
            let xy = p
                .as_array()
                .filter(|a| a.len() >= 2)
                .and_then(|a| Some([a[0].as_f64()?, a[1].as_f64()?]))
                .ok_or_else(|| {
                    format!("ring {ri} position {pi}: expected [longitude, latitude]")
                })?;
            pts.push(xy);
        }
        out.push(pts);
    }
    Ok(RawPolygon { rings: out })
}

/// The gazetteer as GeoJSON: Point features with `name` and `kind` (building or landmark)
/// properties. Every problem is named by its feature.
pub fn read_places(
    file: &str,
    text: &str,
) -> Result<Vec<(usize, super::tables::RawPlace)>, Vec<InputError>> {
    let root: Value = serde_json::from_str(text)
        .map_err(|e| vec![InputError::file(file, format!("not JSON: {e}"))])?;
    if root.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(vec![InputError::file(
            file,
            "expected a GeoJSON FeatureCollection",
        )]);
    }
    let features = root
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| vec![InputError::file(file, "`features` must be an array")])?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (index, f) in features.iter().enumerate() {
        let props = f.get("properties");
        let text_prop = |k: &str| props.and_then(|p| p.get(k)).and_then(Value::as_str);
        let label = text_prop("name").map(str::to_owned);
        let bad = |field: &str, message: String| InputError {
            file: file.to_owned(),
            location: crate::error::Location::Feature {
                index,
                label: label.clone(),
            },
            field: Some(field.to_owned()),
            message,
        };
        let name = match text_prop("name").map(str::trim) {
            Some(n) if !n.is_empty() && n.chars().count() <= 100 => n.to_owned(),
            _ => {
                errors.push(bad("name", "1 to 100 characters are required".into()));
                continue;
            }
        };
        let kind = match text_prop("kind").unwrap_or("").parse() {
            Ok(k) => k,
            Err(e) => {
                errors.push(bad("kind", e));
                continue;
            }
        };
        let point = f
            .get("geometry")
            .filter(|g| g.get("type").and_then(Value::as_str) == Some("Point"))
            .and_then(|g| g.get("coordinates"))
            .and_then(Value::as_array)
            .and_then(|c| Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?)))
            .filter(|(x, y)| (-180.0..=180.0).contains(x) && (-90.0..=90.0).contains(y));
        match point {
            Some((lon, lat)) => out.push((index, (name, kind, lon, lat))),
            None => errors.push(bad(
                "geometry",
                "expected a Point [longitude, latitude] in WGS84".into(),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Writes grids as a FeatureCollection with `code`, `name`, `region` and `area_m2` properties.
pub fn write_grids(grids: &[Grid]) -> Value {
    use geo::GeodesicArea;
    let features: Vec<Value> = grids
        .iter()
        .map(|g| {
            json!({
                "type": "Feature",
                "id": g.code.as_str(),
                "properties": {
                    "code": g.code.as_str(),
                    "name": g.name,
                    "region": g.region.as_str(),
                    "area_m2": (g.geometry.geodesic_area_unsigned() * 10.0).round() / 10.0,
                },
                "geometry": civicgrid_store::multipolygon_to_json(&g.geometry),
            })
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}
