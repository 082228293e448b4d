-- Leases on background work, so that several instances sharing one database divide it: a job's
-- work is split into scopes (a region's cases, say); an instance takes one scope at a time until
-- `leased_until` and marks it finished for the round. A lease that runs out (its instance died)
-- is taken by another instance. Safety does not rest on leases: every case step is still checked
-- against the case's version; leases only keep two instances from doing the same work.
CREATE TABLE job_leases (
    job          TEXT NOT NULL,
    scope        TEXT NOT NULL,
    region_code  TEXT NOT NULL,
    owner        TEXT,
    leased_until BIGINT NOT NULL DEFAULT 0,
    finished_at  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (job, scope)
);
