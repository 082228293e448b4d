-- Supervision reports (issue 16), the protected channel. Nothing here identifies a reporter:
-- ids are random (not time-ordered), every date is a day, the receipt is kept as a keyed
-- digest and the passphrase as an argon2id hash, and the subject, content, messages, file
-- names and files are sealed by the application under the data key, which the database
-- does not hold. Events are append-only; they are deleted only with their report, by the
-- retention erasure (which marks the closed report `erasing` first).
CREATE TABLE supervision_reports (
    id              TEXT PRIMARY KEY,
    receipt_key     TEXT NOT NULL UNIQUE,
    passphrase_hash TEXT NOT NULL,
    region_code     TEXT NOT NULL,
    accused_unit    TEXT,
    concern         TEXT NOT NULL,
    status          TEXT NOT NULL,
    submitted_on    TEXT NOT NULL,
    closed_on       TEXT,
    sealed          TEXT NOT NULL,
    sealed_identity TEXT,
    failed_on       TEXT,
    failed_attempts BIGINT NOT NULL DEFAULT 0,
    version         BIGINT NOT NULL,
    erasing         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX supervision_reports_region ON supervision_reports (region_code, submitted_on);
CREATE INDEX supervision_reports_open ON supervision_reports (status, submitted_on);
CREATE TABLE supervision_events (
    report_id   TEXT NOT NULL REFERENCES supervision_reports (id),
    seq         BIGINT NOT NULL,
    on_day      TEXT NOT NULL,
    party       TEXT NOT NULL,
    action      TEXT NOT NULL,
    sealed_text TEXT,
    PRIMARY KEY (report_id, seq)
);
CREATE TABLE supervision_files (
    report_id   TEXT NOT NULL REFERENCES supervision_reports (id),
    seq         BIGINT NOT NULL,
    on_day      TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    sealed_name TEXT NOT NULL,
    size        BIGINT NOT NULL,
    sealed      BYTEA NOT NULL,
    PRIMARY KEY (report_id, seq)
);
CREATE FUNCTION supervision_events_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND (SELECT erasing FROM supervision_reports WHERE id = OLD.report_id) = 1 THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'supervision events are append-only; they go only with their report, by the retention erasure' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER supervision_events_keep BEFORE UPDATE OR DELETE ON supervision_events
    FOR EACH ROW EXECUTE FUNCTION supervision_events_keep();
CREATE FUNCTION supervision_erasing_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.erasing = 1 AND (OLD.status <> 'closed' OR OLD.closed_on IS NULL) THEN
        RAISE EXCEPTION 'only a closed report is erased' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER supervision_erasing_closed BEFORE UPDATE ON supervision_reports
    FOR EACH ROW EXECUTE FUNCTION supervision_erasing_closed();
