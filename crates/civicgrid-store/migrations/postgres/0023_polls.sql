-- Polls answered with one-time household codes (议事协商, issue 14). A secret ballot: the
-- codes table knows which households have voted (turnout), the counts table how many chose
-- each option; nothing links a code to a choice.
CREATE TABLE polls (
    id          TEXT PRIMARY KEY,
    region_code TEXT NOT NULL,
    question    TEXT NOT NULL,
    options     TEXT NOT NULL,
    ballot      TEXT NOT NULL,
    opens_at    BIGINT NOT NULL,
    closes_at   BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX polls_region ON polls (region_code, closes_at);
CREATE TABLE poll_codes (
    poll_id      TEXT NOT NULL REFERENCES polls (id),
    code_digest  TEXT NOT NULL,
    household_id TEXT NOT NULL,
    used         BOOLEAN NOT NULL,
    PRIMARY KEY (poll_id, code_digest),
    UNIQUE (poll_id, household_id)
);
CREATE TABLE poll_counts (
    poll_id      TEXT NOT NULL REFERENCES polls (id),
    option_index BIGINT NOT NULL,
    votes        BIGINT NOT NULL,
    PRIMARY KEY (poll_id, option_index)
);
