-- Public evaluation (群众评议): periodic surveys in which residents rate units, one response
-- per person per survey. A respondent is kept only as a keyed hash of their phone number.
CREATE TABLE surveys (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    period     TEXT NOT NULL,
    units      TEXT NOT NULL,
    closes_at  BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE survey_responses (
    survey_id  TEXT NOT NULL REFERENCES surveys (id),
    respondent TEXT NOT NULL,
    ratings    TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (survey_id, respondent)
);
CREATE INDEX surveys_period ON surveys (period);
