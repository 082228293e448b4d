//! Geometry of grids: repair of imported polygons, point → grid lookup, coverage checks and
//! coordinate-system conversion. All coordinates are WGS84 (lon, lat) unless a name says so.

pub mod coverage;
pub mod crs;
pub mod locate;
pub mod repair;
