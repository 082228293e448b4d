-- The Open311 link to upstream systems (the county's GeoReport v2 server): which cases go
-- where (category and region), the accept events waiting to be looked at (kept in the
-- event's own transaction), and one link per forwarded case, sent under a lease and retried
-- (5 minutes, then every 30), with the upstream request id and the status pulled back.
CREATE TABLE upstream_systems (
    name            TEXT PRIMARY KEY,
    base_url        TEXT NOT NULL,
    jurisdiction_id TEXT,
    api_key_sealed  TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE TABLE upstream_routes (
    system        TEXT NOT NULL REFERENCES upstream_systems (name),
    category_code TEXT NOT NULL,
    region_code   TEXT NOT NULL,
    service_code  TEXT NOT NULL,
    PRIMARY KEY (category_code, region_code)
);
CREATE TABLE upstream_events (
    case_id TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE TABLE upstream_links (
    case_id          TEXT PRIMARY KEY,
    system           TEXT NOT NULL,
    service_code     TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    request_id       TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    leased_by        TEXT,
    leased_until     BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT,
    upstream_status  TEXT,
    upstream_updated TEXT
);
CREATE INDEX upstream_links_due ON upstream_links (next_attempt_at) WHERE status = 'pending';
CREATE TRIGGER case_events_forward AFTER INSERT ON case_events
WHEN NEW.action = 'accept'
BEGIN
    INSERT INTO upstream_events (case_id, seq, at) VALUES (NEW.case_id, NEW.seq, NEW.at);
END;
