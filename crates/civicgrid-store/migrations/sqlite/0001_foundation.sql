-- civicgrid foundation schema, SQLite flavour. Instants are BIGINT microseconds since the Unix
-- epoch (UTC); dates are TEXT 'YYYY-MM-DD'; structured values are JSON TEXT. Every table that
-- describes territory carries region_code so it can be distributed by region.

CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('district', 'street', 'community')),
    parent_code TEXT REFERENCES regions (code)
);

CREATE TABLE grids (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions (code),
    geometry    TEXT NOT NULL,
    min_lon     DOUBLE PRECISION NOT NULL,
    min_lat     DOUBLE PRECISION NOT NULL,
    max_lon     DOUBLE PRECISION NOT NULL,
    max_lat     DOUBLE PRECISION NOT NULL,
    area_m2     DOUBLE PRECISION NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX grids_region ON grids (region_code);

CREATE TABLE units (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions (code)
);
CREATE INDEX units_region ON units (region_code);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    unit_code     TEXT REFERENCES units (code),
    active        BOOLEAN NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE beats (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions (code)
);

CREATE TABLE beat_grids (
    beat_code   TEXT NOT NULL REFERENCES beats (code) ON DELETE CASCADE,
    grid_code   TEXT NOT NULL REFERENCES grids (code),
    region_code TEXT NOT NULL,
    PRIMARY KEY (beat_code, grid_code)
);

CREATE TABLE beat_workers (
    beat_code   TEXT NOT NULL REFERENCES beats (code) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id),
    region_code TEXT NOT NULL,
    PRIMARY KEY (beat_code, user_id)
);

CREATE TABLE categories (
    code             TEXT PRIMARY KEY,
    parent_code      TEXT REFERENCES categories (code),
    name_zh          TEXT NOT NULL,
    name_en          TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('component', 'matter')),
    default_priority TEXT NOT NULL,
    deadlines        TEXT NOT NULL,
    attributes       TEXT NOT NULL
);

CREATE TABLE responsibility_rules (
    line                BIGINT PRIMARY KEY,
    category_code       TEXT NOT NULL REFERENCES categories (code),
    region_code         TEXT NOT NULL REFERENCES regions (code),
    condition_attribute TEXT,
    condition_value     TEXT,
    basis               TEXT NOT NULL CHECK (basis IN ('owner', 'locality')),
    primary_unit        TEXT NOT NULL REFERENCES units (code),
    co_handlers         TEXT NOT NULL,
    note                TEXT NOT NULL
);

CREATE TABLE calendar_settings (
    id        BIGINT PRIMARY KEY CHECK (id = 1),
    time_zone TEXT NOT NULL,
    windows   TEXT NOT NULL
);

CREATE TABLE calendar_days (
    day  TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'make_up_workday')),
    name TEXT NOT NULL
);

CREATE TABLE roles (
    code    TEXT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL
);

CREATE TABLE role_permissions (
    role_code  TEXT NOT NULL REFERENCES roles (code) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role_code, permission)
);

CREATE TABLE role_grants (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_code  TEXT NOT NULL REFERENCES roles (code),
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('region', 'unit')),
    scope_code TEXT NOT NULL,
    PRIMARY KEY (user_id, role_code, scope_kind, scope_code)
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
