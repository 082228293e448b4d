-- The full-text index moved out of the database into a tantivy index per instance (see
-- crates/civicgrid/src/search/index.rs): its postings are dropped. `search_progress` keeps
-- only the rebuild generation that `civicgrid search reindex` raises for every instance.
DROP TABLE search_postings;
DROP TABLE search_documents;
DELETE FROM search_progress WHERE name <> 'cases';
