-- (PostgreSQL) Cases and their append-only events. The case row caches the fold of its events (the
-- `state` JSON) and carries the columns queries filter on; `version` is the optimistic-
-- concurrency token and equals the seq of the case's latest event.

CREATE TABLE cases (
    id               TEXT PRIMARY KEY,
    receipt_code     TEXT NOT NULL UNIQUE,
    channel          TEXT NOT NULL,
    description      TEXT NOT NULL,
    address          TEXT,
    lon              DOUBLE PRECISION,
    lat              DOUBLE PRECISION,
    grid_code        TEXT REFERENCES grids (code),
    region_code      TEXT NOT NULL,
    category_code    TEXT REFERENCES categories (code),
    attributes       TEXT NOT NULL,
    priority         TEXT NOT NULL,
    reporter_sealed  TEXT,
    routed_units     TEXT NOT NULL,
    routing          TEXT NOT NULL,
    status           TEXT NOT NULL,
    state            TEXT NOT NULL,
    version          BIGINT NOT NULL,
    lead_unit        TEXT,
    clock            TEXT,
    due_at           BIGINT,
    reported_at      BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX cases_status ON cases (status, due_at);
CREATE INDEX cases_region ON cases (region_code, id);
CREATE INDEX cases_grid ON cases (grid_code, id);
CREATE INDEX cases_category ON cases (category_code, id);
CREATE INDEX cases_reported ON cases (reported_at);

CREATE TABLE case_units (
    case_id     TEXT NOT NULL REFERENCES cases (id),
    unit_code   TEXT NOT NULL REFERENCES units (code),
    lead        BOOLEAN NOT NULL,
    region_code TEXT NOT NULL,
    PRIMARY KEY (case_id, unit_code)
);
CREATE INDEX case_units_unit ON case_units (unit_code, case_id);

CREATE TABLE case_events (
    case_id     TEXT NOT NULL REFERENCES cases (id),
    seq         BIGINT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    region_code TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE INDEX case_events_at ON case_events (at);
