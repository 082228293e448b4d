-- Assessment counts the records of any capability, not only cases: the queue and the
-- contributions name the capability (`source`) and the record (`item_id`, a UUID v7, unique
-- across capabilities). Cases are the source 'case'; their trigger queues them as before.
ALTER TABLE kpi_dirty RENAME COLUMN case_id TO item_id;
ALTER TABLE kpi_dirty ADD COLUMN source TEXT NOT NULL DEFAULT 'case';
ALTER TABLE kpi_contributions RENAME COLUMN case_id TO item_id;
ALTER TABLE kpi_contributions ADD COLUMN source TEXT NOT NULL DEFAULT 'case';
DROP TRIGGER case_events_mark_kpi;
CREATE TRIGGER case_events_mark_kpi AFTER INSERT ON case_events
BEGIN
    INSERT INTO kpi_dirty (source, item_id, region_code) VALUES ('case', NEW.case_id, NEW.region_code)
    ON CONFLICT (item_id) DO UPDATE SET marked = marked + 1;
END;
