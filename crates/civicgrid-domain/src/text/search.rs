//! What full-text search indexes and asks for, and how a hit is shown. The index itself is
//! the application's (tantivy); this decides the terms.
//!
//! A document is indexed by its terms ([`super::terms::terms`]: Han characters and pairs,
//! Latin and digit words) plus the whole place names of the deployment's dictionary (grids,
//! communities) that occur in it. A query asks for every one of its terms: a place name it
//! holds as one term, the rest as character pairs (so 漏水 finds 漏水 and not 水 alone).

use std::collections::HashMap;

use super::terms::{fold, query_terms, terms};

/// The deployment's place names, longest first so that 东湖社区 wins over 东湖.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaceNames {
    names: Vec<String>,
}

impl PlaceNames {
    /// Names of two characters or more, folded like terms.
    pub fn new(names: impl IntoIterator<Item = String>) -> PlaceNames {
        let mut names: Vec<String> = names
            .into_iter()
            .map(|n| n.trim().chars().map(fold).collect::<String>())
            .filter(|n| n.chars().count() >= 2)
            .collect();
        names.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
        names.dedup();
        PlaceNames { names }
    }

    fn in_text<'a>(&'a self, folded: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.names
            .iter()
            .filter(move |n| folded.contains(n.as_str()))
    }
}

fn folded(text: &str) -> String {
    text.chars().map(fold).collect()
}

/// A document's terms in order, as the index is given them: [`terms`], then the whole place
/// names longer than a pair (a two-character name is a pair term already), once for each
/// time they occur.
pub fn document_terms(text: &str, places: &PlaceNames) -> Vec<String> {
    let mut out: Vec<String> = terms(text).into_iter().map(|t| t.text).collect();
    out.extend(place_terms(text, places));
    out
}

/// The place names longer than a pair in `text`, once for each time they occur.
fn place_terms(text: &str, places: &PlaceNames) -> Vec<String> {
    let mut out = Vec::new();
    let text = folded(text);
    for name in places.in_text(&text).filter(|n| n.chars().count() > 2) {
        let times = text.matches(name.as_str()).count();
        out.extend(std::iter::repeat_n(name.clone(), times));
    }
    out
}

/// A document's postings (term, count) sorted by term, and its length in terms (place names
/// not counted).
pub fn document_postings(text: &str, places: &PlaceNames) -> (Vec<(String, u32)>, u64) {
    let mut counts: HashMap<String, u32> = HashMap::new();
    let mut length = 0u64;
    for t in terms(text) {
        *counts.entry(t.text).or_default() += 1;
        length += 1;
    }
    for name in place_terms(text, places) {
        *counts.entry(name).or_default() += 1;
    }
    let mut postings: Vec<(String, u32)> = counts.into_iter().collect();
    postings.sort();
    (postings, length)
}

/// The longest query read, in characters; the rest is ignored.
pub const MAX_QUERY_CHARS: usize = 200;

/// The terms a query asks for (every one must occur), at most 16, from its first
/// [`MAX_QUERY_CHARS`] characters.
pub fn query_plan(query: &str, places: &PlaceNames) -> Vec<String> {
    let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
    let mut rest = folded(&query);
    let mut out: Vec<String> = Vec::new();
    for name in &places.names {
        if rest.contains(name.as_str()) {
            out.push(name.clone());
            rest = rest.replace(name.as_str(), " ");
        }
    }
    for t in query_terms(&rest) {
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out.truncate(16);
    out
}

/// BM25's inverse document frequency of a term found in `with` of `documents`.
pub fn idf(documents: u64, with: u64) -> f64 {
    let (n, d) = (documents as f64, with as f64);
    (1.0 + (n - d + 0.5) / (d + 0.5)).ln()
}

/// A piece of text around where the query's words occur, and the words to mark in it. The
/// query's space-separated words are marked where they occur as typed; a word that does not
/// occur as typed is marked by its pairs.
pub fn snippet(text: &str, query: &str, width: usize) -> (String, Vec<String>) {
    let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
    let haystack = folded(text);
    let mut marks: Vec<String> = Vec::new();
    for word in query.split_whitespace() {
        let word = folded(word);
        if haystack.contains(&word) {
            marks.push(word);
        } else {
            marks.extend(
                query_terms(&word)
                    .into_iter()
                    .filter(|t| haystack.contains(t.as_str())),
            );
        }
    }
    marks.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
    marks.dedup();
    let chars: Vec<char> = text.chars().collect();
    let folded_chars: Vec<char> = haystack.chars().collect();
    let first = marks
        .iter()
        .filter_map(|m| {
            let m: Vec<char> = m.chars().collect();
            folded_chars
                .windows(m.len().max(1))
                .position(|w| w == m.as_slice())
        })
        .min()
        .unwrap_or(0);
    let start = first.saturating_sub(width / 3);
    let end = (start + width).min(chars.len());
    let mut piece: String = chars[start..end].iter().collect();
    if start > 0 {
        piece.insert(0, '…');
    }
    if end < chars.len() {
        piece.push('…');
    }
    (piece, marks)
}
