//! Point → grid lookup.
//!
//! An R-tree over the bounding box of every polygon component gives the candidates; an exact
//! winding-number test decides. The orientation predicate is the robust (adaptive-precision)
//! one GEOS also uses, so "is this point on the edge" has an exact answer.
//!
//! Tie rule, so that a point resolves the same way every time: a grid whose interior holds the
//! point wins over one whose boundary holds it; among equals the smallest grid code wins. A
//! point on the edge two grids share therefore always goes to the smaller code.

use geo::{Coord, MultiPolygon};
use robust::{Coord as RCoord, orient2d};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::territory::GridCode;

/// Where a point lies relative to a polygon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Position {
    Inside,
    OnBoundary,
    Outside,
}

struct Component {
    grid: u32,
    /// Exterior first, then holes; each closed (first point repeated last).
    rings: Vec<Vec<Coord<f64>>>,
}

/// An immutable index of grid polygons.
pub struct GridIndex {
    codes: Vec<GridCode>,
    components: Vec<Component>,
    tree: RTree<GeomWithData<Rectangle<[f64; 2]>, u32>>,
}

impl GridIndex {
    /// Builds the index. The order of `grids` does not matter.
    pub fn new<'a>(grids: impl IntoIterator<Item = (&'a GridCode, &'a MultiPolygon<f64>)>) -> Self {
        let mut grids: Vec<_> = grids.into_iter().collect();
        // Index order = code order, so "smallest index" is "smallest code".
        grids.sort_by(|a, b| a.0.cmp(b.0));
        let mut codes = Vec::with_capacity(grids.len());
        let mut components = Vec::new();
        let mut entries = Vec::new();
        for (gi, (code, geometry)) in grids.into_iter().enumerate() {
            codes.push(code.clone());
            let gi = u32::try_from(gi).unwrap_or(u32::MAX);
            for polygon in &geometry.0 {
                let exterior = &polygon.exterior().0;
                let Some(first) = exterior.first() else {
                    continue;
                };
                let (mut lo, mut hi) = ([first.x, first.y], [first.x, first.y]);
                for c in exterior {
                    lo = [lo[0].min(c.x), lo[1].min(c.y)];
                    hi = [hi[0].max(c.x), hi[1].max(c.y)];
                }
                let mut rings = vec![closed(exterior)];
                rings.extend(polygon.interiors().iter().map(|r| closed(&r.0)));
                let ci = u32::try_from(components.len()).unwrap_or(u32::MAX);
                components.push(Component { grid: gi, rings });
                entries.push(GeomWithData::new(Rectangle::from_corners(lo, hi), ci));
            }
        }
        GridIndex {
            codes,
            components,
            tree: RTree::bulk_load(entries),
        }
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// The grid holding WGS84 `(lon, lat)`, or `None` when no grid does.
    pub fn locate(&self, lon: f64, lat: f64) -> Option<&GridCode> {
        let p = Coord { x: lon, y: lat };
        let mut best: Option<(Position, u32)> = None;
        let envelope = AABB::from_point([lon, lat]);
        for entry in self.tree.locate_in_envelope_intersecting(&envelope) {
            let component = &self.components[entry.data as usize];
            let pos = position_in_polygon(p, &component.rings);
            if pos == Position::Outside {
                continue;
            }
            let candidate = (pos, component.grid);
            if best.is_none_or(|b| candidate < b) {
                best = Some(candidate);
            }
        }
        best.map(|(_, gi)| &self.codes[gi as usize])
    }
}

fn closed(ring: &[Coord<f64>]) -> Vec<Coord<f64>> {
    let mut r = ring.to_vec();
    if r.first() != r.last()
        && let Some(&f) = r.first()
    {
        r.push(f);
    }
    r
}

/// Where `p` lies relative to a polygon given as its exterior ring followed by its holes.
pub fn position_in_polygon(p: Coord<f64>, rings: &[Vec<Coord<f64>>]) -> Position {
    let Some((exterior, holes)) = rings.split_first() else {
        return Position::Outside;
    };
    match position_in_ring(p, exterior) {
        Position::Inside => {}
        other => return other,
    }
    for hole in holes {
        match position_in_ring(p, hole) {
            Position::Inside => return Position::Outside,
            Position::OnBoundary => return Position::OnBoundary,
            Position::Outside => {}
        }
    }
    Position::Inside
}

/// Winding-number test with exact boundary detection, for a closed ring.
pub fn position_in_ring(p: Coord<f64>, ring: &[Coord<f64>]) -> Position {
    let mut winding = 0i32;
    for edge in ring.windows(2) {
        let (a, b) = (edge[0], edge[1]);
        let (y_lo, y_hi) = if a.y <= b.y { (a.y, b.y) } else { (b.y, a.y) };
        if p.y < y_lo || p.y > y_hi {
            continue;
        }
        let (x_lo, x_hi) = if a.x <= b.x { (a.x, b.x) } else { (b.x, a.x) };
        if p.x > x_hi {
            // Entirely to the left of p: neither crossed by the rightward ray nor touching p.
            continue;
        }
        let side = if p.x < x_lo {
            // Entirely to the right: p is strictly left of an upward edge, right of a downward one.
            if a.y < b.y { 1.0 } else { -1.0 }
        } else {
            let o = orient2d(rc(a), rc(b), rc(p));
            if o == 0.0 {
                // Collinear and inside the edge's bounding box: on the edge.
                return Position::OnBoundary;
            }
            o
        };
        // Half-open rule on y so a vertex is counted once.
        if a.y <= p.y && p.y < b.y && side > 0.0 {
            winding += 1;
        } else if b.y <= p.y && p.y < a.y && side < 0.0 {
            winding -= 1;
        }
    }
    if winding != 0 {
        Position::Inside
    } else {
        Position::Outside
    }
}

fn rc(c: Coord<f64>) -> RCoord<f64> {
    RCoord { x: c.x, y: c.y }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::algorithm::coordinate_position::{CoordPos, CoordinatePosition};
    use geo::{LineString, Polygon, polygon};
    use proptest::prelude::*;

    fn code(s: &str) -> GridCode {
        s.parse().expect("code")
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
        MultiPolygon::new(vec![polygon![
            (x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)
        ]])
    }

    #[test]
    fn shared_edges_and_corners_go_to_the_smaller_code() {
        let a = rect(0.0, 0.0, 1.0, 1.0);
        let b = rect(1.0, 0.0, 2.0, 1.0);
        let c = rect(0.0, 1.0, 1.0, 2.0);
        let (ca, cb, cc) = (code("B"), code("A"), code("C"));
        // Insertion order must not matter.
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let all = [(&ca, &a), (&cb, &b), (&cc, &c)];
            let index = GridIndex::new(order.iter().map(|&i| all[i]));
            assert_eq!(index.locate(1.0, 0.5), Some(&cb), "shared vertical edge");
            assert_eq!(index.locate(0.5, 1.0), Some(&ca), "shared horizontal edge");
            assert_eq!(index.locate(1.0, 1.0), Some(&cb), "shared corner");
            assert_eq!(index.locate(0.5, 0.5), Some(&ca));
            assert_eq!(index.locate(1.5, 0.5), Some(&cb));
            assert_eq!(index.locate(0.0, 0.0), Some(&ca), "outer corner is covered");
            assert_eq!(index.locate(1.5, 1.5), None);
            assert_eq!(index.locate(-0.1, 0.5), None);
        }
    }

    #[test]
    fn holes_and_multipolygons() {
        let donut = MultiPolygon::new(vec![
            Polygon::new(
                LineString::from(vec![
                    (0.0, 0.0),
                    (4.0, 0.0),
                    (4.0, 4.0),
                    (0.0, 4.0),
                    (0.0, 0.0),
                ]),
                vec![LineString::from(vec![
                    (1.0, 1.0),
                    (3.0, 1.0),
                    (3.0, 3.0),
                    (1.0, 3.0),
                    (1.0, 1.0),
                ])],
            ),
            // An island inside the hole, part of the same grid.
            polygon![(x: 1.5, y: 1.5), (x: 2.5, y: 1.5), (x: 2.5, y: 2.5), (x: 1.5, y: 2.5)],
        ]);
        let inner = rect(1.0, 1.0, 3.0, 3.0);
        let (d, i) = (code("D"), code("I"));
        let index = GridIndex::new([(&d, &donut), (&i, &inner)]);
        assert_eq!(index.locate(0.5, 0.5), Some(&d));
        assert_eq!(
            index.locate(1.2, 1.2),
            Some(&i),
            "in the hole, inside the inner grid"
        );
        // Inside the island: interior of both D (island) and I; D < I.
        assert_eq!(index.locate(2.0, 2.0), Some(&d));
        // On the hole's edge: boundary of D and of I; D is smaller.
        assert_eq!(index.locate(2.0, 1.0), Some(&d));
    }

    #[test]
    fn interior_beats_boundary() {
        // The point (1, 0.5) is on A's edge but inside the overlapping Z.
        let a = rect(0.0, 0.0, 1.0, 1.0);
        let z = rect(0.5, 0.0, 1.5, 1.0);
        let (ca, cz) = (code("A"), code("Z"));
        let index = GridIndex::new([(&ca, &a), (&cz, &z)]);
        assert_eq!(index.locate(1.0, 0.5), Some(&cz));
    }

    fn arb_polygon() -> impl Strategy<Value = Polygon<f64>> {
        // A star-shaped polygon around the origin: always simple.
        proptest::collection::vec(1.0f64..10.0, 3..20).prop_map(|radii| {
            let n = radii.len() as f64;
            let pts: Vec<(f64, f64)> = radii
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let t = i as f64 / n * std::f64::consts::TAU;
                    (
                        (r * t.cos() * 8.0).round() / 8.0,
                        (r * t.sin() * 8.0).round() / 8.0,
                    )
                })
                .collect();
            Polygon::new(LineString::from(pts), vec![])
        })
    }

    proptest! {
        // Agrees with geo's own (independent) coordinate-position algorithm, boundary included.
        #[test]
        fn agrees_with_geo_on_random_polygons(poly in arb_polygon(), x in -12i32..12, y in -12i32..12, fx in 0u8..4, fy in 0u8..4) {
            // Coordinates on a 1/8 lattice hit vertices and edges often.
            let p = Coord { x: f64::from(x) + f64::from(fx) / 4.0, y: f64::from(y) + f64::from(fy) / 4.0 };
            let mut rings = vec![poly.exterior().0.clone()];
            rings.extend(poly.interiors().iter().map(|r| r.0.clone()));
            let ours = position_in_polygon(p, &rings);
            let theirs = match poly.coordinate_position(&p) {
                CoordPos::Inside => Position::Inside,
                CoordPos::OnBoundary => Position::OnBoundary,
                CoordPos::Outside => Position::Outside,
            };
            prop_assert_eq!(ours, theirs);
        }
    }
}
