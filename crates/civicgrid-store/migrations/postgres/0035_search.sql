-- The full-text index of case text (description, address, notes), kept in the database so
-- that every instance searches the same index on either backend: one posting per (term,
-- case) with its count, and per case the number of terms (for length normalisation).
-- `search_progress` is how far the indexer has read the cases (by their update time).
CREATE TABLE search_documents (
    case_id     TEXT PRIMARY KEY REFERENCES cases (id),
    region_code TEXT NOT NULL,
    length      BIGINT NOT NULL,
    -- The case's updated_at as indexed: an older read never overwrites a newer one.
    updated_at  BIGINT NOT NULL,
    indexed_at  BIGINT NOT NULL
);
CREATE INDEX search_documents_region ON search_documents (region_code);

CREATE TABLE search_postings (
    term    TEXT NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id),
    hits    BIGINT NOT NULL,
    PRIMARY KEY (term, case_id)
);
CREATE INDEX search_postings_case ON search_postings (case_id);

CREATE TABLE search_progress (
    name       TEXT PRIMARY KEY,
    updated_at BIGINT NOT NULL,
    case_id    TEXT NOT NULL,
    -- A rebuild starts a new generation: an indexer still on the old one cannot move it.
    generation BIGINT NOT NULL
);
-- The indexer reads cases in this order.
CREATE INDEX cases_updated ON cases (updated_at, id);

-- Category suggestion models, newest version current. A model is trained from the cases whose
-- category a person confirmed (or from files) and kept with its evaluation.
CREATE TABLE category_models (
    version     BIGINT PRIMARY KEY,
    trained_at  BIGINT NOT NULL,
    source      TEXT NOT NULL,
    labelled    BIGINT NOT NULL,
    -- Cases with a confirmed category when it was trained: retraining waits for more.
    confirmed   BIGINT NOT NULL,
    evaluation  TEXT NOT NULL,
    model       TEXT NOT NULL
);
