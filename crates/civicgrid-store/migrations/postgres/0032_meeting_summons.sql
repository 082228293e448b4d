-- A convened meeting summons its invited units (topic meeting_summons): the convening event
-- is kept for the notifier in its own transaction, beside the case events (source 'meeting';
-- the case_id column then holds the meeting's id).
ALTER TABLE notification_events ADD COLUMN source TEXT NOT NULL DEFAULT 'case';
CREATE FUNCTION notify_meeting_invitees() RETURNS trigger AS $$
BEGIN
    INSERT INTO notification_events (case_id, seq, at, source) VALUES (NEW.subject_id, NEW.seq, NEW.at, 'meeting');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consultation_events_notify_people AFTER INSERT ON consultation_events
FOR EACH ROW WHEN (NEW.action = 'convene') EXECUTE FUNCTION notify_meeting_invitees();
