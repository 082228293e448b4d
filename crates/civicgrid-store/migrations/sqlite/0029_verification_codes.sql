-- Codes texted to residents (a phone-verified evaluation): the number only as a keyed
-- digest, the code only as a digest; a few guesses each, a short life, and a limit on how
-- often one number is sent one (civicgrid_domain::notification::verification).
CREATE TABLE verification_codes (
    id          TEXT PRIMARY KEY,
    number      TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    case_id     TEXT NOT NULL,
    code_digest TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    guesses     BIGINT NOT NULL DEFAULT 0,
    spent_at    BIGINT
);
CREATE INDEX verification_codes_number ON verification_codes (number, created_at);
