-- Abuse limits (wrong passwords, public lookups, Open311 posts) counted per key in fixed
-- windows, in the database so that every instance sees the same counts. civicgrid writes
-- them on a connection of their own with synchronous=NORMAL: a count lost to a power cut
-- costs nothing, and a public lookup should not wait for an fsync.
CREATE TABLE abuse_counters (
    key TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    hits BIGINT NOT NULL
);
CREATE INDEX abuse_counters_expiry ON abuse_counters (expires_at);
