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
    ELSE (SELECT MIN(code) FROM regions WHERE length(code) = 6)
  END, '');
ALTER TABLE kpi_adjustments ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE kpi_adjustments j SET region_code = a.region_code FROM kpi_appeals a WHERE a.id = j.appeal_id;

ALTER TABLE surveys ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE surveys SET region_code = COALESCE((SELECT MIN(code) FROM regions WHERE length(code) = 6), '');
ALTER TABLE survey_responses ADD COLUMN region_code TEXT NOT NULL DEFAULT '';
UPDATE survey_responses r SET region_code = s.region_code FROM surveys s WHERE s.id = r.survey_id;
