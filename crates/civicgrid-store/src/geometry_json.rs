//! Grid geometry is stored as a GeoJSON MultiPolygon geometry object, readable by any tool.

use geo::{Coord, LineString, MultiPolygon, Polygon};
use serde_json::{Value, json};

pub fn multipolygon_to_json(mp: &MultiPolygon<f64>) -> Value {
    let ring =
        |ls: &LineString<f64>| -> Vec<[f64; 2]> { ls.0.iter().map(|c| [c.x, c.y]).collect() };
    let polygons: Vec<Vec<Vec<[f64; 2]>>> =
        mp.0.iter()
            .map(|p| {
                std::iter::once(ring(p.exterior()))
                    .chain(p.interiors().iter().map(ring))
                    .collect()
            })
            .collect();
    json!({"type": "MultiPolygon", "coordinates": polygons})
}

pub fn multipolygon_from_json(value: &Value) -> Result<MultiPolygon<f64>, String> {
    if value.get("type").and_then(Value::as_str) != Some("MultiPolygon") {
        return Err("geometry is not a MultiPolygon".into());
    }
    let coords: Vec<Vec<Vec<[f64; 2]>>> = serde_json::from_value(
        value
            .get("coordinates")
            .cloned()
            .ok_or("geometry has no coordinates")?,
    )
    .map_err(|e| e.to_string())?;
    let to_ring =
        |r: Vec<[f64; 2]>| LineString::new(r.into_iter().map(|[x, y]| Coord { x, y }).collect());
    Ok(MultiPolygon::new(
        coords
            .into_iter()
            .map(|mut rings| {
                let exterior = if rings.is_empty() {
                    vec![]
                } else {
                    rings.remove(0)
                };
                Polygon::new(to_ring(exterior), rings.into_iter().map(to_ring).collect())
            })
            .collect(),
    ))
}
