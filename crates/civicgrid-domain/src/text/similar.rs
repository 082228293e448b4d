//! How alike two cases are: their text (TF-IDF cosine over their terms), where (metres
//! apart) and when (hours apart), in one score with its evidence, so a call-taker sees why a
//! case is offered as a possible duplicate.

use std::collections::HashMap;

/// Text similarity counts most; a duplicate is mostly said in the same words. Place and time
/// separate the same complaint about two different streets or years.
pub const TEXT_WEIGHT: f64 = 0.6;
pub const PLACE_WEIGHT: f64 = 0.25;
pub const TIME_WEIGHT: f64 = 0.15;
/// Metres at which the place part has fallen to 1/e.
pub const PLACE_SCALE_M: f64 = 250.0;
/// Hours at which the time part has fallen to 1/e.
pub const TIME_SCALE_H: f64 = 72.0;

/// A text as weighted terms: (term, count) postings and the IDF of each term.
pub fn weighted(postings: &[(String, u32)], idf: &HashMap<String, f64>) -> HashMap<String, f64> {
    let mut v: HashMap<String, f64> = postings
        .iter()
        .map(|(t, n)| {
            let w = (1.0 + f64::from(*n).ln()) * idf.get(t).copied().unwrap_or(1.0);
            (t.clone(), w)
        })
        .collect();
    let norm = v.values().map(|w| w * w).sum::<f64>().sqrt();
    if norm > 0.0 {
        for w in v.values_mut() {
            *w /= norm;
        }
    }
    v
}

/// The cosine of two weighted texts and their shared terms, heaviest first (pairs and
/// words before single characters; at most five).
pub fn cosine(a: &HashMap<String, f64>, b: &HashMap<String, f64>) -> (f64, Vec<String>) {
    let mut shared: Vec<(&String, f64)> = a
        .iter()
        .filter_map(|(t, wa)| b.get(t).map(|wb| (t, wa * wb)))
        .collect();
    let total: f64 = shared.iter().map(|(_, w)| w).sum();
    shared.sort_by(|x, y| {
        (y.0.chars().count() > 1)
            .cmp(&(x.0.chars().count() > 1))
            .then(y.1.total_cmp(&x.1))
            .then(x.0.cmp(y.0))
    });
    let words = shared
        .into_iter()
        .filter(|(t, _)| t.chars().count() > 1)
        .take(5)
        .map(|(t, _)| t.clone())
        .collect();
    (total.clamp(0.0, 1.0), words)
}

/// Why two cases look alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Likeness {
    /// 0–1.
    pub score: f64,
    /// Text cosine, 0–1.
    pub text: f64,
    /// Metres apart, when both are placed.
    pub distance_m: Option<f64>,
    /// Hours apart.
    pub hours: f64,
    /// The words both say.
    pub shared: Vec<String>,
}

/// Scores two cases from their text cosine, distance and time apart.
pub fn likeness(text: f64, shared: Vec<String>, distance_m: Option<f64>, hours: f64) -> Likeness {
    let place = distance_m.map_or(0.0, |d| (-d.max(0.0) / PLACE_SCALE_M).exp());
    let time = (-hours.abs() / TIME_SCALE_H).exp();
    Likeness {
        score: TEXT_WEIGHT * text + PLACE_WEIGHT * place + TIME_WEIGHT * time,
        text,
        distance_m,
        hours: hours.abs(),
        shared,
    }
}

/// Metres between two (lon, lat) points on the sphere.
pub fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point::new(a.0, a.1), Point::new(b.0, b.1))
}
