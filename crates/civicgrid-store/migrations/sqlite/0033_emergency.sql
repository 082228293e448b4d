-- Emergency response (应急): plans as data, incidents with their tasks, the append-only log
-- of everything that happened (the after-action record is read from it), grid workers'
-- acknowledgements and reports, needs found, and situation reports.
CREATE TABLE emergency_plans (
    code       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    version    BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE incidents (
    id             TEXT PRIMARY KEY,
    number         TEXT NOT NULL UNIQUE,
    title          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    plan_code      TEXT NOT NULL,
    -- The plan as it stood when the incident was declared: a later edit does not change a
    -- running response.
    plan_body      TEXT NOT NULL,
    level          TEXT,
    status         TEXT NOT NULL,
    exercise       BOOLEAN NOT NULL,
    commander      TEXT NOT NULL,
    region_code    TEXT NOT NULL,
    grids          TEXT NOT NULL,
    area           TEXT NOT NULL,
    period_minutes BIGINT NOT NULL,
    declared_by    TEXT NOT NULL,
    declared_at    BIGINT NOT NULL,
    activated_at   BIGINT,
    lifted_at      BIGINT,
    lift_reason    TEXT,
    version        BIGINT NOT NULL
);
CREATE INDEX incidents_by_status ON incidents (status, declared_at);
-- One row per (incident, task key, addressee): a task is never created twice, whichever
-- instance activates.
CREATE TABLE incident_tasks (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    task_key    TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_code TEXT NOT NULL,
    title       TEXT NOT NULL,
    level       TEXT NOT NULL,
    due_at      BIGINT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT,
    created_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    ended_by    TEXT,
    PRIMARY KEY (incident_id, task_key, target_kind, target_code)
);
CREATE TABLE incident_events (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    grid_code   TEXT,
    body        TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
CREATE TABLE incident_acknowledgements (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    grid_code   TEXT NOT NULL,
    username    TEXT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (incident_id, grid_code, username)
);
CREATE TABLE incident_grid_reports (
    id                 TEXT PRIMARY KEY,
    incident_id        TEXT NOT NULL REFERENCES incidents (id),
    grid_code          TEXT NOT NULL,
    reported_by        TEXT NOT NULL,
    at                 BIGINT NOT NULL,
    households_checked BIGINT NOT NULL,
    people_transferred BIGINT NOT NULL,
    note               TEXT NOT NULL
);
CREATE INDEX incident_grid_reports_by_incident ON incident_grid_reports (incident_id, at);
CREATE TABLE incident_needs (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    grid_code   TEXT NOT NULL,
    report_id   TEXT NOT NULL,
    text        TEXT NOT NULL,
    skills      TEXT NOT NULL,
    status      TEXT NOT NULL,
    case_id     TEXT,
    activity_id TEXT,
    raised_by   TEXT NOT NULL,
    raised_at   BIGINT NOT NULL,
    settled_by  TEXT,
    settled_at  BIGINT
);
CREATE INDEX incident_needs_by_incident ON incident_needs (incident_id, raised_at);
-- Reminders that a situation report is due: one per (incident, period).
CREATE TABLE incident_reminders (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    period      BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (incident_id, period)
);
CREATE TABLE incident_sitreps (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    author      TEXT NOT NULL,
    figures     TEXT NOT NULL,
    text        TEXT NOT NULL,
    PRIMARY KEY (incident_id, seq)
);
CREATE TRIGGER incident_events_append_only BEFORE UPDATE ON incident_events
BEGIN
    SELECT RAISE(ABORT, 'incident events are append-only');
END;
CREATE TRIGGER incident_events_kept BEFORE DELETE ON incident_events
BEGIN
    SELECT RAISE(ABORT, 'incident events are append-only');
END;
