-- A grid's queue (`?grid=&status=`, newest first) reads one index range, whatever the
-- planner's statistics say: most cases of a grid share a few statuses, so neither the grid
-- index nor the status index alone narrows it enough.
CREATE INDEX cases_grid_status ON cases (grid_code, status, id);
