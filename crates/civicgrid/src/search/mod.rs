//! Full-text search over case text (全文检索): descriptions, addresses and the notes of the
//! case's events, in Chinese.
//!
//! The index is kept in the database (`civicgrid_store::SearchStore`), not beside each
//! instance: every instance reads and feeds the same index on either backend, and a backup
//! or copy carries it. The indexer job reads cases by their update time from where the index
//! stands and keeps up with intake within seconds. Any instance may run it at once: an older
//! read of a case never replaces a newer one, progress only moves forward, and it stops short
//! of the last 30 s so that a late commit is read again. `civicgrid search reindex` rebuilds
//! the index from the cases as a new generation. Results are filtered by the access policy,
//! as case lists are.

pub mod cli;
pub mod hotspots;
pub mod jobs;
pub mod rest;
pub mod similar;

use std::collections::HashMap;

use civicgrid_domain::access::Permission;
use civicgrid_domain::case::Case;
use civicgrid_domain::text::search::{PlaceNames, document_postings, idf, query_plan, snippet};
use civicgrid_store::{SearchDocument, SearchProgress, WeightedTerm};

use crate::App;
use crate::cases::Actor;
use crate::error::{AppError, AppResult};

/// Matches read at most for one search.
const MAX_READ: u32 = 10_000;
/// Cases indexed per transaction.
const BATCH: u32 = 200;
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

impl App {
    /// The deployment's place names for the tokenizer: its regions and grids.
    pub async fn place_names(&self) -> AppResult<PlaceNames> {
        let regions = self.repo.regions().await?;
        let grids = self.repo.grids(None).await?;
        Ok(PlaceNames::new(
            regions
                .into_iter()
                .map(|r| r.name)
                .chain(grids.into_iter().map(|g| g.name)),
        ))
    }

    /// Indexes the cases changed since the index was last fed, one batch: how many, and
    /// whether the progress moved. Progress stops short of the last [`SETTLE`]: a change
    /// committed late, or stamped by an instance whose clock lags, is read again on the next
    /// rounds (indexing it again replaces its entries).
    pub async fn index_changed_cases(&self) -> AppResult<(usize, bool)> {
        let progress = self.repo.search_progress().await?;
        let changed = self.repo.cases_to_index(&progress, BATCH).await?;
        if changed.is_empty() {
            return Ok((0, false));
        }
        let places = self.place_names().await?;
        let mut documents = Vec::with_capacity(changed.len());
        for (id, _) in &changed {
            let Some(case) = self.repo.case(id).await? else {
                continue;
            };
            let events = self.repo.case_events(id).await?;
            let (postings, length) = document_postings(&case_text(&case, &events), &places);
            documents.push(SearchDocument {
                case_id: case.id,
                region: case.region.clone(),
                postings,
                length,
                updated_at: case.updated_at,
            });
        }
        self.repo
            .index_documents(&documents, self.clock.now())
            .await?;
        // The store keeps update times as microseconds since the epoch.
        let settled = self
            .clock
            .now()
            .checked_sub(SETTLE)
            .unwrap_or(jiff::Timestamp::MIN)
            .as_microsecond();
        let Some(&(last_id, last_at)) = changed.iter().rev().find(|(_, at)| *at <= settled) else {
            return Ok((changed.len(), false));
        };
        self.repo
            .set_search_progress(&SearchProgress {
                updated_at: last_at,
                case_id: last_id.to_string(),
                generation: progress.generation,
            })
            .await?;
        Ok((changed.len(), true))
    }

    /// Feeds the index until it has every case; how many were indexed.
    pub async fn catch_up_search_index(&self) -> AppResult<usize> {
        let mut total = 0;
        loop {
            let (n, moved) = self.index_changed_cases().await?;
            total += n;
            if n < BATCH as usize || !moved {
                return Ok(total);
            }
        }
    }

    /// Empties the index and builds it again from the cases.
    pub async fn reindex_search(&self) -> AppResult<usize> {
        self.repo.clear_search_index().await?;
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
        let (documents, mean_length) = self.repo.search_statistics().await?;
        let counts = self.repo.term_counts(&plan).await?;
        let mut terms = Vec::with_capacity(plan.len());
        for term in &plan {
            let Some((_, with)) = counts.iter().find(|(t, _)| t == term) else {
                return Ok(Vec::new()); // a term no case holds: nothing can match every term
            };
            terms.push(WeightedTerm {
                term: term.clone(),
                weight: idf(documents, *with),
            });
        }
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
            let found = self
                .repo
                .search(&terms, mean_length, within.as_ref(), true, wanted)
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
