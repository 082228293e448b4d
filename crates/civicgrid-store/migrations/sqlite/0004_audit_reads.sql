-- Every read of personal data (a reporter's contact details) is recorded: who, when, which case.
CREATE TABLE personal_data_reads (
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    what        TEXT NOT NULL,
    region_code TEXT NOT NULL
);
CREATE INDEX personal_data_reads_case ON personal_data_reads (case_id, at);
