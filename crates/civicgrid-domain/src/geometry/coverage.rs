//! Coverage checks (全覆盖、无缝隙): overlaps between sibling grids and gaps enclosed by them.
//!
//! Siblings are grids of the same region. An overlap is the intersection of two siblings; a
//! gap is a hole in the union of all siblings, i.e. ground surrounded by grids that no grid
//! covers. Areas are geodesic, in square metres on the WGS84 ellipsoid.

use std::collections::BTreeMap;

use geo::{
    BooleanOps, BoundingRect, GeodesicArea, InteriorPoint, MultiPolygon, Polygon, unary_union,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, RTreeObject};

use crate::territory::{Grid, GridCode, RegionCode};

#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    pub region: RegionCode,
    pub a: GridCode,
    pub b: GridCode,
    pub area_m2: f64,
    /// A point inside the overlap, WGS84 (lon, lat).
    pub at: (f64, f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    pub region: RegionCode,
    pub area_m2: f64,
    /// A point inside the gap, WGS84 (lon, lat).
    pub at: (f64, f64),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CoverageReport {
    pub overlaps: Vec<Overlap>,
    pub gaps: Vec<Gap>,
}

impl CoverageReport {
    pub fn is_clean(&self) -> bool {
        self.overlaps.is_empty() && self.gaps.is_empty()
    }
}

/// Checks every group of sibling grids. Pieces smaller than `min_area_m2` are treated as
/// floating-point noise and not reported.
pub fn check_coverage(grids: &[Grid], min_area_m2: f64) -> CoverageReport {
    let mut by_region: BTreeMap<&RegionCode, Vec<&Grid>> = BTreeMap::new();
    for g in grids {
        by_region.entry(&g.region).or_default().push(g);
    }
    let mut report = CoverageReport::default();
    for (region, mut siblings) in by_region {
        siblings.sort_by(|a, b| a.code.cmp(&b.code));
        report
            .overlaps
            .extend(overlaps(region, &siblings, min_area_m2));
        report.gaps.extend(gaps(region, &siblings, min_area_m2));
    }
    report
}

fn overlaps(region: &RegionCode, siblings: &[&Grid], min_area_m2: f64) -> Vec<Overlap> {
    let entries: Vec<_> = siblings
        .iter()
        .enumerate()
        .filter_map(|(i, g)| {
            g.geometry.bounding_rect().map(|r| {
                let corners: ([f64; 2], [f64; 2]) =
                    ([r.min().x, r.min().y], [r.max().x, r.max().y]);
                GeomWithData::new(Rectangle::from_corners(corners.0, corners.1), i)
            })
        })
        .collect();
    let tree = RTree::bulk_load(entries.clone());
    let mut out = Vec::new();
    for e in &entries {
        let i = e.data;
        for other in tree.locate_in_envelope_intersecting(&e.geom().envelope()) {
            let j = other.data;
            if j <= i {
                continue;
            }
            let common = siblings[i].geometry.intersection(&siblings[j].geometry);
            let area = area_m2(&common);
            if area >= min_area_m2 {
                out.push(Overlap {
                    region: region.clone(),
                    a: siblings[i].code.clone(),
                    b: siblings[j].code.clone(),
                    area_m2: area,
                    at: inside_point(&common),
                });
            }
        }
    }
    out
}

fn gaps(region: &RegionCode, siblings: &[&Grid], min_area_m2: f64) -> Vec<Gap> {
    let union = unary_union(siblings.iter().map(|g| &g.geometry));
    let mut out = Vec::new();
    for polygon in &union.0 {
        for hole in polygon.interiors() {
            let gap = MultiPolygon::new(vec![Polygon::new(hole.clone(), vec![])]);
            // The hole may hold islands of other grids; subtract them so the area is the gap's.
            let gap = gap.difference(&union);
            let area = area_m2(&gap);
            if area >= min_area_m2 {
                out.push(Gap {
                    region: region.clone(),
                    area_m2: area,
                    at: inside_point(&gap),
                });
            }
        }
    }
    out
}

fn area_m2(mp: &MultiPolygon<f64>) -> f64 {
    mp.geodesic_area_unsigned()
}

fn inside_point(mp: &MultiPolygon<f64>) -> (f64, f64) {
    mp.interior_point()
        .map(|p| p.x_y())
        .unwrap_or((f64::NAN, f64::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn grid(code: &str, region: &str, poly: Polygon<f64>) -> Grid {
        Grid {
            code: code.parse().expect("code"),
            name: code.to_owned(),
            region: region.parse().expect("region"),
            geometry: MultiPolygon::new(vec![poly]),
        }
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1)]
    }

    const R: &str = "440305001001";

    #[test]
    fn a_clean_tiling_reports_nothing() {
        let grids: Vec<Grid> = (0..3)
            .flat_map(|i| {
                (0..3).map(move |j| {
                    let (x, y) = (113.9 + f64::from(i) * 0.001, 22.5 + f64::from(j) * 0.001);
                    grid(&format!("G{i}{j}"), R, rect(x, y, x + 0.001, y + 0.001))
                })
            })
            .collect();
        let report = check_coverage(&grids, 1.0);
        assert!(report.is_clean(), "{report:?}");
    }

    #[test]
    fn overlaps_and_gaps_are_reported_with_areas() {
        let d = 0.001; // about 103 m × 111 m at 22.5°N
        let x = 113.9;
        let y = 22.5;
        // A ring of 8 cells around an empty centre cell, with one pair overlapping by half a cell.
        let mut grids = Vec::new();
        for i in 0..3 {
            for j in 0..3 {
                if (i, j) == (1, 1) {
                    continue;
                }
                let (x0, y0) = (x + f64::from(i) * d, y + f64::from(j) * d);
                grids.push(grid(&format!("G{i}{j}"), R, rect(x0, y0, x0 + d, y0 + d)));
            }
        }
        grids.push(grid("X", R, rect(x, y, x + d / 2.0, y + d)));
        // A grid of another region overlapping freely is not a sibling.
        grids.push(grid(
            "Other",
            "440305001002",
            rect(x, y, x + 3.0 * d, y + 3.0 * d),
        ));
        let report = check_coverage(&grids, 1.0);
        assert_eq!(report.gaps.len(), 1, "{report:?}");
        let cell_m2 = report.gaps[0].area_m2;
        assert!((10_000.0..13_000.0).contains(&cell_m2), "{cell_m2}");
        let (gx, gy) = report.gaps[0].at;
        assert!(gx > x + d && gx < x + 2.0 * d && gy > y + d && gy < y + 2.0 * d);
        assert_eq!(report.overlaps.len(), 1, "{report:?}");
        let o = &report.overlaps[0];
        assert_eq!((o.a.as_str(), o.b.as_str()), ("G00", "X"));
        assert!((o.area_m2 - cell_m2 / 2.0).abs() < cell_m2 * 0.01);
    }

    #[test]
    fn slivers_below_the_threshold_are_ignored() {
        let grids = vec![
            grid("A", R, rect(0.0, 0.0, 0.001, 0.001)),
            grid("B", R, rect(0.001 - 1e-9, 0.0, 0.002, 0.001)),
        ];
        assert!(check_coverage(&grids, 1.0).is_clean());
        assert_eq!(check_coverage(&grids, 0.0).overlaps.len(), 1);
    }
}
