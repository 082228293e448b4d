-- Accountability records (问责) with their append-only events, and the published versions of
-- the power and responsibility lists (issue 16). A record's approved points are read as a
-- score change beside the appeals' (see `assessment.rs`); a published version never changes.
CREATE TABLE accountability_records (
    id            TEXT PRIMARY KEY,
    number        BIGINT NOT NULL UNIQUE,
    measure       TEXT NOT NULL,
    subject_kind  TEXT NOT NULL,
    subject_code  TEXT NOT NULL,
    region_code   TEXT NOT NULL,
    period        TEXT NOT NULL,
    points        DOUBLE PRECISION NOT NULL,
    public        BIGINT NOT NULL,
    facts         TEXT NOT NULL,
    grounds       TEXT NOT NULL,
    status        TEXT NOT NULL,
    proposed_by   TEXT NOT NULL,
    proposed_at   BIGINT NOT NULL,
    decided_by    TEXT,
    decided_at    BIGINT,
    decision_note TEXT,
    appeal_id     TEXT,
    version       BIGINT NOT NULL
);
CREATE INDEX accountability_period ON accountability_records (period, status);
CREATE TABLE accountability_events (
    record_id TEXT NOT NULL REFERENCES accountability_records (id),
    seq       BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    note      TEXT NOT NULL,
    PRIMARY KEY (record_id, seq)
);
CREATE FUNCTION accountability_events_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'accountability events are append-only' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER accountability_events_keep BEFORE UPDATE OR DELETE ON accountability_events
    FOR EACH ROW EXECUTE FUNCTION accountability_events_keep();
CREATE TABLE list_versions (
    kind           TEXT NOT NULL,
    number         BIGINT NOT NULL,
    effective_from TEXT NOT NULL,
    published_by   TEXT NOT NULL,
    published_at   BIGINT NOT NULL,
    note           TEXT NOT NULL,
    entries        TEXT NOT NULL,
    PRIMARY KEY (kind, number)
);
CREATE FUNCTION list_versions_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a published list version does not change: publish a new one' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER list_versions_keep BEFORE UPDATE OR DELETE ON list_versions
    FOR EACH ROW EXECUTE FUNCTION list_versions_keep();
