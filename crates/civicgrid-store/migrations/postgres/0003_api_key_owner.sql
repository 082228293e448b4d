-- An API key acts as the staff account it was issued for (its grants decide what it may do).
-- Keys without an owner identify a system that may only report cases.
ALTER TABLE api_keys ADD COLUMN username TEXT REFERENCES users (username);
