-- Photos of a case (report, before, after), stored with their SHA-256.
CREATE TABLE case_photos (
    case_id      TEXT NOT NULL REFERENCES cases (id),
    sha256       TEXT NOT NULL,
    stage        TEXT NOT NULL CHECK (stage IN ('report', 'before', 'after')),
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    data         BLOB NOT NULL,
    added_by     TEXT NOT NULL,
    added_at     BIGINT NOT NULL,
    region_code  TEXT NOT NULL,
    PRIMARY KEY (case_id, sha256)
);
