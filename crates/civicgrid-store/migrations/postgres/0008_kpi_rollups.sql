-- Assessment rollups. Each case's current contribution per subject and day, and their sums per
-- community, subject and day. A trigger queues every case whose events change (in the same
-- transaction as the event); the KPI job drains the queue. `marked` counts the changes so that
-- the job only clears what it has seen.
CREATE TABLE kpi_dirty (
    case_id TEXT PRIMARY KEY,
    marked  BIGINT NOT NULL DEFAULT 1
);
CREATE TABLE kpi_contributions (
    case_id      TEXT NOT NULL,
    region_code  TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_code TEXT NOT NULL,
    day          TEXT NOT NULL,
    counters     TEXT NOT NULL,
    PRIMARY KEY (case_id, subject_kind, subject_code)
);
CREATE TABLE kpi_daily (
    region_code  TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_code TEXT NOT NULL,
    day          TEXT NOT NULL,
    counters     TEXT NOT NULL,
    PRIMARY KEY (region_code, day, subject_kind, subject_code)
);
CREATE FUNCTION kpi_mark_dirty() RETURNS trigger AS $$
BEGIN
    INSERT INTO kpi_dirty (case_id) VALUES (NEW.case_id)
    ON CONFLICT (case_id) DO UPDATE SET marked = kpi_dirty.marked + 1;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER case_events_mark_kpi AFTER INSERT ON case_events
    FOR EACH ROW EXECUTE FUNCTION kpi_mark_dirty();
INSERT INTO kpi_dirty (case_id) SELECT id FROM cases;
