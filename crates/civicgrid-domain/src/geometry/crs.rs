//! Conversion between WGS84 and the coordinate systems of Chinese map apps.
//!
//! civicgrid stores WGS84 only. GCJ-02 (used by AMap, Tencent and Google China) is WGS84 with a
//! published non-linear offset inside China; BD-09 (Baidu) is a further rotation of GCJ-02.
//! Outside China GCJ-02 equals WGS84. The inverse of GCJ-02 has no closed form, so it is solved
//! by fixed-point iteration to well under a millimetre.

use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;

const A: f64 = 6_378_245.0; // Krasovsky 1940 semi-major axis, as the GCJ-02 algorithm uses
const EE: f64 = 0.006_693_421_622_965_943; // its first eccentricity squared
const X_PI: f64 = PI * 3000.0 / 180.0;

/// A coordinate reference system accepted at the edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crs {
    Wgs84,
    Gcj02,
    Bd09,
}

impl FromStr for Crs {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "wgs84" | "epsg:4326" | "crs84" => Ok(Crs::Wgs84),
            "gcj02" | "gcj-02" => Ok(Crs::Gcj02),
            "bd09" | "bd-09" => Ok(Crs::Bd09),
            other => Err(format!(
                "unknown coordinate system `{other}` (expected wgs84, gcj02 or bd09)"
            )),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
            Crs::Bd09 => "bd09",
        })
    }
}

impl Crs {
    /// Converts `(lon, lat)` in this system to WGS84.
    pub fn to_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => gcj02_to_wgs84(lon, lat),
            Crs::Bd09 => {
                let (g_lon, g_lat) = bd09_to_gcj02(lon, lat);
                gcj02_to_wgs84(g_lon, g_lat)
            }
        }
    }

    /// Converts WGS84 `(lon, lat)` to this system.
    pub fn from_wgs84(self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::Wgs84 => (lon, lat),
            Crs::Gcj02 => wgs84_to_gcj02(lon, lat),
            Crs::Bd09 => {
                let (g_lon, g_lat) = wgs84_to_gcj02(lon, lat);
                gcj02_to_bd09(g_lon, g_lat)
            }
        }
    }
}

/// The rough bounding box inside which the GCJ-02 offset applies.
pub fn out_of_china(lon: f64, lat: f64) -> bool {
    !(73.66..=135.05).contains(&lon) || !(3.86..=53.55).contains(&lat)
}

fn transform_lat(x: f64, y: f64) -> f64 {
    let mut ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;
    ret
}

fn transform_lon(x: f64, y: f64) -> f64 {
    let mut ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * x.abs().sqrt();
    ret += (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;
    ret += (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0;
    ret += (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;
    ret
}

fn gcj_offset(lon: f64, lat: f64) -> (f64, f64) {
    let d_lat = transform_lat(lon - 105.0, lat - 35.0);
    let d_lon = transform_lon(lon - 105.0, lat - 35.0);
    let rad_lat = lat / 180.0 * PI;
    let magic = 1.0 - EE * rad_lat.sin() * rad_lat.sin();
    let sqrt_magic = magic.sqrt();
    let d_lat = (d_lat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrt_magic) * PI);
    let d_lon = (d_lon * 180.0) / (A / sqrt_magic * rad_lat.cos() * PI);
    (d_lon, d_lat)
}

pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lon, lat) {
        return (lon, lat);
    }
    let (d_lon, d_lat) = gcj_offset(lon, lat);
    (lon + d_lon, lat + d_lat)
}

pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if out_of_china(lon, lat) {
        return (lon, lat);
    }
    // Fixed-point iteration: the offset varies slowly, so each step gains several digits.
    let (mut w_lon, mut w_lat) = (lon, lat);
    for _ in 0..30 {
        let (g_lon, g_lat) = wgs84_to_gcj02(w_lon, w_lat);
        let (e_lon, e_lat) = (g_lon - lon, g_lat - lat);
        w_lon -= e_lon;
        w_lat -= e_lat;
        if e_lon.abs() < 1e-12 && e_lat.abs() < 1e-12 {
            break;
        }
    }
    (w_lon, w_lat)
}

pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let z = (lon * lon + lat * lat).sqrt() + 0.00002 * (lat * X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * X_PI).cos();
    (z * theta.cos() + 0.0065, z * theta.sin() + 0.006)
}

/// Inverts [`gcj02_to_bd09`]: the published closed formula is only good to about 1e-6°, so its
/// answer is refined by fixed-point iteration.
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let (mut g_lon, mut g_lat) = bd09_to_gcj02_closed_form(lon, lat);
    for _ in 0..10 {
        let (b_lon, b_lat) = gcj02_to_bd09(g_lon, g_lat);
        let (e_lon, e_lat) = (b_lon - lon, b_lat - lat);
        g_lon -= e_lon;
        g_lat -= e_lat;
        if e_lon.abs() < 1e-12 && e_lat.abs() < 1e-12 {
            break;
        }
    }
    (g_lon, g_lat)
}

fn bd09_to_gcj02_closed_form(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - 0.0065;
    let y = lat - 0.006;
    let z = (x * x + y * y).sqrt() - 0.00002 * (y * X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * X_PI).cos();
    (z * theta.cos(), z * theta.sin())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn close(a: (f64, f64), b: (f64, f64), tol: f64) -> bool {
        (a.0 - b.0).abs() < tol && (a.1 - b.1).abs() < tol
    }

    // Reference values published with the widely used coordtransform library.
    #[test]
    fn matches_published_reference_values() {
        assert!(close(
            wgs84_to_gcj02(116.404, 39.915),
            (116.410_244_499_169_38, 39.916_404_281_501_64),
            1e-9
        ));
        assert!(close(
            gcj02_to_bd09(116.404, 39.915),
            (116.410_369_493_710_29, 39.921_336_993_510_22),
            1e-9
        ));
        assert!(close(
            bd09_to_gcj02_closed_form(116.404, 39.915),
            (116.397_627_291_193_15, 39.908_656_739_576_31),
            1e-9
        ));
        // The refined inverse agrees with the closed form to its known accuracy.
        assert!(close(
            bd09_to_gcj02(116.404, 39.915),
            (116.397_627_291_193_15, 39.908_656_739_576_31),
            2e-6
        ));
    }

    #[test]
    fn outside_china_gcj_is_wgs() {
        assert_eq!(wgs84_to_gcj02(2.35, 48.85), (2.35, 48.85));
        assert_eq!(Crs::Gcj02.to_wgs84(-74.0, 40.7), (-74.0, 40.7));
    }

    #[test]
    fn crs_names_parse() {
        assert_eq!("GCJ02".parse::<Crs>(), Ok(Crs::Gcj02));
        assert_eq!("bd09".parse::<Crs>(), Ok(Crs::Bd09));
        assert!("epsg:3857".parse::<Crs>().is_err());
    }

    proptest! {
        #[test]
        fn round_trips_within_a_millimetre(lon in 74.0f64..135.0, lat in 4.0f64..53.0) {
            for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09] {
                let (x, y) = crs.from_wgs84(lon, lat);
                let back = crs.to_wgs84(x, y);
                // 1e-8 degrees is about a millimetre.
                prop_assert!(close(back, (lon, lat), 1e-8), "{crs}: {back:?} vs {:?}", (lon, lat));
            }
        }

        #[test]
        fn the_gcj_offset_is_at_most_a_kilometre(lon in 74.0f64..135.0, lat in 4.0f64..53.0) {
            let (x, y) = wgs84_to_gcj02(lon, lat);
            prop_assert!((x - lon).abs() < 0.01 && (y - lat).abs() < 0.01);
        }
    }
}
