-- Every table that grows with use carries its region key, so that the schema can be
-- distributed by region (docs/SCALING.md): the KPI queue (the case's region), appeals and
-- their score changes (the assessed subject's region), surveys (the smallest region holding
-- their units) and survey answers (their survey's).
ALTER TABLE kpi_dirty ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE kpi_dirty d SET region_code = c.region_code FROM cases c WHERE c.id = d.case_id;
CREATE OR REPLACE FUNCTION kpi_mark_dirty() RETURNS trigger AS $$
BEGIN
    INSERT INTO kpi_dirty (case_id, region_code) VALUES (NEW.case_id, NEW.region_code)
    ON CONFLICT (case_id) DO UPDATE SET marked = kpi_dirty.marked + 1;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

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
UPDATE kpi_adjustments j SET region_code = a.region_code FROM kpi_appeals a WHERE a.id = j.appeal_id;

ALTER TABLE surveys ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
-- The smallest region holding the surveyed units (their community, street or district).
UPDATE surveys SET region_code = COALESCE((
    SELECT CASE WHEN COUNT(DISTINCT u.region_code) = 1 THEN MIN(u.region_code)
                WHEN COUNT(DISTINCT substr(u.region_code, 1, 9)) = 1 THEN MIN(substr(u.region_code, 1, 9))
                ELSE substr(MIN(u.region_code), 1, 6) END
      FROM units u WHERE position('"' || u.code || '"' in surveys.units) > 0), '');
ALTER TABLE survey_responses ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE survey_responses r SET region_code = s.region_code FROM surveys s WHERE s.id = r.survey_id;
