//! Hotspots (热点): clusters of cases that are about one matter in one place — forty
//! messages about one building site. Two cases are linked when they are near each other (or,
//! unplaced, in the same grid) and their text is alike; a hotspot is a group of linked cases
//! large enough to matter. Each is labelled by its heaviest shared terms and says why its
//! cases belong together; its trend compares the period's halves.

use std::collections::{BTreeSet, HashMap};

use jiff::Timestamp;
use serde::Serialize;

use super::similar::{cosine, metres};

/// A case as clustering sees it.
#[derive(Debug, Clone)]
pub struct HotspotCase {
    pub id: uuid::Uuid,
    pub grid: Option<String>,
    pub location: Option<(f64, f64)>,
    pub at: Timestamp,
    /// Its text as weighted terms (see `similar::weighted`).
    pub terms: HashMap<String, f64>,
}

/// When two cases are linked, and how large a hotspot must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HotspotRules {
    pub within_m: f64,
    pub min_text: f64,
    pub min_cases: usize,
}

impl Default for HotspotRules {
    fn default() -> Self {
        HotspotRules {
            within_m: 500.0,
            min_text: 0.25,
            min_cases: 3,
        }
    }
}

/// Whether a hotspot grew or eased over the period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Rising,
    Easing,
    Steady,
}

/// A cluster of cases and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hotspot {
    /// Its heaviest terms, the label.
    pub label: Vec<String>,
    pub cases: Vec<uuid::Uuid>,
    pub grids: Vec<String>,
    pub first: Timestamp,
    pub last: Timestamp,
    /// Cases in the first and second half of the period.
    pub halves: (usize, usize),
    pub trend: Trend,
    /// The farthest apart two placed cases are, in metres.
    pub span_m: f64,
    /// The mean text similarity of its links.
    pub mean_text: f64,
}

fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// The hotspots among `cases` over the period `[from, to)`, largest first.
pub fn hotspots(
    cases: &[HotspotCase],
    rules: HotspotRules,
    from: Timestamp,
    to: Timestamp,
) -> Vec<Hotspot> {
    let n = cases.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut links: Vec<(usize, usize, f64)> = Vec::new();
    // Placed cases are compared within neighbouring cells of about 0.01° (≈1 km), so that
    // the work grows with the cases near each other, not with the square of all of them.
    let cell = |p: (f64, f64)| ((p.0 / 0.01).floor() as i64, (p.1 / 0.01).floor() as i64);
    let mut cells: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    let mut by_grid: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in cases.iter().enumerate() {
        match (c.location, &c.grid) {
            (Some(p), _) => cells.entry(cell(p)).or_default().push(i),
            (None, Some(g)) => by_grid.entry(g.as_str()).or_default().push(i),
            (None, None) => {}
        }
    }
    let consider = |i: usize, j: usize, links: &mut Vec<(usize, usize, f64)>| {
        let (text, _) = cosine(&cases[i].terms, &cases[j].terms);
        if text >= rules.min_text {
            links.push((i, j, text));
        }
    };
    for (&(x, y), members) in &cells {
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(others) = cells.get(&(x + dx, y + dy)) else {
                    continue;
                };
                for &i in members {
                    for &j in others {
                        if i < j
                            && let (Some(a), Some(b)) = (cases[i].location, cases[j].location)
                            && metres(a, b) <= rules.within_m
                        {
                            consider(i, j, &mut links);
                        }
                    }
                }
            }
        }
    }
    // Unplaced cases join the placed and unplaced ones of their grid.
    let placed_by_grid: HashMap<&str, Vec<usize>> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.location.is_some())
        .filter_map(|(i, c)| c.grid.as_deref().map(|g| (g, i)))
        .fold(HashMap::new(), |mut m, (g, i)| {
            m.entry(g).or_insert_with(Vec::new).push(i);
            m
        });
    for (g, members) in &by_grid {
        for (k, &i) in members.iter().enumerate() {
            for &j in members.iter().skip(k + 1) {
                consider(i, j, &mut links);
            }
            for &j in placed_by_grid.get(g).into_iter().flatten() {
                consider(i, j, &mut links);
            }
        }
    }
    for &(i, j, _) in &links {
        let (a, b) = (root(&mut parent, i), root(&mut parent, j));
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..n {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let middle = Timestamp::from_microsecond((from.as_microsecond() + to.as_microsecond()) / 2)
        .unwrap_or(from);
    let mut out: Vec<Hotspot> = groups
        .into_values()
        .filter(|g| g.len() >= rules.min_cases)
        .map(|members| {
            let inside: BTreeSet<usize> = members.iter().copied().collect();
            let group_links: Vec<f64> = links
                .iter()
                .filter(|(i, _, _)| inside.contains(i))
                .map(|(_, _, t)| *t)
                .collect();
            let mut weights: HashMap<&String, f64> = HashMap::new();
            for &i in &members {
                for (t, w) in &cases[i].terms {
                    if t.chars().count() > 1 {
                        *weights.entry(t).or_default() += w;
                    }
                }
            }
            let mut label: Vec<(&String, f64)> = weights.into_iter().collect();
            label.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
            let grids: BTreeSet<String> = members
                .iter()
                .filter_map(|&i| cases[i].grid.clone())
                .collect();
            let first = members.iter().map(|&i| cases[i].at).min().unwrap_or(from);
            let last = members.iter().map(|&i| cases[i].at).max().unwrap_or(from);
            let early = members.iter().filter(|&&i| cases[i].at < middle).count();
            let late = members.len() - early;
            let trend = if late * 2 >= early * 3 && late > early {
                Trend::Rising
            } else if early * 2 >= late * 3 && early > late {
                Trend::Easing
            } else {
                Trend::Steady
            };
            let placed: Vec<(f64, f64)> =
                members.iter().filter_map(|&i| cases[i].location).collect();
            let span_m = placed
                .iter()
                .enumerate()
                .flat_map(|(k, a)| placed.iter().skip(k + 1).map(move |b| metres(*a, *b)))
                .fold(0.0, f64::max);
            let mut ids: Vec<uuid::Uuid> = members.iter().map(|&i| cases[i].id).collect();
            ids.sort();
            Hotspot {
                label: label.into_iter().take(3).map(|(t, _)| t.clone()).collect(),
                cases: ids,
                grids: grids.into_iter().collect(),
                first,
                last,
                halves: (early, late),
                trend,
                span_m,
                mean_text: if group_links.is_empty() {
                    0.0
                } else {
                    group_links.iter().sum::<f64>() / group_links.len() as f64
                },
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.cases
            .len()
            .cmp(&a.cases.len())
            .then(a.first.cmp(&b.first))
    });
    out
}
