//! The full-text index of case text: one tantivy index per instance, in a directory beside
//! the database (or in memory), fed from the database's cases by the indexer job.
//!
//! Documents are given to tantivy already cut into terms by the domain
//! (`civicgrid_domain::text::search::document_terms`): Han characters and their pairs, Latin
//! and digit words, and the deployment's place names. Queries are built from the same terms,
//! so indexing and asking agree whatever the backend. Ranking is tantivy's BM25; a top-k query
//! skips blocks of postings that cannot make the top (block-max WAND), which keeps a search
//! over millions of cases within milliseconds.
//!
//! Where the index stands is kept in the index itself (the commit's payload): the
//! (update time, case id) of the last case read, and the rebuild generation it belongs to.
//! A rebuild asked for anywhere (`civicgrid search reindex`) raises the generation in the
//! database; every instance's indexer sees it and rebuilds its own index.
//!
//! One process at a time writes a directory (tantivy's lock). A process that finds the lock
//! taken (a command run beside `serve`) only reads, and sees the writer's commits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use civicgrid_domain::territory::RegionCode;
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::error::{AppError, AppResult};

/// Memory the writer may fill before it writes a segment.
const WRITER_BUDGET: usize = 32 * 1024 * 1024;

/// Where the index has read the cases to; kept as the commit's payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub generation: i64,
    /// Microseconds since the epoch, as the store keeps update times.
    pub updated_at: i64,
    pub case_id: String,
}

/// A case's text, cut into terms, as handed to the index.
#[derive(Debug, Clone)]
pub struct Document {
    pub case_id: uuid::Uuid,
    pub region: RegionCode,
    /// The terms in order (a term may repeat).
    pub terms: Vec<String>,
}

#[derive(Clone, Copy)]
struct Fields {
    case_id: Field,
    /// Every prefix of the case's region code, so that a region's cases are one term.
    region: Field,
    text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let case_id = b.add_text_field("case_id", STRING | STORED);
    let region = b.add_text_field("region", STRING);
    let text = b.add_text_field(
        "text",
        TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqs)
                .set_fieldnorms(true),
        ),
    );
    (
        b.build(),
        Fields {
            case_id,
            region,
            text,
        },
    )
}

/// The index's failures are the disk's (or a lock poisoned by a panic): answered as a
/// store that cannot be reached.
fn failed(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Io {
        path: format!("search index ({what})"),
        source: std::io::Error::other(e.to_string()),
    }
}

/// The index, its reader, and its writer when this process holds the directory.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    /// Cases indexed whose update is too recent to move the progress past, with the update
    /// time read: the next rounds read them again and skip those unchanged.
    unsettled: Mutex<HashMap<uuid::Uuid, i64>>,
    location: Option<PathBuf>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("location", &self.location)
            .finish()
    }
}

impl SearchIndex {
    /// An index held in memory (tests, commands that read a few cases, `sqlite::memory:`).
    pub fn in_memory() -> AppResult<SearchIndex> {
        let (schema, fields) = schema();
        let index = Index::create_in_ram(schema);
        let writer = index
            .writer_with_num_threads(1, WRITER_BUDGET)
            .map_err(|e| failed("writer", e))?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| failed("reader", e))?;
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(Some(writer)),
            fields,
            unsettled: Mutex::default(),
            location: None,
        })
    }

    /// Opens the index in `dir`, creating it if need be; writes too unless another process
    /// holds the directory.
    pub fn open(dir: &Path) -> AppResult<SearchIndex> {
        std::fs::create_dir_all(dir).map_err(|source| AppError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| failed(&dir.display().to_string(), e))?;
        let index = Index::open_or_create(directory, schema)
            .map_err(|e| failed(&dir.display().to_string(), e))?;
        let writer = match index.writer_with_num_threads(1, WRITER_BUDGET) {
            Ok(w) => Some(w),
            Err(tantivy::TantivyError::LockFailure(..)) => None,
            Err(e) => return Err(failed("writer", e)),
        };
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(|e| failed("reader", e))?;
        Ok(SearchIndex {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            unsettled: Mutex::default(),
            location: Some(dir.to_path_buf()),
        })
    }

    /// Whether this process feeds the index (else another process holding it does).
    pub fn writes(&self) -> bool {
        self.writer.lock().map(|w| w.is_some()).unwrap_or(false)
    }

    pub fn location(&self) -> Option<&Path> {
        self.location.as_deref()
    }

    /// Where the last commit left the indexer.
    pub fn progress(&self) -> AppResult<Progress> {
        let metas = self.index.load_metas().map_err(|e| failed("meta", e))?;
        Ok(metas
            .payload
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default())
    }

    /// Whether `case` was indexed at `updated_at` by an earlier round and not settled since.
    pub fn has_unsettled(&self, case: uuid::Uuid, updated_at: i64) -> bool {
        self.unsettled
            .lock()
            .map(|u| u.get(&case) == Some(&updated_at))
            .unwrap_or(false)
    }

    /// Replaces the documents' cases, forgets what the progress has passed, and commits with
    /// `progress` (emptying the index first when `clear`).
    pub fn commit(
        &self,
        documents: Vec<(Document, i64)>,
        progress: &Progress,
        clear: bool,
    ) -> AppResult<()> {
        let mut guard = self.writer.lock().map_err(|e| failed("writer", e))?;
        let Some(writer) = guard.as_mut() else {
            return Ok(());
        };
        if clear {
            writer
                .delete_all_documents()
                .map_err(|e| failed("clear", e))?;
        }
        let mut unsettled = self.unsettled.lock().map_err(|e| failed("writer", e))?;
        if clear {
            unsettled.clear();
        }
        for (d, updated_at) in documents {
            let id = d.case_id.to_string();
            writer.delete_term(Term::from_field_text(self.fields.case_id, &id));
            let mut doc = TantivyDocument::new();
            doc.add_text(self.fields.case_id, &id);
            let code = d.region.as_str();
            for (end, _) in code.char_indices().skip(1) {
                doc.add_text(self.fields.region, &code[..end]);
            }
            doc.add_text(self.fields.region, code);
            doc.add_pre_tokenized_text(
                self.fields.text,
                PreTokenizedString {
                    text: String::new(),
                    tokens: d
                        .terms
                        .into_iter()
                        .enumerate()
                        .map(|(position, text)| Token {
                            offset_from: 0,
                            offset_to: 0,
                            position,
                            text,
                            position_length: 1,
                        })
                        .collect(),
                },
            );
            writer.add_document(doc).map_err(|e| failed("add", e))?;
            unsettled.insert(d.case_id, updated_at);
        }
        // What the progress has passed is not read again.
        unsettled.retain(|id, at| {
            *at > progress.updated_at
                || (*at == progress.updated_at && id.to_string() > progress.case_id)
        });
        let payload = serde_json::to_string(progress).map_err(|e| failed("progress", e))?;
        let mut prepared = writer.prepare_commit().map_err(|e| failed("commit", e))?;
        prepared.set_payload(&payload);
        prepared.commit().map_err(|e| failed("commit", e))?;
        self.reader.reload().map_err(|e| failed("reload", e))?;
        Ok(())
    }

    /// Documents indexed and their mean length in terms.
    pub fn statistics(&self) -> AppResult<(u64, f64)> {
        let searcher = self.reader.searcher();
        let documents = searcher.num_docs();
        let mut tokens = 0u64;
        for segment in searcher.segment_readers() {
            tokens += segment
                .inverted_index(self.fields.text)
                .map_err(|e| failed("statistics", e))?
                .total_num_tokens();
        }
        let mean = if documents == 0 {
            0.0
        } else {
            tokens as f64 / documents as f64
        };
        Ok((documents, mean))
    }

    /// In how many documents each term occurs (terms no document holds are left out).
    pub fn term_counts(&self, terms: &[String]) -> AppResult<Vec<(String, u64)>> {
        let searcher = self.reader.searcher();
        let mut out = Vec::with_capacity(terms.len());
        for t in terms {
            let n = searcher
                .doc_freq(&Term::from_field_text(self.fields.text, t))
                .map_err(|e| failed("term counts", e))?;
            if n > 0 {
                out.push((t.clone(), n));
            }
        }
        Ok(out)
    }

    /// Cases holding every term (with `every_term`; else any), in `within` when given, best
    /// first by BM25: at most `limit` (case, score).
    pub fn search(
        &self,
        terms: &[String],
        within: Option<&RegionCode>,
        every_term: bool,
        limit: usize,
    ) -> AppResult<Vec<(uuid::Uuid, f64)>> {
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let occur = if every_term {
            Occur::Must
        } else {
            Occur::Should
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                let q: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(self.fields.text, t),
                    IndexRecordOption::WithFreqs,
                ));
                (occur, q)
            })
            .collect();
        let query: Box<dyn Query> = match within {
            Some(region) => {
                let text: Box<dyn Query> =
                    Box::new(BooleanQuery::new(std::mem::take(&mut clauses)));
                // The region filters and adds nothing to the score.
                let region: Box<dyn Query> = Box::new(ConstScoreQuery::new(
                    Box::new(TermQuery::new(
                        Term::from_field_text(self.fields.region, region.as_str()),
                        IndexRecordOption::Basic,
                    )),
                    0.0,
                ));
                Box::new(BooleanQuery::new(vec![
                    (Occur::Must, text),
                    (Occur::Must, region),
                ]))
            }
            None => Box::new(BooleanQuery::new(clauses)),
        };
        let searcher = self.reader.searcher();
        let top = searcher
            .search(&query, &TopDocs::with_limit(limit).order_by_score())
            .map_err(|e| failed("search", e))?;
        let mut out = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(|e| failed("read", e))?;
            let Some(id) = doc
                .get_first(self.fields.case_id)
                .and_then(|v| v.as_str())
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
            else {
                continue;
            };
            out.push((id, f64::from(score)));
        }
        Ok(out)
    }
}

/// Where the index of `database` lives unless `--search-index` says: beside a SQLite file
/// (`PATH.search`), in memory for `sqlite::memory:`, and for PostgreSQL under the user's
/// state directory, named after the server and database (never the password).
pub fn default_location(database: &str) -> Option<PathBuf> {
    if let Some(path) = database.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() || path.starts_with(":memory:") {
            return None;
        }
        return Some(PathBuf::from(format!("{path}.search")));
    }
    let rest = database
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(database);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    let rest = rest.split('?').next().unwrap_or(rest);
    let name: String = rest
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(std::env::temp_dir);
    Some(base.join("civicgrid").join("search").join(name))
}

/// The index for `database`: at `location` if given, else where [`default_location`] says.
pub fn for_database(database: &str, location: Option<&Path>) -> AppResult<Arc<SearchIndex>> {
    match location
        .map(Path::to_path_buf)
        .or_else(|| default_location(database))
    {
        Some(dir) => Ok(Arc::new(SearchIndex::open(&dir)?)),
        None => Ok(Arc::new(SearchIndex::in_memory()?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(text: &str) -> (Document, i64) {
        let region: RegionCode = "440305001001".parse().expect("region");
        (
            Document {
                case_id: uuid::Uuid::now_v7(),
                region,
                terms: civicgrid_domain::text::search::document_terms(
                    text,
                    &civicgrid_domain::text::search::PlaceNames::default(),
                ),
            },
            1,
        )
    }

    #[test]
    fn one_process_writes_a_directory_and_another_reads_its_commits() {
        let dir = tempfile::tempdir().expect("dir");
        let first = SearchIndex::open(dir.path()).expect("first");
        let second = SearchIndex::open(dir.path()).expect("second");
        assert!(first.writes());
        assert!(!second.writes());
        let (leak, _) = document("楼顶漏水");
        let id = leak.case_id;
        let progress = Progress {
            generation: 7,
            updated_at: 1,
            case_id: id.to_string(),
        };
        first
            .commit(vec![(leak, 1)], &progress, false)
            .expect("commit");
        // The reader is told of the commit by the file watcher: reload to see it now.
        second.reader.reload().expect("reload");
        let found = second
            .search(&["漏水".into()], None, true, 10)
            .expect("search");
        assert_eq!(found.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![id]);
        assert_eq!(second.progress().expect("progress"), progress);
        // A writer gone frees the directory.
        drop(first);
        assert!(SearchIndex::open(dir.path()).expect("third").writes());
    }

    #[test]
    fn region_filters_and_every_term_must_occur() {
        let index = SearchIndex::in_memory().expect("index");
        let (a, _) = document("路灯不亮，晚上很黑");
        let (mut b, _) = document("路灯坏了");
        b.region = "440305002001".parse().expect("region");
        let (a_id, b_id) = (a.case_id, b.case_id);
        index
            .commit(vec![(a, 1), (b, 1)], &Progress::default(), false)
            .expect("commit");
        let ids =
            |found: Vec<(uuid::Uuid, f64)>| found.into_iter().map(|(i, _)| i).collect::<Vec<_>>();
        let lamp = vec!["路灯".to_string()];
        assert_eq!(index.search(&lamp, None, true, 10).expect("all").len(), 2);
        let street: RegionCode = "440305002".parse().expect("street");
        assert_eq!(
            ids(index
                .search(&lamp, Some(&street), true, 10)
                .expect("within")),
            vec![b_id]
        );
        let both = vec!["路灯".to_string(), "很黑".to_string()];
        assert_eq!(
            ids(index.search(&both, None, true, 10).expect("every")),
            vec![a_id]
        );
        assert_eq!(index.search(&both, None, false, 10).expect("any").len(), 2);
        // Indexing a case again replaces it.
        let (mut again, _) = document("路灯修好了");
        again.case_id = a_id;
        index
            .commit(vec![(again, 2)], &Progress::default(), false)
            .expect("commit");
        assert!(
            index
                .search(&both, None, true, 10)
                .expect("every")
                .is_empty()
        );
        assert_eq!(index.statistics().expect("statistics").0, 2);
        // Clearing empties it.
        index
            .commit(Vec::new(), &Progress::default(), true)
            .expect("clear");
        assert_eq!(index.statistics().expect("statistics").0, 0);
    }
}
