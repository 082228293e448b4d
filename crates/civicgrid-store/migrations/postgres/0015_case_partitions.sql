-- Cases and their events, partitioned by time (one partition a year, and a default one for
-- years without their own). A case id is a UUID v7 whose first 48 bits are the instant of
-- intake in milliseconds, so a range of ids is a range of time, and a case's events (keyed by
-- the case id) lie in the partition of their case. Ids compare in the "C" collation: byte
-- order, which is time order. `civicgrid serve` makes this year's and next year's partitions
-- (`civicgrid_add_case_partitions`) when it starts and checks again every round.
--
-- A partitioned table can only hold unique keys that contain its partition key, so the
-- receipt code's uniqueness across all partitions is kept by `case_receipts`, filled by a
-- trigger in the same transaction as the case.

CREATE FUNCTION civicgrid_uuid7_floor(t timestamptz) RETURNS text AS $$
    SELECT substr(h, 1, 8) || '-' || substr(h, 9, 4)
      FROM (SELECT lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') AS h) AS x
$$ LANGUAGE sql IMMUTABLE;

-- Makes the yearly partitions of cases and events from first_year to last_year that do not
-- exist yet; returns how many it made.
CREATE FUNCTION civicgrid_add_case_partitions(first_year int, last_year int) RETURNS int AS $$
DECLARE
    y    int;
    made int := 0;
    lo   text;
    hi   text;
BEGIN
    -- Instances starting together make each partition once.
    PERFORM pg_advisory_xact_lock(hashtext('civicgrid_add_case_partitions'));
    FOR y IN first_year..last_year LOOP
        lo := civicgrid_uuid7_floor(make_timestamptz(y, 1, 1, 0, 0, 0, 'UTC'));
        hi := civicgrid_uuid7_floor(make_timestamptz(y + 1, 1, 1, 0, 0, 0, 'UTC'));
        IF to_regclass(format('%I', 'cases_' || y)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF cases FOR VALUES FROM (%L) TO (%L)',
                           'cases_' || y, lo, hi);
            made := made + 1;
        END IF;
        IF to_regclass(format('%I', 'case_events_' || y)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF case_events FOR VALUES FROM (%L) TO (%L)',
                           'case_events_' || y, lo, hi);
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END
$$ LANGUAGE plpgsql;

ALTER TABLE case_units DROP CONSTRAINT case_units_case_id_fkey;
ALTER TABLE personal_data_reads DROP CONSTRAINT personal_data_reads_case_id_fkey;
ALTER TABLE case_photos DROP CONSTRAINT case_photos_case_id_fkey;
ALTER TABLE cases RENAME TO cases_unpartitioned;
ALTER TABLE case_events RENAME TO case_events_unpartitioned;
ALTER INDEX cases_pkey RENAME TO cases_unpartitioned_pkey;
ALTER INDEX case_events_pkey RENAME TO case_events_unpartitioned_pkey;
DROP INDEX cases_status, cases_region, cases_grid, cases_category, cases_reported, case_events_at;

CREATE TABLE cases (
    id               TEXT COLLATE "C" NOT NULL,
    receipt_code     TEXT NOT NULL,
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
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);

CREATE TABLE case_events (
    case_id     TEXT COLLATE "C" NOT NULL REFERENCES cases (id),
    seq         BIGINT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    at          BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    region_code TEXT NOT NULL,
    PRIMARY KEY (case_id, seq)
) PARTITION BY RANGE (case_id);

CREATE TABLE cases_default PARTITION OF cases DEFAULT;
CREATE TABLE case_events_default PARTITION OF case_events DEFAULT;
SELECT civicgrid_add_case_partitions(
    LEAST(
        COALESCE((SELECT MIN(EXTRACT(YEAR FROM to_timestamp(reported_at / 1e6) AT TIME ZONE 'UTC'))::int
                    FROM cases_unpartitioned), 9999),
        EXTRACT(YEAR FROM now() AT TIME ZONE 'UTC')::int - 1),
    EXTRACT(YEAR FROM now() AT TIME ZONE 'UTC')::int + 1);

CREATE TABLE case_receipts (
    receipt_code TEXT PRIMARY KEY,
    case_id      TEXT COLLATE "C" NOT NULL,
    region_code  TEXT NOT NULL
);
CREATE FUNCTION case_receipt_unique() RETURNS trigger AS $$
BEGIN
    INSERT INTO case_receipts (receipt_code, case_id, region_code)
    VALUES (NEW.receipt_code, NEW.id, NEW.region_code);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

INSERT INTO cases SELECT * FROM cases_unpartitioned;
INSERT INTO case_events SELECT * FROM case_events_unpartitioned;
INSERT INTO case_receipts SELECT receipt_code, id, region_code FROM cases;
DROP TABLE case_events_unpartitioned;
DROP TABLE cases_unpartitioned;

CREATE INDEX cases_receipt ON cases (receipt_code);
CREATE INDEX cases_status ON cases (status, due_at);
CREATE INDEX cases_region ON cases (region_code, id);
CREATE INDEX cases_grid ON cases (grid_code, id);
CREATE INDEX cases_category ON cases (category_code, id);
CREATE INDEX cases_reported ON cases (reported_at);
CREATE INDEX case_events_at ON case_events (at);
ALTER TABLE case_units ALTER COLUMN case_id TYPE TEXT COLLATE "C";
ALTER TABLE personal_data_reads ALTER COLUMN case_id TYPE TEXT COLLATE "C";
ALTER TABLE case_photos ALTER COLUMN case_id TYPE TEXT COLLATE "C";
ALTER TABLE case_units ADD FOREIGN KEY (case_id) REFERENCES cases (id);
ALTER TABLE personal_data_reads ADD FOREIGN KEY (case_id) REFERENCES cases (id);
ALTER TABLE case_photos ADD FOREIGN KEY (case_id) REFERENCES cases (id);

CREATE TRIGGER cases_receipt_unique AFTER INSERT ON cases
    FOR EACH ROW EXECUTE FUNCTION case_receipt_unique();
CREATE TRIGGER case_events_mark_kpi AFTER INSERT ON case_events
    FOR EACH ROW EXECUTE FUNCTION kpi_mark_dirty();
CREATE TRIGGER case_events_notify AFTER INSERT ON case_events
    FOR EACH ROW EXECUTE FUNCTION notify_webhooks();
