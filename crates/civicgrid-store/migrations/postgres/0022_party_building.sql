-- Party-building leadership (党建引领): organisations and alliances, members and their
-- home-community registration (双报到), the household register with its contacts (包片联户)
-- and visit log, small wishes (微心愿), volunteers, activities and the hours ledger.

-- A record of another capability may count on several days for the same subject (a
-- household's contact windows end on different days): a contribution is keyed by its day too.
ALTER TABLE kpi_contributions DROP CONSTRAINT kpi_contributions_pkey;
ALTER TABLE kpi_contributions ADD PRIMARY KEY (item_id, subject_kind, subject_code, day);

CREATE TABLE party_organisations (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('committee', 'general_branch', 'branch', 'grid_group')),
    parent_code TEXT REFERENCES party_organisations (code),
    region_code TEXT NOT NULL,
    grid_code   TEXT
);
CREATE INDEX party_organisations_region ON party_organisations (region_code);

CREATE TABLE party_alliances (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    region_code TEXT NOT NULL
);
CREATE TABLE party_alliance_partners (
    alliance_code TEXT NOT NULL REFERENCES party_alliances (code) ON DELETE CASCADE,
    position      BIGINT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('organisation', 'unit', 'company')),
    reference     TEXT NOT NULL,
    commitment    TEXT NOT NULL,
    PRIMARY KEY (alliance_code, position)
);

-- The region is the organisation's, kept with the member so that scopes are one range.
CREATE TABLE party_members (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    organisation_code TEXT NOT NULL REFERENCES party_organisations (code),
    region_code       TEXT NOT NULL,
    duty              TEXT NOT NULL,
    phone_sealed      TEXT,
    in_service        BOOLEAN NOT NULL,
    employer_unit     TEXT,
    username          TEXT UNIQUE,
    home_region       TEXT,
    home_status       TEXT CHECK (home_status IN ('pending', 'approved', 'declined')),
    created_at        BIGINT NOT NULL
);
CREATE INDEX party_members_region ON party_members (region_code);
CREATE INDEX party_members_home ON party_members (home_region, home_status);

-- Every read of a member's, household's or volunteer's sealed contact: who, when, whose.
CREATE TABLE contact_reads (
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    what        TEXT NOT NULL,
    region_code TEXT NOT NULL
);
CREATE INDEX contact_reads_person ON contact_reads (person_id, at);

-- One contact (a member or grid worker, by account) per household: 包片联户.
CREATE TABLE households (
    id             TEXT PRIMARY KEY,
    region_code    TEXT NOT NULL,
    grid_code      TEXT NOT NULL,
    building       TEXT NOT NULL,
    unit           TEXT NOT NULL,
    room           TEXT NOT NULL,
    contact_sealed TEXT,
    consent        BOOLEAN NOT NULL,
    assignee       TEXT,
    assigned_on    TEXT,
    created_at     BIGINT NOT NULL,
    UNIQUE (grid_code, building, unit, room)
);
CREATE INDEX households_region ON households (region_code);
CREATE INDEX households_assignee ON households (assignee);

-- How often a household must be contacted, per grid or per beat (a beat's plan wins).
CREATE TABLE visit_plans (
    scope         TEXT PRIMARY KEY,
    interval_days BIGINT NOT NULL CHECK (interval_days BETWEEN 1 AND 366)
);

CREATE TABLE household_visits (
    id           TEXT PRIMARY KEY,
    household_id TEXT NOT NULL REFERENCES households (id),
    region_code  TEXT NOT NULL,
    visitor      TEXT NOT NULL,
    at           BIGINT NOT NULL,
    day          TEXT NOT NULL,
    channel      TEXT NOT NULL CHECK (channel IN ('in_person', 'phone', 'wechat')),
    topics       TEXT NOT NULL,
    notes        TEXT NOT NULL,
    case_id      TEXT
);
CREATE INDEX household_visits_household ON household_visits (household_id, at);
CREATE INDEX household_visits_region ON household_visits (region_code, at);

CREATE TABLE wishes (
    id            TEXT PRIMARY KEY,
    public_id     TEXT NOT NULL UNIQUE,
    reporter_key  TEXT,
    region_code   TEXT NOT NULL,
    grid_code     TEXT,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL,
    posted_by     TEXT NOT NULL,
    posted_at     BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('open', 'claimed', 'delivered', 'fulfilled', 'withdrawn')),
    claimed_by    TEXT,
    escalated     BOOLEAN NOT NULL,
    delivery_note TEXT,
    fulfilled_at  BIGINT,
    version       BIGINT NOT NULL
);
CREATE INDEX wishes_region ON wishes (region_code, posted_at);
CREATE INDEX wishes_claimant ON wishes (claimed_by, status);
-- Every change of a wish, append-only, in the transaction of the change.
CREATE TABLE wish_events (
    wish_id TEXT NOT NULL REFERENCES wishes (id),
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    note    TEXT NOT NULL,
    PRIMARY KEY (wish_id, seq)
);
CREATE TABLE wish_photos (
    wish_id      TEXT PRIMARY KEY REFERENCES wishes (id),
    content_type TEXT NOT NULL,
    data         BYTEA NOT NULL
);

CREATE TABLE volunteers (
    id            TEXT PRIMARY KEY,
    number        TEXT NOT NULL UNIQUE,
    username      TEXT UNIQUE,
    name          TEXT NOT NULL,
    phone_sealed  TEXT,
    region_code   TEXT NOT NULL,
    skills        TEXT NOT NULL,
    availability  TEXT NOT NULL,
    consent_at    BIGINT NOT NULL,
    registered_at BIGINT NOT NULL
);
CREATE INDEX volunteers_region ON volunteers (region_code);

CREATE TABLE activities (
    id              TEXT PRIMARY KEY,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    region_code     TEXT NOT NULL,
    grid_code       TEXT,
    place           TEXT NOT NULL,
    required_skills TEXT NOT NULL,
    organiser       TEXT NOT NULL,
    check_token     TEXT NOT NULL,
    case_id         TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX activities_region ON activities (region_code);
CREATE TABLE activity_shifts (
    id          TEXT PRIMARY KEY,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT NOT NULL,
    capacity    BIGINT NOT NULL CHECK (capacity >= 1)
);
CREATE INDEX activity_shifts_activity ON activity_shifts (activity_id, starts_at);
-- Places are computed from the order of the active sign-ups: the waiting list moves up by
-- itself when someone cancels.
CREATE TABLE shift_signups (
    id             TEXT PRIMARY KEY,
    shift_id       TEXT NOT NULL REFERENCES activity_shifts (id),
    volunteer_id   TEXT NOT NULL REFERENCES volunteers (id),
    signed_up_at   BIGINT NOT NULL,
    cancelled_at   BIGINT,
    checked_in_at  BIGINT,
    checked_out_at BIGINT,
    manual         BOOLEAN NOT NULL,
    UNIQUE (shift_id, volunteer_id)
);

-- The hours ledger: append-only; an entry is decided once and never removed.
CREATE TABLE volunteer_hours (
    id           TEXT PRIMARY KEY,
    volunteer_id TEXT NOT NULL REFERENCES volunteers (id),
    activity_id  TEXT REFERENCES activities (id),
    case_id      TEXT,
    region_code  TEXT NOT NULL,
    day          TEXT NOT NULL,
    minutes      BIGINT NOT NULL CHECK (minutes BETWEEN 1 AND 1440),
    manual       BOOLEAN NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined')),
    decided_by   TEXT,
    decided_at   BIGINT,
    note         TEXT NOT NULL
);
CREATE INDEX volunteer_hours_volunteer ON volunteer_hours (volunteer_id, day);
CREATE INDEX volunteer_hours_region ON volunteer_hours (region_code, day);
CREATE FUNCTION volunteer_hours_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the hours ledger is append-only' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status <> 'pending' OR NEW.minutes <> OLD.minutes OR NEW.volunteer_id <> OLD.volunteer_id
       OR NEW.day <> OLD.day OR NEW.region_code <> OLD.region_code THEN
        RAISE EXCEPTION 'a decided entry of the hours ledger does not change' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER volunteer_hours_keep BEFORE UPDATE OR DELETE ON volunteer_hours
    FOR EACH ROW EXECUTE FUNCTION volunteer_hours_keep();
