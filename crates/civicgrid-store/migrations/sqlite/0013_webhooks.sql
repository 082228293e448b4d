-- Outgoing webhooks (notifications to other systems) from a transactional outbox. A trigger
-- writes one delivery per matching subscription with every case event, in the event's own
-- transaction, so an event is never recorded without its notifications nor notified without
-- being recorded. Instances lease due deliveries (`leased_by`, `leased_until`): each delivery
-- is sent by one instance at a time, and a lease that runs out (its instance died) is taken by
-- another. `region_code` is the subscription's region prefix ('' for every region).
CREATE TABLE webhooks (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    region_code TEXT NOT NULL,
    actions     TEXT NOT NULL,
    active      BOOLEAN NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE webhook_deliveries (
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id),
    case_id         TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    region_code     TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    leased_by       TEXT,
    leased_until    BIGINT NOT NULL DEFAULT 0,
    done_at         BIGINT,
    last_error      TEXT,
    PRIMARY KEY (webhook_id, case_id, seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (done_at) WHERE status = 'failed';
CREATE TRIGGER case_events_notify AFTER INSERT ON case_events
BEGIN
    INSERT INTO webhook_deliveries (webhook_id, case_id, seq, region_code, next_attempt_at)
    SELECT id, NEW.case_id, NEW.seq, NEW.region_code, NEW.at FROM webhooks
     WHERE active AND substr(NEW.region_code, 1, length(region_code)) = region_code
       AND (actions = '' OR instr(actions, ',' || NEW.action || ',') > 0);
END;
