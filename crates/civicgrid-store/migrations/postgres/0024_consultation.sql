-- Consultation (议事协商, issue 14): topics and their supports, opinions and their moderation,
-- meetings with invitees, agenda, minutes and attachments, and results (decisions with their
-- linked work: cases and milestones). Every change of a topic, opinion, meeting or result is
-- an append-only event in `consultation_events`, in the transaction of the change.
ALTER TABLE polls ADD COLUMN topic_id TEXT;
-- Per scope (a grid's community, a community, a street): the share of registered households
-- whose support qualifies a topic, and the working days it then has to reach an agenda.
CREATE TABLE consultation_rules (
    region_code        TEXT PRIMARY KEY,
    threshold_per_mille BIGINT NOT NULL,
    agenda_days        BIGINT NOT NULL,
    updated_by         TEXT NOT NULL,
    updated_at         BIGINT NOT NULL
);
-- A household's consultation key (议事码), handed out by grid workers from the register: it
-- proves a household when supporting a topic. Only its digest is kept; a new key replaces it.
CREATE TABLE household_keys (
    household_id TEXT PRIMARY KEY,
    key_digest   TEXT NOT NULL UNIQUE,
    issued_by    TEXT NOT NULL,
    issued_at    BIGINT NOT NULL
);
CREATE TABLE topics (
    id              TEXT PRIMARY KEY,
    public_id       TEXT NOT NULL UNIQUE,
    reporter_key    TEXT,
    scope_code      TEXT NOT NULL,
    region_code     TEXT NOT NULL,
    grid_code       TEXT,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    raised_by       TEXT NOT NULL,
    raised_as       TEXT NOT NULL,
    raised_at       BIGINT NOT NULL,
    status          TEXT NOT NULL,
    supports        BIGINT NOT NULL,
    threshold       BIGINT NOT NULL,
    qualified_at    BIGINT,
    agenda_due      BIGINT,
    alarm           TEXT,
    scheduled_at    BIGINT,
    meeting_id      TEXT,
    decided_at      BIGINT,
    withdraw_reason TEXT,
    version         BIGINT NOT NULL
);
CREATE INDEX topics_region ON topics (region_code, raised_at);
CREATE INDEX topics_due ON topics (status, agenda_due);
-- One support per household and topic; the supporter is a digest of both, so that no table
-- lists which households supported what.
CREATE TABLE topic_supports (
    topic_id  TEXT NOT NULL REFERENCES topics (id),
    supporter TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (topic_id, supporter)
);
CREATE TABLE opinions (
    id           TEXT PRIMARY KEY,
    topic_id     TEXT NOT NULL REFERENCES topics (id),
    parent_id    TEXT,
    author       TEXT NOT NULL,
    body         TEXT NOT NULL,
    photo_type   TEXT,
    photo        BYTEA,
    visibility   TEXT NOT NULL,
    flags        BIGINT NOT NULL,
    hide_reason  TEXT,
    posted_at    BIGINT NOT NULL,
    version      BIGINT NOT NULL
);
CREATE INDEX opinions_topic ON opinions (topic_id, posted_at);
CREATE TABLE opinion_flags (
    opinion_id TEXT NOT NULL REFERENCES opinions (id),
    flagger    TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (opinion_id, flagger)
);
CREATE TABLE meetings (
    id          TEXT PRIMARY KEY,
    public_id   TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    region_code TEXT NOT NULL,
    grid_code   TEXT,
    title       TEXT NOT NULL,
    place       TEXT NOT NULL,
    starts_at   BIGINT NOT NULL,
    convener    TEXT NOT NULL,
    agenda      TEXT NOT NULL,
    status      TEXT NOT NULL,
    minutes     TEXT,
    minutes_by  TEXT,
    minutes_at  BIGINT,
    created_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL
);
CREATE INDEX meetings_region ON meetings (region_code, starts_at);
CREATE TABLE meeting_invitees (
    meeting_id  TEXT NOT NULL REFERENCES meetings (id),
    kind        TEXT NOT NULL,
    ref         TEXT NOT NULL,
    name        TEXT NOT NULL,
    answer_due  BIGINT NOT NULL,
    answer      TEXT,
    answer_note TEXT,
    answered_by TEXT,
    answered_at BIGINT,
    missed      BOOLEAN NOT NULL,
    attended_at BIGINT,
    PRIMARY KEY (meeting_id, kind, ref)
);
CREATE INDEX meeting_invitees_unit ON meeting_invitees (kind, ref, answered_at);
CREATE TABLE meeting_attachments (
    meeting_id   TEXT NOT NULL REFERENCES meetings (id),
    seq          BIGINT NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL,
    sha256       TEXT NOT NULL,
    added_by     TEXT NOT NULL,
    added_at     BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, seq)
);
-- A result (成果): a decision (决议) of an agenda item, or one imported, with its linked work.
CREATE TABLE results (
    id           TEXT PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE,
    region_code  TEXT NOT NULL,
    grid_code    TEXT,
    title        TEXT NOT NULL,
    decision     TEXT NOT NULL,
    meeting_id   TEXT,
    agenda_index BIGINT,
    topic_id     TEXT,
    decided_by   TEXT NOT NULL,
    decided_at   BIGINT NOT NULL
);
CREATE INDEX results_region ON results (region_code, decided_at);
CREATE INDEX results_meeting ON results (meeting_id);
-- A result's work: cases dispatched through the loop, or milestones with an owner and a due
-- time. Progress is computed from these, never stored.
CREATE TABLE result_work (
    result_id TEXT NOT NULL REFERENCES results (id),
    seq       BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    case_id   TEXT,
    title     TEXT NOT NULL,
    owner     TEXT NOT NULL,
    due_at    BIGINT,
    done_at   BIGINT,
    done_by   TEXT,
    PRIMARY KEY (result_id, seq)
);
CREATE INDEX result_work_case ON result_work (case_id);
CREATE TABLE consultation_events (
    subject_id TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    note       TEXT NOT NULL,
    PRIMARY KEY (subject_id, seq)
);
