//! Similar cases (相似案件): the cases most like a text, place and time — offered at intake
//! and on the case page as possible duplicates, with why (shared words, metres and hours
//! apart). Candidates come from the full-text index (any of the text's most distinctive
//! terms); the score is the domain's (`civicgrid_domain::text::similar`).

use civicgrid_domain::case::Case;
use civicgrid_domain::catalogue::CategoryCode;
use civicgrid_domain::text::search::{document_postings, idf};
use civicgrid_domain::text::similar::{Likeness, cosine, likeness, metres, weighted};
use jiff::Timestamp;
use uuid::Uuid;

use crate::App;
use crate::cases::Actor;
use crate::error::AppResult;

/// Distinctive terms of the text asked for candidates.
const QUERY_TERMS: usize = 12;
/// Candidates scored.
const CANDIDATES: usize = 100;
/// Below this a case is not offered as alike.
pub const MIN_SCORE: f64 = 0.3;

/// A case like the one asked about, and why.
#[derive(Debug, Clone)]
pub struct SimilarCase {
    pub case: Case,
    pub likeness: Likeness,
}

/// What a similar-case search compares against.
#[derive(Debug, Clone)]
pub struct Probe<'a> {
    pub text: &'a str,
    pub location: Option<(f64, f64)>,
    pub at: Timestamp,
    /// The case itself, not to be offered.
    pub except: Option<Uuid>,
    /// Only open cases (a duplicate hint: a case can be merged only into an open one).
    pub open_only: bool,
    /// Only cases reported before `at` (what was known then).
    pub earlier_only: bool,
    /// With a location: the open cases of this category within 50 m and 72 h are candidates
    /// too, whether or not the indexer has reached them yet.
    pub category: Option<&'a CategoryCode>,
    /// Only cases this actor may read (`None`: the command line, every case).
    pub actor: Option<&'a Actor>,
}

impl<'a> Probe<'a> {
    /// A probe from a stored case: its text, place and time, itself excepted.
    pub fn of(case: &'a Case, open_only: bool) -> Probe<'a> {
        Probe {
            text: &case.description,
            location: case.location,
            at: case.reported_at,
            except: Some(case.id),
            open_only,
            earlier_only: false,
            category: case.category.as_ref(),
            actor: None,
        }
    }

    /// The same probe, for what `actor` may read.
    pub fn for_actor(self, actor: &'a Actor) -> Probe<'a> {
        Probe {
            actor: Some(actor),
            ..self
        }
    }
}

/// The similar-case hint measured on merges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeMeasure {
    pub merges: usize,
    /// Times the case merged into was offered first.
    pub first: usize,
    /// Times it was among the top 3.
    pub in_top3: usize,
    /// Cases offered in the top 3 over all merges.
    pub offered: usize,
}

impl MergeMeasure {
    pub fn top1_precision(&self) -> f64 {
        ratio(self.first, self.merges)
    }
    pub fn top3_hit_rate(&self) -> f64 {
        ratio(self.in_top3, self.merges)
    }
    /// Of the cases offered in the top 3, the share that was the one merged into.
    pub fn top3_precision(&self) -> f64 {
        ratio(self.in_top3, self.offered)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl App {
    /// For each merged case (up to 1,000), the cases most like it from those reported
    /// before it (any status: the one it was merged into may be closed since).
    pub async fn measure_similar_on_merges(&self) -> AppResult<MergeMeasure> {
        let merged = self
            .repo
            .cases(&civicgrid_store::CaseFilter {
                status: Some(civicgrid_domain::case::Status::Merged),
                limit: 1000,
                ..Default::default()
            })
            .await?;
        let mut m = MergeMeasure::default();
        for case in &merged {
            let Some(master) = case.state.merged_into else {
                continue;
            };
            let probe = Probe {
                earlier_only: true,
                category: None,
                ..Probe::of(case, false)
            };
            let top = self.similar_cases(&probe, 3).await?;
            m.merges += 1;
            m.offered += top.len();
            if top.first().is_some_and(|s| s.case.id == master) {
                m.first += 1;
            }
            if top.iter().any(|s| s.case.id == master) {
                m.in_top3 += 1;
            }
        }
        Ok(m)
    }

    /// The cases most like `probe`, best first, scoring at least [`MIN_SCORE`]; at most
    /// `limit`. Reads the index: cases not indexed yet are not found.
    pub async fn similar_cases(
        &self,
        probe: &Probe<'_>,
        limit: usize,
    ) -> AppResult<Vec<SimilarCase>> {
        let places = self.place_names().await?;
        let (postings, _) = document_postings(probe.text, &places);
        let nearby = match (probe.category, probe.location) {
            (Some(category), Some(point)) => self
                .possible_duplicates(
                    category,
                    point,
                    probe.at,
                    50.0,
                    jiff::SignedDuration::from_hours(72),
                    probe.except.as_ref(),
                )
                .await?
                .into_iter()
                .map(|(c, _)| c)
                .collect(),
            _ => Vec::new(),
        };
        if postings.is_empty() {
            return Ok(Vec::new());
        }
        let terms: Vec<String> = postings.iter().map(|(t, _)| t.clone()).collect();
        let (documents, mut idfs) = self.term_weights(terms.clone()).await?;
        // The rarest pairs and words of the text that some case holds ask for candidates.
        let held: std::collections::HashSet<&String> = terms.iter().collect();
        let mut distinctive: Vec<(&String, f64)> = idfs
            .iter()
            .filter(|(t, w)| t.chars().count() > 1 && held.contains(t) && **w < idf(documents, 0))
            .map(|(t, w)| (t, *w))
            .collect();
        distinctive.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        let asked: Vec<String> = distinctive
            .into_iter()
            .take(QUERY_TERMS)
            .map(|(t, _)| t.clone())
            .collect();
        let found = if asked.is_empty() {
            Vec::new()
        } else {
            self.search_any(asked, CANDIDATES).await?
        };
        let mut candidates: Vec<Case> = Vec::with_capacity(found.len() + nearby.len());
        for c in nearby {
            if !candidates.iter().any(|k| k.id == c.id) {
                candidates.push(c);
            }
        }
        let wanted: Vec<Uuid> = found
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| Some(*id) != probe.except && !candidates.iter().any(|k| k.id == *id))
            .collect();
        let mut read = self.cases_by_ids(&wanted).await?;
        candidates.extend(wanted.iter().filter_map(|id| read.remove(id)));
        let reference = match probe.actor {
            Some(_) => Some(self.reference().await?),
            None => None,
        };
        candidates.retain(|c| {
            (!probe.open_only || c.state.status.is_open())
                && (!probe.earlier_only || c.reported_at < probe.at)
                && match (probe.actor, &reference) {
                    (Some(actor), Some(r)) => r.policy().may_read_case(actor, c).is_ok(),
                    _ => true,
                }
        });
        // Their terms' IDF, for the ones the probe does not share.
        let mut theirs: Vec<Vec<(String, u32)>> = Vec::with_capacity(candidates.len());
        let mut unknown: Vec<String> = Vec::new();
        for c in &candidates {
            let (p, _) = document_postings(&c.description, &places);
            unknown.extend(
                p.iter()
                    .filter(|(t, _)| !idfs.contains_key(t))
                    .map(|(t, _)| t.clone()),
            );
            theirs.push(p);
        }
        unknown.sort();
        unknown.dedup();
        idfs.extend(self.term_weights(unknown).await?.1);
        let probe_vector = weighted(&postings, &idfs);
        let mut scored: Vec<SimilarCase> = candidates
            .into_iter()
            .zip(theirs)
            .map(|(case, p)| {
                let (text, shared) = cosine(&probe_vector, &weighted(&p, &idfs));
                let distance = probe.location.zip(case.location).map(|(a, b)| metres(a, b));
                let hours = (case.reported_at - probe.at).get_seconds() as f64 / 3600.0;
                let likeness = likeness(text, shared, distance, hours);
                SimilarCase { case, likeness }
            })
            .filter(|s| s.likeness.score >= MIN_SCORE)
            .collect();
        scored.sort_by(|a, b| {
            b.likeness
                .score
                .total_cmp(&a.likeness.score)
                .then(b.case.id.cmp(&a.case.id))
        });
        scored.truncate(limit);
        Ok(scored)
    }
}
