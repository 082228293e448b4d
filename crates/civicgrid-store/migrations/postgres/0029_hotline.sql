-- Cases imported from a hotline's export (12345): the hotline's own ticket number, unique per
-- hotline, makes importing the same file twice add nothing.
CREATE TABLE hotline_tickets (
    source      TEXT NOT NULL,
    ticket      TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    imported_at BIGINT NOT NULL,
    PRIMARY KEY (source, ticket)
);
CREATE INDEX hotline_tickets_case ON hotline_tickets (case_id);
