-- Appeals against assessment deductions, and every change made to a score (by an upheld appeal)
-- with who made it and why.
CREATE TABLE kpi_appeals (
    id           TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL,
    subject_code TEXT NOT NULL,
    period       TEXT NOT NULL,
    points       DOUBLE PRECISION NOT NULL,
    reason       TEXT NOT NULL,
    status       TEXT NOT NULL,
    history      TEXT NOT NULL,
    submitted_by TEXT NOT NULL,
    submitted_at BIGINT NOT NULL
);
CREATE INDEX kpi_appeals_period ON kpi_appeals (period, status);
CREATE TABLE kpi_adjustments (
    appeal_id    TEXT PRIMARY KEY REFERENCES kpi_appeals (id),
    subject_kind TEXT NOT NULL,
    subject_code TEXT NOT NULL,
    period       TEXT NOT NULL,
    points       DOUBLE PRECISION NOT NULL,
    reason       TEXT NOT NULL,
    made_by      TEXT NOT NULL,
    made_at      BIGINT NOT NULL
);
CREATE INDEX kpi_adjustments_period ON kpi_adjustments (period);
