-- Every table that grows with use carries its region key, so that the schema can be
-- distributed by region (docs/SCALING.md): the KPI queue (the case's region), appeals and
-- their score changes (the assessed subject's region), surveys (the smallest region holding
-- their units) and survey answers (their survey's).
ALTER TABLE kpi_dirty ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE kpi_dirty SET region_code = COALESCE((SELECT region_code FROM cases WHERE cases.id = kpi_dirty.case_id), '');
DROP TRIGGER case_events_mark_kpi;
CREATE TRIGGER case_events_mark_kpi AFTER INSERT ON case_events
BEGIN
    INSERT INTO kpi_dirty (case_id, region_code) VALUES (NEW.case_id, NEW.region_code)
    ON CONFLICT (case_id) DO UPDATE SET marked = marked + 1;
END;

ALTER TABLE kpi_appeals ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE kpi_appeals SET region_code = COALESCE(CASE subject_kind
    WHEN 'unit' THEN (SELECT region_code FROM units WHERE code = subject_code)
    WHEN 'grid' THEN (SELECT region_code FROM grids WHERE code = subject_code)
    WHEN 'region' THEN subject_code
    -- staff: the deployment's one top region, as the application takes it
    ELSE (SELECT CASE WHEN COUNT(*) = 1 THEN MIN(r.code) END FROM regions r
           WHERE length(r.code) = 6
              OR NOT EXISTS (SELECT 1 FROM regions p WHERE p.code = substr(r.code, 1, length(r.code) - 3)))
  END, '');
ALTER TABLE kpi_adjustments ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE kpi_adjustments SET region_code = COALESCE((SELECT region_code FROM kpi_appeals WHERE id = appeal_id), '');

ALTER TABLE surveys ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
-- The smallest region holding the surveyed units (their community, street or district).
UPDATE surveys SET region_code = COALESCE((
    SELECT CASE WHEN COUNT(DISTINCT u.region_code) = 1 THEN MIN(u.region_code)
                WHEN COUNT(DISTINCT substr(u.region_code, 1, 9)) = 1 THEN MIN(substr(u.region_code, 1, 9))
                ELSE substr(MIN(u.region_code), 1, 6) END
      FROM units u WHERE instr(surveys.units, '"' || u.code || '"') > 0), '');
ALTER TABLE survey_responses ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE survey_responses SET region_code = COALESCE((SELECT region_code FROM surveys WHERE id = survey_id), '');
