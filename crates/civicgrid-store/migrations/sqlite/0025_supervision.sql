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
    sealed      BLOB NOT NULL,
    PRIMARY KEY (report_id, seq)
);
CREATE TRIGGER supervision_events_append_only BEFORE UPDATE ON supervision_events
BEGIN
    SELECT RAISE(ABORT, 'supervision events are append-only');
END;
CREATE TRIGGER supervision_events_erased_only BEFORE DELETE ON supervision_events
WHEN (SELECT erasing FROM supervision_reports WHERE id = OLD.report_id) IS NOT 1
BEGIN
    SELECT RAISE(ABORT, 'supervision events go only with their report, by the retention erasure');
END;
CREATE TRIGGER supervision_erasing_closed BEFORE UPDATE OF erasing ON supervision_reports
WHEN NEW.erasing = 1 AND (OLD.status <> 'closed' OR OLD.closed_on IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'only a closed report is erased');
END;
