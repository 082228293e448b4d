//! Full-text search over case text (全文检索): descriptions, addresses and the notes of the
//! case's events, in Chinese.
//!
//! Each instance keeps its own index (`index.rs`: tantivy, in a directory beside the
//! database, or in memory), fed from the database: the indexer job reads cases by their
//! update time from where the index stands and keeps up with intake within seconds. Every
//! instance reads the same cases in the same order with the same terms, so their indexes
//! agree; the database stays the one truth, and an index can always be thrown away and
//! rebuilt. Progress stops short of the last 30 s so that a late commit (or one stamped by an
//! instance whose clock lags) is read again. `civicgrid search reindex` raises the rebuild
//! generation in the database, and every instance's indexer rebuilds its index. Results are
//! filtered by the access policy, as case lists are.
//!
//! Why an index per instance and not in the database: a BM25 top-k over millions of cases
//! needs postings that skip what cannot make the top; neither SQLite nor PostgreSQL ranks
//! that way, and 10 M cases make over a billion posting rows (see bench/RESULTS.md).

pub mod cli;
pub mod hotspots;
pub mod index;
pub mod jobs;
pub mod rest;
pub mod similar;

use std::collections::HashMap;
use std::sync::Arc;

use civicgrid_domain::access::Permission;
use civicgrid_domain::case::Case;
use civicgrid_domain::text::search::{PlaceNames, document_terms, idf, query_plan, snippet};

use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult};
use index::{Document, Progress, SearchIndex};

/// Matches read at most for one search.
const MAX_READ: u32 = 10_000;
/// Cases indexed per commit.
const BATCH: u32 = 500;
/// How long after a case's update time the indexer treats it as committed by every instance.
const SETTLE: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);

/// A case found, with its score and where the query occurs.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub case: Case,
    pub score: f64,
    pub snippet: String,
    /// The words of the query to mark in the snippet.
    pub marks: Vec<String>,
}

/// The text of a case that search reads: description, address and its events' notes.
fn case_text(case: &Case, events: &[civicgrid_store::CaseEvent]) -> String {
    let mut text = case.description.clone();
    if let Some(address) = &case.address {
        text.push('\n');
        text.push_str(address);
    }
    for e in events {
        for field in ["note", "comment", "reason"] {
            if let Some(note) = e.payload.get(field).and_then(|v| v.as_str()) {
                text.push('\n');
                text.push_str(note);
            }
        }
    }
    text
}

/// Runs `f` on the index off the async threads (tantivy reads and writes files).
async fn on_index<T: Send + 'static>(
    index: Arc<SearchIndex>,
    f: impl FnOnce(&SearchIndex) -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    tokio::task::spawn_blocking(move || f(&index))
        .await
        .map_err(|e| AppError::Io {
            path: "search index".into(),
            source: std::io::Error::other(e.to_string()),
        })?
}

impl App {
    /// This instance's index: the one opened with [`App::use_search_index`], else one in
    /// memory made on first use.
    pub fn search_index(&self) -> AppResult<Arc<SearchIndex>> {
        if let Some(index) = self.search_index.get() {
            return Ok(index.clone());
        }
        let made = Arc::new(SearchIndex::in_memory()?);
        Ok(self.search_index.get_or_init(|| made).clone())
    }

    /// Uses `index` from now on (once, before the first search; later calls are ignored).
    pub fn use_search_index(&self, index: Arc<SearchIndex>) {
        let _ = self.search_index.set(index);
    }

    /// The deployment's place names for the tokenizer: its regions and grids (from the
    /// cached reference data).
    pub async fn place_names(&self) -> AppResult<PlaceNames> {
        let reference = self.reference().await?;
        Ok(PlaceNames::new(
            reference
                .region_names
                .values()
                .chain(reference.grid_names.values())
                .cloned(),
        ))
    }

    /// Indexes the cases changed since the index was last fed, one batch: how many, and
    /// whether the progress moved. Progress stops short of the last [`SETTLE`]: a change
    /// committed late, or stamped by an instance whose clock lags, is read again on the next
    /// rounds (a case read again unchanged is skipped; changed, it replaces its entry). An
    /// instance that does not hold the index's directory leaves the feeding to the one that
    /// does.
    pub async fn index_changed_cases(&self) -> AppResult<(usize, bool)> {
        let index = self.search_index()?;
        if !index.writes() {
            return Ok((0, false));
        }
        let generation = self.repo.search_generation().await?;
        let mut progress = index.progress()?;
        let clear = progress.generation != generation;
        if clear {
            progress = Progress {
                generation,
                ..Progress::default()
            };
        }
        let changed = self
            .repo
            .cases_to_index((progress.updated_at, &progress.case_id), BATCH)
            .await?;
        // The store keeps update times as microseconds since the epoch.
        let settled = self
            .clock
            .now()
            .checked_sub(SETTLE)
            .unwrap_or(jiff::Timestamp::MIN)
            .as_microsecond();
        let moved_to = changed.iter().rev().find(|(_, at)| *at <= settled).copied();
        let wanted: Vec<(uuid::Uuid, i64)> = changed
            .iter()
            .filter(|(id, at)| !index.has_unsettled(*id, *at))
            .copied()
            .collect();
        if wanted.is_empty() && moved_to.is_none() && !clear {
            return Ok((0, false));
        }
        let places = self.place_names().await?;
        let cases = self
            .cases_by_ids(&wanted.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .await?;
        let mut documents = Vec::with_capacity(wanted.len());
        for (id, at) in &wanted {
            let Some(case) = cases.get(id) else { continue };
            let events = self.repo.case_events(id).await?;
            documents.push((
                Document {
                    case_id: case.id,
                    region: case.region.clone(),
                    terms: document_terms(&case_text(case, &events), &places),
                },
                *at,
            ));
        }
        if let Some((id, at)) = moved_to {
            progress.updated_at = at;
            progress.case_id = id.to_string();
        }
        let n = documents.len();
        on_index(index, move |i| i.commit(documents, &progress, clear)).await?;
        Ok((n, moved_to.is_some()))
    }

    /// Feeds the index until it has every case; how many were indexed.
    pub async fn catch_up_search_index(&self) -> AppResult<usize> {
        let mut total = 0;
        loop {
            let (n, moved) = self.index_changed_cases().await?;
            total += n;
            if !moved {
                return Ok(total);
            }
        }
    }

    /// How many cases are indexed, and the IDF of each of `terms` over them (a term no
    /// case holds weighs the most).
    pub async fn term_weights(&self, terms: Vec<String>) -> AppResult<(u64, HashMap<String, f64>)> {
        on_index(self.search_index()?, move |i| {
            let (documents, _) = i.statistics()?;
            let counts: HashMap<String, u64> = i.term_counts(&terms)?.into_iter().collect();
            let weights = terms
                .into_iter()
                .map(|t| {
                    let n = counts.get(&t).copied().unwrap_or(0);
                    (t, idf(documents.max(n), n))
                })
                .collect();
            Ok((documents, weights))
        })
        .await
    }

    /// Cases holding any of `terms`, best first: at most `limit` (case, score).
    pub async fn search_any(
        &self,
        terms: Vec<String>,
        limit: usize,
    ) -> AppResult<Vec<(uuid::Uuid, f64)>> {
        on_index(self.search_index()?, move |i| {
            i.search(&terms, None, false, limit)
        })
        .await
    }

    /// Asks every instance to rebuild its index from the cases, and rebuilds this one.
    pub async fn reindex_search(&self) -> AppResult<usize> {
        self.repo.next_search_generation().await?;
        self.catch_up_search_index().await
    }

    /// Cases matching every term of `query`, best first, that `actor` may read (all cases for
    /// the command line, `None`); at most `limit`.
    pub async fn search_cases(
        &self,
        actor: Option<&Actor>,
        query: &str,
        limit: u32,
    ) -> AppResult<Vec<SearchHit>> {
        let places = self.place_names().await?;
        let plan = query_plan(query, &places);
        if plan.is_empty() {
            return Err(AppError::Unprocessable(vec![(
                "q".into(),
                "give at least one word or character to search for".into(),
            )]));
        }
        let index = self.search_index()?;
        let reference = match actor {
            Some(_) => Some(self.reference().await?),
            None => None,
        };
        // A reader whose cases all lie in one region searches that region only.
        let within = match (actor, &reference) {
            (Some(actor @ Actor::Staff { grants, .. }), Some(r))
                if grants
                    .iter()
                    .all(|g| matches!(g.scope, civicgrid_domain::access::Scope::Region(_))) =>
            {
                let regions = r.policy().regions_with(actor, Permission::CaseRead);
                (regions.len() == 1).then(|| regions[0].clone())
            }
            _ => None,
        };
        // Read more than asked for, and more again while the reader's cases are too few
        // among them: some may be out of sight.
        let mut wanted = if actor.is_some() {
            limit.saturating_mul(4)
        } else {
            limit
        };
        loop {
            let (plan, within) = (plan.clone(), within.clone());
            let found = on_index(index.clone(), move |i| {
                i.search(&plan, within.as_ref(), true, wanted as usize)
            })
            .await?;
            let cases = self
                .cases_by_ids(&found.iter().map(|(id, _)| *id).collect::<Vec<_>>())
                .await?;
            let mut hits = Vec::new();
            for (id, score) in &found {
                let Some(case) = cases.get(id) else { continue };
                if let (Some(actor), Some(reference)) = (actor, &reference)
                    && reference.policy().may_read_case(actor, case).is_err()
                {
                    continue;
                }
                let (snippet, marks) = snippet(&case.description, query, 80);
                hits.push(SearchHit {
                    case: case.clone(),
                    score: *score,
                    snippet,
                    marks,
                });
                if hits.len() == limit as usize {
                    break;
                }
            }
            if hits.len() == limit as usize || (found.len() as u32) < wanted || wanted >= MAX_READ {
                return Ok(hits);
            }
            wanted = wanted.saturating_mul(4).min(MAX_READ);
        }
    }

    /// The cases of `ids`, read a few hundred at a time.
    pub async fn cases_by_ids(&self, ids: &[uuid::Uuid]) -> AppResult<HashMap<uuid::Uuid, Case>> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let found = self
                .repo
                .cases(&civicgrid_store::CaseFilter {
                    ids: chunk.to_vec(),
                    limit: 1000,
                    ..Default::default()
                })
                .await?;
            out.extend(found.into_iter().map(|c| (c.id, c)));
        }
        Ok(out)
    }
}
