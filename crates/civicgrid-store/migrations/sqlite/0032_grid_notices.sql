-- Urgent notices (紧急通知) to the grid workers of chosen grids; each is kept for the notifier
-- in its own transaction (notification_events, source 'notice').
CREATE TABLE grid_notices (
    id          TEXT PRIMARY KEY,
    title       TEXT NOT NULL,
    text        TEXT NOT NULL,
    grids       TEXT NOT NULL,
    region_code TEXT NOT NULL,
    issued_by   TEXT NOT NULL,
    issued_at   BIGINT NOT NULL
);
