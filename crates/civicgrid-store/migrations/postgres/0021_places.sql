-- The gazetteer (地名地址): buildings and landmarks residents know by name, for the map's search.
CREATE TABLE places (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('building', 'landmark')),
    lon         DOUBLE PRECISION NOT NULL,
    lat         DOUBLE PRECISION NOT NULL,
    region_code TEXT NOT NULL
);
CREATE INDEX places_name ON places (name);
