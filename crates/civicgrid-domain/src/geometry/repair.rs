//! Repairing the polygons of real administrative data.
//!
//! Boundary files exported from survey or GIS systems repeat points, leave rings open, carry
//! slivers with too few points and rings that cross themselves. Each feature is either repaired
//! into a valid WGS84 multipolygon, with a note for every change made, or rejected with a reason.

use std::fmt;

use geo::algorithm::orient::{Direction, Orient};
use geo::algorithm::validation::Validation;
use geo::{Area, Coord, LineString, MakeValid, MultiPolygon, Polygon};

/// One polygon as read from a file: the first ring is the exterior, the rest are holes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPolygon {
    pub rings: Vec<Vec<[f64; 2]>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RepairNote {
    RemovedRepeatedPoints {
        polygon: usize,
        ring: usize,
        count: usize,
    },
    ClosedRing {
        polygon: usize,
        ring: usize,
    },
    DroppedDegenerateRing {
        polygon: usize,
        ring: usize,
        distinct_points: usize,
    },
    DroppedPolygonWithoutExterior {
        polygon: usize,
    },
    /// Self-intersections or overlapping parts were resolved; the text says what was wrong.
    MadeValid {
        problem: String,
    },
}

impl fmt::Display for RepairNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepairNote::RemovedRepeatedPoints {
                polygon,
                ring,
                count,
            } => write!(
                f,
                "removed {count} repeated point(s) from polygon {polygon} ring {ring}"
            ),
            RepairNote::ClosedRing { polygon, ring } => {
                write!(f, "closed open ring {ring} of polygon {polygon}")
            }
            RepairNote::DroppedDegenerateRing {
                polygon,
                ring,
                distinct_points,
            } => write!(
                f,
                "dropped ring {ring} of polygon {polygon}: only {distinct_points} distinct point(s)"
            ),
            RepairNote::DroppedPolygonWithoutExterior { polygon } => write!(
                f,
                "dropped polygon {polygon}: its exterior ring has too few points"
            ),
            RepairNote::MadeValid { problem } => write!(f, "repaired invalid geometry ({problem})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RejectReason {
    #[error(
        "coordinate ({lon}, {lat}) is not WGS84 longitude/latitude; reproject to EPSG:4326 before importing"
    )]
    NotWgs84 { lon: f64, lat: f64 },
    #[error("no polygon has a usable exterior ring (at least 3 distinct points)")]
    NoUsableRing,
    #[error("the geometry has no area")]
    ZeroArea,
    #[error("the geometry could not be repaired: {0}")]
    Unrepairable(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Repaired {
    pub geometry: MultiPolygon<f64>,
    pub notes: Vec<RepairNote>,
}

/// Repairs the polygons of one feature, or says why it cannot be used.
pub fn repair(polygons: &[RawPolygon]) -> Result<Repaired, RejectReason> {
    let mut notes = Vec::new();
    for p in polygons {
        for ring in &p.rings {
            if let Some(&[lon, lat]) = ring.iter().find(|[x, y]| {
                !(x.is_finite() && y.is_finite() && x.abs() <= 180.0 && y.abs() <= 90.0)
            }) {
                return Err(RejectReason::NotWgs84 { lon, lat });
            }
        }
    }

    let mut cleaned = Vec::new();
    for (pi, p) in polygons.iter().enumerate() {
        let mut rings = Vec::new();
        for (ri, ring) in p.rings.iter().enumerate() {
            match clean_ring(ring) {
                CleanRing::Usable {
                    ring: r,
                    removed,
                    closed,
                } => {
                    if removed > 0 {
                        notes.push(RepairNote::RemovedRepeatedPoints {
                            polygon: pi,
                            ring: ri,
                            count: removed,
                        });
                    }
                    if closed {
                        notes.push(RepairNote::ClosedRing {
                            polygon: pi,
                            ring: ri,
                        });
                    }
                    rings.push(r);
                }
                CleanRing::Degenerate { distinct_points } => {
                    if ri == 0 {
                        notes.push(RepairNote::DroppedPolygonWithoutExterior { polygon: pi });
                        rings.clear();
                        break;
                    }
                    notes.push(RepairNote::DroppedDegenerateRing {
                        polygon: pi,
                        ring: ri,
                        distinct_points,
                    });
                }
            }
        }
        if !rings.is_empty() {
            let exterior = rings.remove(0);
            cleaned.push(Polygon::new(exterior, rings));
        }
    }
    if cleaned.is_empty() {
        return Err(RejectReason::NoUsableRing);
    }

    let mut geometry = MultiPolygon::new(cleaned);
    if let Some(problem) = geometry.validation_errors().first() {
        let problem = problem.to_string();
        geometry = canonical(
            geometry
                .make_valid()
                .map_err(|e| RejectReason::Unrepairable(e.to_string()))?,
        );
        // The repair's float arithmetic can fall short on near-degenerate input; what it
        // gives is checked, not trusted, before it becomes a grid.
        if let Some(left) = geometry.validation_errors().first() {
            return Err(RejectReason::Unrepairable(format!(
                "{problem}; after repair still {left}"
            )));
        }
        notes.push(RepairNote::MadeValid { problem });
    }
    if geometry.0.is_empty() || geometry.unsigned_area() == 0.0 {
        return Err(RejectReason::ZeroArea);
    }
    // RFC 7946: exteriors counter-clockwise, holes clockwise.
    let geometry = geometry.orient(Direction::Default);
    Ok(Repaired { geometry, notes })
}

/// The repair's output order is not specified, so rings are rotated to start at their smallest
/// vertex and polygons sorted: the same input then always gives the same stored geometry.
fn canonical(mp: MultiPolygon<f64>) -> MultiPolygon<f64> {
    fn ring(ls: &LineString<f64>) -> LineString<f64> {
        let mut pts: Vec<Coord<f64>> = ls.0.clone();
        if pts.len() > 1 && pts.first() == pts.last() {
            pts.pop();
        }
        let start = pts
            .iter()
            .enumerate()
            .min_by(|(_, a), (_, b)| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        pts.rotate_left(start);
        if let Some(&first) = pts.first() {
            pts.push(first);
        }
        LineString::new(pts)
    }
    let key = |p: &Polygon<f64>| {
        p.exterior()
            .0
            .first()
            .map(|c| (c.x, c.y))
            .unwrap_or((0.0, 0.0))
    };
    let mut polygons: Vec<Polygon<f64>> =
        mp.0.iter()
            .map(|p| {
                let mut holes: Vec<LineString<f64>> = p.interiors().iter().map(ring).collect();
                holes.sort_by(|a, b| {
                    let (ka, kb) = (a.0[0], b.0[0]);
                    ka.x.total_cmp(&kb.x).then(ka.y.total_cmp(&kb.y))
                });
                Polygon::new(ring(p.exterior()), holes)
            })
            .collect();
    polygons.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    MultiPolygon::new(polygons)
}

enum CleanRing {
    Usable {
        ring: LineString<f64>,
        removed: usize,
        closed: bool,
    },
    Degenerate {
        distinct_points: usize,
    },
}

fn clean_ring(ring: &[[f64; 2]]) -> CleanRing {
    let mut points: Vec<Coord<f64>> = Vec::with_capacity(ring.len());
    let mut removed = 0;
    for &[x, y] in ring {
        let c = Coord { x, y };
        if points.last() == Some(&c) {
            removed += 1;
        } else {
            points.push(c);
        }
    }
    let closed_in_source = points.len() > 1 && points.first() == points.last();
    if closed_in_source {
        points.pop();
    }
    let mut distinct = points.clone();
    distinct.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    distinct.dedup();
    if distinct.len() < 3 {
        return CleanRing::Degenerate {
            distinct_points: distinct.len(),
        };
    }
    if let Some(&first) = points.first() {
        points.push(first);
    }
    CleanRing::Usable {
        ring: LineString::new(points),
        removed,
        closed: !closed_in_source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, s: f64) -> Vec<[f64; 2]> {
        vec![
            [x0, y0],
            [x0 + s, y0],
            [x0 + s, y0 + s],
            [x0, y0 + s],
            [x0, y0],
        ]
    }

    #[test]
    fn a_valid_polygon_passes_unchanged() {
        let r = repair(&[RawPolygon {
            rings: vec![square(113.9, 22.5, 0.01)],
        }])
        .expect("valid");
        assert!(r.notes.is_empty());
        assert!((r.geometry.unsigned_area() - 0.0001).abs() < 1e-12);
    }

    #[test]
    fn repeated_points_and_open_rings_are_mended() {
        let ring = vec![
            [113.9, 22.5],
            [113.9, 22.5],
            [113.91, 22.5],
            [113.91, 22.51],
            [113.91, 22.51],
            [113.9, 22.51],
        ];
        let r = repair(&[RawPolygon { rings: vec![ring] }]).expect("repaired");
        assert!(r.notes.contains(&RepairNote::RemovedRepeatedPoints {
            polygon: 0,
            ring: 0,
            count: 2
        }));
        assert!(r.notes.contains(&RepairNote::ClosedRing {
            polygon: 0,
            ring: 0
        }));
        assert!(r.geometry.is_valid());
    }

    #[test]
    fn a_bow_tie_is_split_into_two_triangles() {
        // The ring crosses itself at (0.5, 0.5).
        let bow_tie = vec![[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]];
        let r = repair(&[RawPolygon {
            rings: vec![bow_tie],
        }])
        .expect("repaired");
        assert!(matches!(r.notes[0], RepairNote::MadeValid { .. }));
        // The same input repairs to the same output every time.
        for _ in 0..20 {
            let again = repair(&[RawPolygon {
                rings: vec![vec![
                    [0.0, 0.0],
                    [1.0, 1.0],
                    [1.0, 0.0],
                    [0.0, 1.0],
                    [0.0, 0.0],
                ]],
            }])
            .expect("repaired");
            assert_eq!(again.geometry, r.geometry);
        }
        assert!(r.geometry.is_valid());
        assert_eq!(r.geometry.0.len(), 2);
        assert!((r.geometry.unsigned_area() - 0.5).abs() < 1e-9);
    }

    #[test]
    fn degenerate_components_are_dropped_and_the_rest_kept() {
        let sliver = vec![[1.0, 1.0], [2.0, 2.0], [1.0, 1.0]];
        let r = repair(&[
            RawPolygon {
                rings: vec![square(0.0, 0.0, 1.0), sliver.clone()],
            },
            RawPolygon {
                rings: vec![sliver],
            },
        ])
        .expect("repaired");
        assert!(r.notes.contains(&RepairNote::DroppedDegenerateRing {
            polygon: 0,
            ring: 1,
            distinct_points: 2
        }));
        assert!(
            r.notes
                .contains(&RepairNote::DroppedPolygonWithoutExterior { polygon: 1 })
        );
        assert_eq!(r.geometry.0.len(), 1);
    }

    #[test]
    fn unusable_geometry_is_rejected() {
        assert_eq!(
            repair(&[RawPolygon {
                rings: vec![vec![[1.0, 1.0], [2.0, 2.0]]]
            }]),
            Err(RejectReason::NoUsableRing)
        );
        assert_eq!(repair(&[]), Err(RejectReason::NoUsableRing));
        // Collinear points have three distinct points but no area.
        let line = vec![[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 0.0]];
        assert!(repair(&[RawPolygon { rings: vec![line] }]).is_err());
    }

    #[test]
    fn projected_coordinates_are_rejected_as_not_wgs84() {
        let utm = square(440_123.5, 3_312_345.1, 100.0);
        assert!(matches!(
            repair(&[RawPolygon { rings: vec![utm] }]),
            Err(RejectReason::NotWgs84 { lon, .. }) if lon == 440_123.5
        ));
    }

    #[test]
    fn exteriors_come_out_counter_clockwise() {
        let clockwise = vec![[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 0.0]];
        let r = repair(&[RawPolygon {
            rings: vec![clockwise],
        }])
        .expect("valid");
        assert!(r.geometry.0[0].signed_area() > 0.0);
    }
}
