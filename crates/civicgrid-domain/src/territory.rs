//! The region tree, unit grids and beats.
//!
//! Region codes follow GB/T 2260 and the statistical division codes: 6 digits for a district or
//! county, 9 for a street or township, 12 for a community or village. A region's parent is found
//! by its code prefix, so the tree needs no separate parent column to be consistent.

use std::fmt;
use std::str::FromStr;

use geo::MultiPolygon;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerritoryError {
    #[error("`{0}` is not a region code (expected 6, 9 or 12 digits)")]
    BadRegionCode(String),
    #[error(
        "`{0}` is not a grid code (expected 1 to 32 letters, digits, '-' or '_'; civicgrid numbers grids 6+3+3+3)"
    )]
    BadGridCode(String),
    #[error("`{0}` is not a beat code (expected 1 to 32 letters, digits, '-' or '_')")]
    BadBeatCode(String),
    #[error("grid sequence {0} is out of range 1..=999")]
    SequenceOutOfRange(u32),
}

/// District (区县), street/township (街道/乡镇), community/village (社区/村).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    District,
    Street,
    Community,
}

impl RegionLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RegionLevel::District => "district",
            RegionLevel::Street => "street",
            RegionLevel::Community => "community",
        }
    }
    pub fn code_len(self) -> usize {
        match self {
            RegionLevel::District => 6,
            RegionLevel::Street => 9,
            RegionLevel::Community => 12,
        }
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            RegionLevel::District => "区县",
            RegionLevel::Street => "街道/乡镇",
            RegionLevel::Community => "社区/村",
        }
    }
}

/// A validated region code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    pub fn level(&self) -> RegionLevel {
        match self.0.len() {
            6 => RegionLevel::District,
            9 => RegionLevel::Street,
            _ => RegionLevel::Community,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The enclosing region, or `None` for a district.
    pub fn parent(&self) -> Option<RegionCode> {
        match self.level() {
            RegionLevel::District => None,
            RegionLevel::Street => Some(RegionCode(self.0[..6].to_owned())),
            RegionLevel::Community => Some(RegionCode(self.0[..9].to_owned())),
        }
    }

    /// This region and every region above it, nearest first.
    pub fn self_and_ancestors(&self) -> Vec<RegionCode> {
        let mut out = vec![self.clone()];
        let mut cur = self.parent();
        while let Some(c) = cur {
            cur = c.parent();
            out.push(c);
        }
        out
    }

    /// Whether `other` lies in this region's subtree (a region contains itself).
    pub fn contains(&self, other: &RegionCode) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The smallest region that contains all of `regions`; `None` if they are empty or lie in
    /// different districts.
    pub fn smallest_common<'a>(
        regions: impl IntoIterator<Item = &'a RegionCode>,
    ) -> Option<RegionCode> {
        let mut regions = regions.into_iter();
        let mut common = regions.next()?.clone();
        for r in regions {
            while !common.contains(r) {
                common = common.parent()?;
            }
        }
        Some(common)
    }
}

impl FromStr for RegionCode {
    type Err = TerritoryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = matches!(s.len(), 6 | 9 | 12) && s.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(RegionCode(s.to_owned()))
        } else {
            Err(TerritoryError::BadRegionCode(s.to_owned()))
        }
    }
}

impl TryFrom<String> for RegionCode {
    type Error = TerritoryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<RegionCode> for String {
    fn from(c: RegionCode) -> String {
        c.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub code: RegionCode,
    pub name: String,
}

impl Region {
    pub fn level(&self) -> RegionLevel {
        self.code.level()
    }
}

/// A place residents know by name — a building or a landmark — in the gazetteer (地名地址库)
/// the map's search reads, so that "3栋" or "南山公园" finds its spot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub name: String,
    pub kind: PlaceKind,
    /// WGS84.
    pub lon: f64,
    pub lat: f64,
    /// The region of the grid the place lies in.
    pub region: RegionCode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    Building,
    Landmark,
}

impl PlaceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::Building => "building",
            PlaceKind::Landmark => "landmark",
        }
    }
}

impl FromStr for PlaceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "building" => Ok(PlaceKind::Building),
            "landmark" => Ok(PlaceKind::Landmark),
            other => Err(format!("`{other}` is not building or landmark")),
        }
    }
}

fn is_code_text(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A unit grid code: 15 digits (6+3+3+3) when civicgrid numbers the grid, or the source's own
/// code when it was imported with one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GridCode(String);

impl GridCode {
    /// The civicgrid-numbered code `community + sequence`, e.g. 440305001002 + 7 → 440305001002007.
    pub fn numbered(community: &RegionCode, sequence: u32) -> Result<GridCode, TerritoryError> {
        if !(1..=999).contains(&sequence) {
            return Err(TerritoryError::SequenceOutOfRange(sequence));
        }
        if community.level() != RegionLevel::Community {
            return Err(TerritoryError::BadRegionCode(community.to_string()));
        }
        Ok(GridCode(format!("{}{:03}", community.as_str(), sequence)))
    }

    /// The community a 6+3+3+3 code names, if it is one.
    pub fn community(&self) -> Option<RegionCode> {
        if self.0.len() == 15 && self.0.bytes().all(|b| b.is_ascii_digit()) {
            self.0[..12].parse().ok()
        } else {
            None
        }
    }

    /// The 3-digit sequence of a 6+3+3+3 code.
    pub fn sequence(&self) -> Option<u32> {
        self.community().and_then(|_| self.0[12..].parse().ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GridCode {
    type Err = TerritoryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_code_text(s) {
            Ok(GridCode(s.to_owned()))
        } else {
            Err(TerritoryError::BadGridCode(s.to_owned()))
        }
    }
}

impl TryFrom<String> for GridCode {
    type Error = TerritoryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<GridCode> for String {
    fn from(c: GridCode) -> String {
        c.0
    }
}

impl fmt::Display for GridCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A unit grid (单元网格): the smallest management polygon, in WGS84 lon/lat.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub code: GridCode,
    pub name: String,
    /// The region the grid belongs to; its siblings share it.
    pub region: RegionCode,
    pub geometry: MultiPolygon<f64>,
}

/// A beat (责任网格): the set of grids one or more grid workers look after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    pub code: String,
    pub name: String,
    pub region: RegionCode,
    pub grids: Vec<GridCode>,
    /// Usernames of the grid workers assigned to the beat.
    pub workers: Vec<String>,
}

impl Beat {
    pub fn validate_code(code: &str) -> Result<(), TerritoryError> {
        if is_code_text(code) {
            Ok(())
        } else {
            Err(TerritoryError::BadBeatCode(code.to_owned()))
        }
    }
}

/// The next free sequence among a community's civicgrid-numbered grids.
pub fn next_grid_sequence<'a>(
    community: &RegionCode,
    existing: impl IntoIterator<Item = &'a GridCode>,
) -> u32 {
    existing
        .into_iter()
        .filter(|c| c.community().as_ref() == Some(community))
        .filter_map(GridCode::sequence)
        .max()
        .unwrap_or(0)
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_common_region_of_some() {
        let r = |s: &str| s.parse::<RegionCode>().expect("code");
        let common = |xs: &[&str]| {
            let codes: Vec<RegionCode> = xs.iter().map(|x| r(x)).collect();
            RegionCode::smallest_common(&codes).map(|c| c.as_str().to_owned())
        };
        assert_eq!(common(&["440305001001"]).as_deref(), Some("440305001001"));
        assert_eq!(
            common(&["440305001001", "440305001002"]).as_deref(),
            Some("440305001")
        );
        assert_eq!(
            common(&["440305001001", "440305002", "440305001"]).as_deref(),
            Some("440305")
        );
        assert_eq!(common(&["440305001", "440306001"]), None);
        assert_eq!(common(&[]), None);
    }
    use proptest::prelude::*;

    #[test]
    fn region_levels_and_ancestry() {
        let c: RegionCode = "440305001002".parse().expect("community");
        assert_eq!(c.level(), RegionLevel::Community);
        let codes: Vec<String> = c
            .self_and_ancestors()
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(codes, ["440305001002", "440305001", "440305"]);
        let district: RegionCode = "440305".parse().expect("district");
        assert!(district.contains(&c));
        assert!(!c.contains(&district));
        assert!(district.parent().is_none());
    }

    #[test]
    fn bad_region_codes_are_refused() {
        for bad in [
            "",
            "44030",
            "4403050",
            "44030500100",
            "44030a",
            "４４０３０５",
        ] {
            assert!(bad.parse::<RegionCode>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn grid_numbering_is_6_3_3_3() {
        let c: RegionCode = "440305001002".parse().expect("community");
        let g = GridCode::numbered(&c, 7).expect("numbered");
        assert_eq!(g.as_str(), "440305001002007");
        assert_eq!(g.community(), Some(c.clone()));
        assert_eq!(g.sequence(), Some(7));
        assert!(GridCode::numbered(&c, 0).is_err());
        assert!(GridCode::numbered(&c, 1000).is_err());
        let street: RegionCode = "440305001".parse().expect("street");
        assert!(GridCode::numbered(&street, 1).is_err());
        let source: GridCode = "GD-Nanshan_17".parse().expect("source code");
        assert_eq!(source.community(), None);
        assert!("has space".parse::<GridCode>().is_err());
        assert!("".parse::<GridCode>().is_err());
        assert_eq!(
            next_grid_sequence(&c, [&g, &source, &GridCode::numbered(&c, 3).expect("n")]),
            8
        );
    }

    proptest! {
        #[test]
        fn every_ancestor_contains_its_descendant(d in 100000u32..999999, s in 1u32..999, q in 1u32..999) {
            let code: RegionCode = format!("{d}{s:03}{q:03}").parse().expect("valid");
            for a in code.self_and_ancestors() {
                prop_assert!(a.contains(&code));
            }
        }
    }
}
