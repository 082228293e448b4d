-- Notifications to people (e-mail, SMS) through a transactional outbox. A trigger keeps every
-- case event that may tell someone something (see civicgrid_domain::notification) in the
-- event's own transaction; the notifier turns each into messages (one per recipient and
-- channel, rendered and sealed under the data key: addresses and texts are personal data) and
-- delivers them under leases, as webhooks are (migration 0013).
CREATE TABLE notification_events (
    case_id TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    PRIMARY KEY (case_id, seq)
);
CREATE TRIGGER case_events_notify_people AFTER INSERT ON case_events
WHEN NEW.action IN ('reopen', 'dispatch', 'transfer', 'raise_alarm', 'whistle_call', 'report_back')
  OR (NEW.to_status IN ('accepted', 'closed') AND COALESCE(NEW.from_status, '') <> NEW.to_status)
BEGIN
    INSERT INTO notification_events (case_id, seq, at) VALUES (NEW.case_id, NEW.seq, NEW.at);
END;

CREATE TABLE notification_messages (
    id              TEXT PRIMARY KEY,
    case_id         TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    topic           TEXT NOT NULL,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'digest')),
    -- 'digest': an e-mail notice held for the recipient's daily digest.
    -- 'reporter', or the staff account's name.
    recipient       TEXT NOT NULL,
    -- {to, subject, body}, sealed and bound to id.
    sealed          TEXT NOT NULL,
    urgent          BOOLEAN NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead', 'discarded')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    leased_by       TEXT,
    leased_until    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    done_at         BIGINT,
    last_error      TEXT,
    discarded_by    TEXT,
    discard_reason  TEXT,
    UNIQUE (case_id, seq, topic, channel, recipient)
);
CREATE INDEX notification_messages_due ON notification_messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notification_messages_dead ON notification_messages (done_at) WHERE status = 'dead';

-- Templates changed from the shipped defaults, per topic and language.
CREATE TABLE notification_templates (
    topic      TEXT NOT NULL,
    language   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    sms        TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (topic, language)
);

-- Reporters who followed the unsubscribe link of a case's messages.
CREATE TABLE notification_unsubscribes (
    case_id TEXT PRIMARY KEY,
    at      BIGINT NOT NULL
);

-- How staff want to be told: their address and number (sealed, bound to id), the channels,
-- and whether non-urgent notices come as one daily digest.
CREATE TABLE staff_channels (
    username   TEXT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    sealed     TEXT NOT NULL,
    email      BOOLEAN NOT NULL,
    sms        BOOLEAN NOT NULL,
    digest     BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);
