-- Receipt codes are the reporter's credential and leave public lists: each case gets a public
-- number of its own, and the digest of a secret given to the reporter with the receipt.
-- Cases taken in before have no secret; their reporters evaluate through a call-taker.
ALTER TABLE cases ADD COLUMN public_id TEXT;
ALTER TABLE cases ADD COLUMN reporter_key TEXT;
-- 48 random bits in hex: hex digits are Crockford characters, so old numbers read like new.
UPDATE cases SET public_id = upper(hex(randomblob(6))) WHERE public_id IS NULL;
CREATE UNIQUE INDEX cases_public_id ON cases (public_id);
