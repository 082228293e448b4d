-- Disputes and one-stop services (issue 15). People's mediation: kinds of dispute as data,
-- mediators per tier and region, disputes (the row keeps what lists filter on and the record
-- as JSON; parties and session records are sealed by the application), their append-only
-- events, the parties' blind keys (to find repeat disputes without keeping identities), and
-- the versions of written agreements, never rewritten once signed. One-stop services: the
-- catalogue of service items, applications with their events and uploaded materials.
CREATE TABLE dispute_kinds (
    code        TEXT PRIMARY KEY,
    name_zh     TEXT NOT NULL,
    name_en     TEXT NOT NULL,
    lowest_tier TEXT NOT NULL,
    position    BIGINT NOT NULL DEFAULT 0
);
INSERT INTO dispute_kinds (code, name_zh, name_en, lowest_tier, position) VALUES
    ('neighbour', '邻里纠纷', 'Neighbours', 'grid', 1),
    ('family', '婚姻家庭纠纷', 'Marriage and family', 'community', 2),
    ('property', '物业纠纷', 'Property management', 'grid', 3),
    ('labour', '劳资纠纷', 'Wages and employment', 'street', 4),
    ('land', '土地纠纷', 'Land and housing sites', 'street', 5),
    ('consumer', '消费纠纷', 'Consumer', 'community', 6),
    ('other', '其他纠纷', 'Other', 'community', 9);
CREATE TABLE mediators (
    id          TEXT PRIMARY KEY,
    tier        TEXT NOT NULL,
    region_code TEXT NOT NULL,
    kind        TEXT NOT NULL,
    reference   TEXT NOT NULL,
    name        TEXT NOT NULL,
    added_by    TEXT NOT NULL,
    added_at    BIGINT NOT NULL,
    -- A mediator who stops is retired, not forgotten: sessions name them.
    retired_at  BIGINT
);
CREATE UNIQUE INDEX mediators_serving ON mediators (tier, region_code, kind, reference) WHERE retired_at IS NULL;
CREATE TABLE disputes (
    id          TEXT PRIMARY KEY,
    public_id   TEXT NOT NULL UNIQUE,
    region_code TEXT NOT NULL,
    grid_code   TEXT,
    status      TEXT NOT NULL,
    tier        TEXT NOT NULL,
    case_id     TEXT,
    raised_at   BIGINT NOT NULL,
    limit_due   BIGINT NOT NULL,
    doc         TEXT NOT NULL,
    version     BIGINT NOT NULL
);
CREATE INDEX disputes_region ON disputes (region_code, raised_at);
CREATE INDEX disputes_open ON disputes (status, limit_due);
CREATE INDEX disputes_case ON disputes (case_id);
CREATE TABLE dispute_events (
    dispute_id TEXT NOT NULL REFERENCES disputes (id),
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    note       TEXT NOT NULL,
    PRIMARY KEY (dispute_id, seq)
);
CREATE TABLE dispute_party_keys (
    dispute_id TEXT NOT NULL REFERENCES disputes (id),
    side       TEXT NOT NULL,
    party_key  TEXT NOT NULL,
    raised_at  BIGINT NOT NULL,
    PRIMARY KEY (dispute_id, side, party_key)
);
CREATE INDEX dispute_party_keys_key ON dispute_party_keys (party_key, raised_at);
CREATE TABLE dispute_agreements (
    dispute_id TEXT NOT NULL REFERENCES disputes (id),
    version    BIGINT NOT NULL,
    content    TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    drafted_by TEXT NOT NULL,
    drafted_at BIGINT NOT NULL,
    signed_at  BIGINT,
    signatures TEXT,
    PRIMARY KEY (dispute_id, version)
);
CREATE TABLE service_items (
    code       TEXT PRIMARY KEY,
    unit       TEXT NOT NULL,
    active     BIGINT NOT NULL,
    doc        TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE applications (
    id           TEXT PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE,
    item_code    TEXT NOT NULL REFERENCES service_items (code),
    unit         TEXT NOT NULL,
    region_code  TEXT NOT NULL,
    status       TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    due          BIGINT,
    doc          TEXT NOT NULL,
    version      BIGINT NOT NULL
);
CREATE INDEX applications_region ON applications (region_code, submitted_at);
CREATE INDEX applications_unit ON applications (unit, submitted_at);
CREATE TABLE application_events (
    application_id TEXT NOT NULL REFERENCES applications (id),
    seq            BIGINT NOT NULL,
    at             BIGINT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    note           TEXT NOT NULL,
    PRIMARY KEY (application_id, seq)
);
CREATE TABLE application_files (
    application_id TEXT NOT NULL REFERENCES applications (id),
    seq            BIGINT NOT NULL,
    material       TEXT NOT NULL,
    name           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    data           BYTEA NOT NULL,
    uploaded_by    TEXT NOT NULL,
    uploaded_at    BIGINT NOT NULL,
    PRIMARY KEY (application_id, seq)
);
-- Events are history, and a signed agreement is what the parties signed.
CREATE FUNCTION dispute_events_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'dispute events are append-only' USING ERRCODE = 'check_violation';
END $$;
CREATE TRIGGER dispute_events_keep BEFORE UPDATE OR DELETE ON dispute_events
    FOR EACH ROW EXECUTE FUNCTION dispute_events_keep();
CREATE FUNCTION dispute_agreements_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'agreement versions are kept' USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.signed_at IS NOT NULL OR NEW.content <> OLD.content OR NEW.sha256 <> OLD.sha256 THEN
        RAISE EXCEPTION 'a signed agreement does not change: write a new version' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER dispute_agreements_keep BEFORE UPDATE OR DELETE ON dispute_agreements
    FOR EACH ROW EXECUTE FUNCTION dispute_agreements_keep();
