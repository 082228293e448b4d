-- Receipt codes are the reporter's credential and leave public lists: each case gets a public
-- number of its own, and the digest of a secret given to the reporter with the receipt.
-- Cases taken in before have no secret; their reporters evaluate through a call-taker.
ALTER TABLE cases ADD COLUMN public_id TEXT;
ALTER TABLE cases ADD COLUMN reporter_key TEXT;
-- 48 random bits in hex: hex digits are Crockford characters, so old numbers read like new.
UPDATE cases SET public_id = upper(substr(md5(random()::text || id), 1, 12)) WHERE public_id IS NULL;
ALTER TABLE cases ALTER COLUMN public_id SET NOT NULL;
-- Not unique: a unique index on the partitioned table would have to include the partition key.
-- Public numbers carry 60 random bits; a clash is refused at intake like a receipt clash.
CREATE INDEX cases_public_id ON cases (public_id);
