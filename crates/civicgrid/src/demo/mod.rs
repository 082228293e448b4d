//! A believable demo territory, the same for the same seed.
//!
//! One district with two streets of three communities each. Each community is a block of 4 × 3
//! unit grids cut from one jittered lattice, so neighbouring grids share their edges exactly and
//! the grids tile every community with no gap and no overlap. The geometry is synthetic; codes
//! and names follow the real conventions (GB/T 2260 district code, 6+3+3+3 grid codes).

pub mod cli;

pub mod cases;
pub mod consultation;
pub mod emergency;
pub mod mediation;
pub mod notifications;
pub mod party;
pub mod photos;
pub mod supervision;

use std::collections::BTreeMap;

use civicgrid_domain::access::{Grant, Scope};
use civicgrid_domain::catalogue::CategoryCode;
use civicgrid_domain::routing::{AttributeCondition, Basis, ResponsibilityRule, Unit, UnitKind};
use civicgrid_domain::territory::{Beat, Grid, GridCode, Region, RegionCode};
use civicgrid_store::{Batch, NewUser};
use geo::{Coord, LineString, MultiPolygon, Polygon};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::App;
use crate::error::{AppError, AppResult};
use crate::interchange::{catalogue, config};

pub const DISTRICT: &str = "440305";
pub const DEMO_PASSWORD: &str = "civicgrid-demo";

const COLS_PER_COMMUNITY: usize = 4;
const ROWS_PER_COMMUNITY: usize = 3;
const COMMUNITIES_PER_STREET: usize = 3;
const STREETS: usize = 2;
const ORIGIN: (f64, f64) = (113.915, 22.515);
const CELL: (f64, f64) = (0.0042, 0.0036); // about 430 m × 400 m at 22.5°N

const STREET_NAMES: &[&str] = &["南头街道", "粤海街道", "桃源街道", "西丽街道"];
const COMMUNITY_NAMES: &[&str] = &[
    "安乐社区",
    "同乐社区",
    "大新社区",
    "田厦社区",
    "星海名城社区",
    "南联社区",
    "红花园社区",
    "学府社区",
    "科技园社区",
    "海珠社区",
    "月亮湾社区",
    "龙井社区",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志强",
];

/// Everything the demo writes, before it is written.
pub struct DemoTerritory {
    pub regions: Vec<Region>,
    pub grids: Vec<Grid>,
    pub units: Vec<Unit>,
    pub beats: Vec<Beat>,
    pub staff: Vec<(String, String, Option<String>, Vec<Grant>)>,
    pub rules: Vec<ResponsibilityRule>,
}

// The codes below are built from digits in this file; a failure would be a bug here.
fn region(code: &str) -> RegionCode {
    code.parse().expect("demo region codes are well-formed")
}

fn cat(code: &str) -> CategoryCode {
    code.parse().expect("demo category codes are well-formed")
}

/// Builds the demo territory for `seed`. Pure: no I/O, no clock.
pub fn generate(seed: u64) -> DemoTerritory {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cols = COLS_PER_COMMUNITY * COMMUNITIES_PER_STREET;
    let rows = ROWS_PER_COMMUNITY * STREETS;

    let cells = jittered_lattice(cols, rows, ORIGIN, CELL, &mut rng);
    let cell = |i: usize, j: usize| cells[i][j].clone();

    let mut street_names: Vec<&str> = STREET_NAMES.to_vec();
    street_names.shuffle(&mut rng);
    let mut community_names: Vec<&str> = COMMUNITY_NAMES.to_vec();
    community_names.shuffle(&mut rng);
    let mut person = {
        let mut used = std::collections::BTreeSet::new();
        move |rng: &mut ChaCha8Rng| loop {
            let name = format!(
                "{}{}",
                SURNAMES[rng.random_range(0..SURNAMES.len())],
                GIVEN[rng.random_range(0..GIVEN.len())]
            );
            if used.insert(name.clone()) {
                return name;
            }
        }
    };

    // Party-building accounts draw their names from a stream of their own, so that adding
    // them changed no other demo name.
    let mut party_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_da27);
    let district = region(DISTRICT);
    let mut regions = vec![Region {
        code: district.clone(),
        name: "南山区".into(),
    }];
    let mut units = vec![Unit {
        code: "NS-GOV".into(),
        name: "南山区人民政府".into(),
        kind: UnitKind::DistrictGovernment,
        region: district.clone(),
    }];
    for (code, name, kind) in [
        ("CGJ", "区城市管理和综合执法局", UnitKind::Department),
        ("ZJJ", "区住房和建设局", UnitKind::Department),
        ("JTJ", "区交通运输局", UnitKind::Department),
        ("HBJ", "市生态环境局南山管理局", UnitKind::Department),
        ("SJJ", "市市场监督管理局南山监管局", UnitKind::Department),
        ("YJJ", "区应急管理局", UnitKind::Department),
        ("SWJ", "区水务局", UnitKind::Department),
        ("SFJ", "区司法局", UnitKind::Department),
        ("MZJ", "区民政局", UnitKind::Department),
        ("RSJ", "区人力资源局", UnitKind::Department),
        ("JJDD", "交警南山大队", UnitKind::Department),
        ("SWJT", "水务集团南山分公司", UnitKind::PublicUtility),
        ("GDJ", "供电局南山供电分局", UnitKind::PublicUtility),
        ("RQJT", "燃气集团南山分公司", UnitKind::PublicUtility),
        ("DX", "电信南山分公司", UnitKind::PublicUtility),
        ("YG-WY", "阳光物业服务有限公司", UnitKind::PropertyCompany),
        ("HX-WY", "华信物业管理有限公司", UnitKind::PropertyCompany),
        ("XYH-SG", "心悦汇社工服务中心", UnitKind::SocialOrganisation),
        ("DGW-ZZB", "区委组织部", UnitKind::PartyOrganisation),
    ] {
        units.push(Unit {
            code: code.into(),
            name: name.into(),
            kind,
            region: district.clone(),
        });
    }
    let departments: Vec<String> = units
        .iter()
        .filter(|u| matches!(u.kind, UnitKind::Department | UnitKind::PublicUtility))
        .map(|u| u.code.clone())
        .collect();

    let mut grids = Vec::new();
    let mut beats = Vec::new();
    let mut staff = Vec::new();
    let mut rules = Vec::new();
    let grant = |role: &str, scope: Scope| Grant {
        role: role.into(),
        scope,
    };
    staff.push((
        "admin".to_owned(),
        "系统管理员".to_owned(),
        None,
        vec![grant("system_admin", Scope::Region(district.clone()))],
    ));
    staff.push((
        "supervisor".to_owned(),
        format!("{}（纪检监察）", person(&mut rng)),
        None,
        vec![grant("supervisor", Scope::Region(district.clone()))],
    ));
    // The custodian of reporters' identities: another person than the supervision officers,
    // named by office only (no draw from the name generator, so the demo stays the same).
    staff.push((
        "custodian".to_owned(),
        "举报人身份保管人".to_owned(),
        None,
        vec![grant("custodian", Scope::Region(district.clone()))],
    ));
    for n in 1..=2 {
        staff.push((
            format!("calltaker{n}"),
            person(&mut rng),
            None,
            vec![grant("call_taker", Scope::Region(district.clone()))],
        ));
    }
    for d in &departments {
        staff.push((
            format!("handler.{}", d.to_ascii_lowercase()),
            person(&mut rng),
            Some(d.clone()),
            vec![grant("department_handler", Scope::Unit(d.clone()))],
        ));
    }

    for s in 0..STREETS {
        let street = region(&format!("{DISTRICT}{:03}", s + 1));
        regions.push(Region {
            code: street.clone(),
            name: street_names[s].into(),
        });
        let office = format!("ST{:03}", s + 1);
        units.push(Unit {
            code: office.clone(),
            name: format!("{}办事处", street_names[s]),
            kind: UnitKind::StreetOffice,
            region: street.clone(),
        });
        units.push(Unit {
            code: format!("ST{:03}-DGW", s + 1),
            name: format!("{}党工委", street_names[s]),
            kind: UnitKind::PartyOrganisation,
            region: street.clone(),
        });
        let tag = format!("st{}", s + 1);
        staff.push((
            format!("leader.{tag}"),
            person(&mut rng),
            Some(office.clone()),
            vec![grant("street_leader", Scope::Region(street.clone()))],
        ));
        staff.push((
            format!("handler.{}", office.to_ascii_lowercase()),
            person(&mut rng),
            Some(office.clone()),
            vec![grant("department_handler", Scope::Unit(office.clone()))],
        ));
        staff.push((
            format!("shiftlead.{tag}"),
            person(&mut rng),
            Some(office.clone()),
            vec![grant("shift_leader", Scope::Region(street.clone()))],
        ));
        staff.push((
            format!("dispatcher.{tag}"),
            person(&mut rng),
            Some(office.clone()),
            vec![grant("dispatcher", Scope::Region(street.clone()))],
        ));

        for c in 0..COMMUNITIES_PER_STREET {
            let community = region(&format!("{}{:03}", street.as_str(), c + 1));
            let cname = community_names[s * COMMUNITIES_PER_STREET + c];
            regions.push(Region {
                code: community.clone(),
                name: cname.into(),
            });
            let committee = format!("ST{:03}-C{:03}", s + 1, c + 1);
            units.push(Unit {
                code: committee.clone(),
                name: format!("{cname}居民委员会"),
                kind: UnitKind::CommunityCommittee,
                region: community.clone(),
            });
            let ctag = format!("{tag}c{}", c + 1);
            staff.push((
                format!("admin.{ctag}"),
                person(&mut rng),
                Some(committee.clone()),
                vec![grant("community_admin", Scope::Region(community.clone()))],
            ));
            staff.push((
                format!("handler.{}", committee.to_ascii_lowercase()),
                person(&mut rng),
                Some(committee.clone()),
                vec![grant("department_handler", Scope::Unit(committee.clone()))],
            ));
            // Party-building: the community's party secretary everywhere; members who keep
            // in touch with households and a volunteer with accounts in two communities.
            staff.push((
                format!("secretary.{ctag}"),
                person(&mut party_rng),
                Some(committee.clone()),
                vec![grant("party_secretary", Scope::Region(community.clone()))],
            ));
            if s == 0 && c < 2 {
                for m in 1..=2 {
                    staff.push((
                        format!("member.{ctag}.{m}"),
                        person(&mut party_rng),
                        None,
                        vec![grant("party_member", Scope::Region(community.clone()))],
                    ));
                }
                staff.push((
                    format!("volunteer.{ctag}"),
                    person(&mut party_rng),
                    None,
                    vec![grant("volunteer", Scope::Region(community.clone()))],
                ));
            }
            if s == 0 && c == 0 {
                // Residents mostly report anonymously; one registered resident shows the role.
                staff.push((
                    "resident.demo".to_owned(),
                    person(&mut rng),
                    None,
                    vec![grant("resident", Scope::Region(community.clone()))],
                ));
            }
            let mut seq = 0;
            for row in 0..ROWS_PER_COMMUNITY {
                let mut beat_grids = Vec::new();
                for col in 0..COLS_PER_COMMUNITY {
                    seq += 1;
                    let code =
                        GridCode::numbered(&community, seq).expect("at most 12 grids a community");
                    let i = c * COLS_PER_COMMUNITY + col;
                    let j = s * ROWS_PER_COMMUNITY + row;
                    grids.push(Grid {
                        code: code.clone(),
                        name: format!("{cname}第{seq}网格"),
                        region: community.clone(),
                        geometry: cell(i, j),
                    });
                    beat_grids.push(code);
                }
                let worker = format!("gw.{ctag}.{}", row + 1);
                staff.push((
                    worker.clone(),
                    person(&mut rng),
                    Some(committee.clone()),
                    vec![grant("grid_worker", Scope::Region(community.clone()))],
                ));
                beats.push(Beat {
                    code: format!("{}-B{}", community.as_str(), row + 1),
                    name: format!("{cname}第{}责任网格", row + 1),
                    region: community.clone(),
                    grids: beat_grids,
                    workers: vec![worker],
                });
            }
            // Small matters stay in the neighbourhood: disputes and care go to the community.
            for (category, co) in [
                ("09", &["SFJ"][..]),
                ("10004", &["MZJ"]),
                ("10005", &["MZJ", "XYH-SG"]),
            ] {
                push_rule(
                    &mut rules,
                    category,
                    &community,
                    None,
                    Basis::Locality,
                    &committee,
                    co,
                    "小事不出社区",
                );
            }
        }
        // The street is the locality for cityscape and order matters.
        for (category, co, note) in [
            ("05", &["CGJ"][..], "市容环境属地管理"),
            ("05005", &["HBJ"], "餐饮油烟，生态环境协办"),
            ("06", &["CGJ"], "宣传广告属地管理"),
            ("07", &["ZJJ"], "施工管理属地管理，住建协办"),
            ("07002", &["ZJJ", "HBJ"], "工地扬尘"),
            ("08", &["CGJ"], "街面秩序属地管理"),
            ("08004", &["JJDD"], "机动车乱停放，交警协办"),
            ("10006", &["RSJ"], "就业帮扶"),
            ("11", &["YJJ"], "安全隐患属地排查"),
            ("11003", &["RQJT", "YJJ"], "燃气安全隐患"),
            ("01", &[], "部件无明确权属时由街道属地处置"),
            ("02", &[], "交通设施无明确权属时由街道属地处置"),
        ] {
            push_rule(
                &mut rules,
                category,
                &street,
                None,
                Basis::Locality,
                &office,
                co,
                note,
            );
        }
    }
    // Components go to their owners first.
    for (category, owner, co, note) in [
        ("01001", "SWJT", &[][..], "上水井盖属水务集团"),
        ("01002", "SWJ", &[], "污水井盖属区水务局"),
        ("01003", "SWJ", &[], "雨水井盖属区水务局"),
        ("01004", "GDJ", &[], "电力井盖属供电局"),
        ("01005", "DX", &[], "通信井盖属通信运营商"),
        ("01006", "RQJT", &["YJJ"], "燃气井盖属燃气集团"),
        ("01007", "CGJ", &[], "路灯属城管局"),
        ("01008", "SWJT", &[], "消防栓供水属水务集团"),
        ("01009", "SWJ", &[], "雨水箅子属区水务局"),
        ("01010", "GDJ", &[], "变压器属供电局"),
        ("02", "JTJ", &[], "交通设施属交通运输局"),
        ("02001", "JJDD", &[], "信号灯属交警"),
        ("03", "CGJ", &[], "环卫设施属城管局"),
        ("04", "CGJ", &[], "园林绿化属城管局"),
        ("10001", "SWJT", &[], "供水服务"),
        ("10002", "GDJ", &[], "供电服务"),
        ("10003", "RQJT", &[], "燃气服务"),
    ] {
        push_rule(
            &mut rules,
            category,
            &district,
            None,
            Basis::Owner,
            owner,
            co,
            note,
        );
    }
    // Arterial roads are the transport bureau's; other road surfaces fall to the street.
    push_rule(
        &mut rules,
        "02008",
        &district,
        Some(AttributeCondition {
            attribute: "road_level".into(),
            equals: "arterial".into(),
        }),
        Basis::Owner,
        "JTJ",
        &[],
        "主干道路面属交通运输局",
    );

    DemoTerritory {
        regions,
        grids,
        units,
        beats,
        staff,
        rules,
    }
}

#[allow(clippy::too_many_arguments)]
fn push_rule(
    rules: &mut Vec<ResponsibilityRule>,
    category: &str,
    region: &RegionCode,
    condition: Option<AttributeCondition>,
    basis: Basis,
    primary: &str,
    co_handlers: &[&str],
    note: &str,
) {
    rules.push(ResponsibilityRule {
        line: u32::try_from(rules.len() + 1).unwrap_or(u32::MAX),
        category: cat(category),
        region: region.clone(),
        condition,
        basis,
        primary: primary.to_owned(),
        co_handlers: co_handlers.iter().map(|s| (*s).to_owned()).collect(),
        note: note.to_owned(),
    });
}

/// A `cols` × `rows` lattice of quadrilateral cells with jittered inner vertices and two bends
/// on every inner edge, indexed `[column][row]`. Neighbours share their edges exactly, so the
/// cells tile the rectangle with no gap and no overlap. Also used by the benchmarks.
pub fn jittered_lattice(
    cols: usize,
    rows: usize,
    origin: (f64, f64),
    cell_size: (f64, f64),
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<MultiPolygon<f64>>> {
    // Lattice vertices; the district's outline stays straight, inner vertices are jittered.
    let mut vertex = vec![vec![Coord { x: 0.0, y: 0.0 }; rows + 1]; cols + 1];
    for (i, column) in vertex.iter_mut().enumerate() {
        for (j, v) in column.iter_mut().enumerate() {
            let inner_x = i > 0 && i < cols;
            let inner_y = j > 0 && j < rows;
            let jx = if inner_x {
                rng.random_range(-0.18..0.18)
            } else {
                0.0
            };
            let jy = if inner_y {
                rng.random_range(-0.18..0.18)
            } else {
                0.0
            };
            *v = Coord {
                x: round7(origin.0 + (i as f64 + jx) * cell_size.0),
                y: round7(origin.1 + (j as f64 + jy) * cell_size.1),
            };
        }
    }
    // Two bends on every inner edge, shared by the two cells on either side.
    let mut bends: BTreeMap<(usize, usize, bool), [Coord<f64>; 2]> = BTreeMap::new();
    for i in 0..=cols {
        for j in 0..=rows {
            for horizontal in [true, false] {
                let (a, b, inner) = if horizontal {
                    if i == cols {
                        continue;
                    }
                    (vertex[i][j], vertex[i + 1][j], j > 0 && j < rows)
                } else {
                    if j == rows {
                        continue;
                    }
                    (vertex[i][j], vertex[i][j + 1], i > 0 && i < cols)
                };
                let mut pts = [Coord { x: 0.0, y: 0.0 }; 2];
                for (k, t) in [1.0 / 3.0, 2.0 / 3.0].into_iter().enumerate() {
                    let off = if inner {
                        rng.random_range(-0.07..0.07)
                    } else {
                        0.0
                    };
                    let (nx, ny) = if horizontal {
                        (0.0, off * cell_size.1)
                    } else {
                        (off * cell_size.0, 0.0)
                    };
                    pts[k] = Coord {
                        x: round7(a.x + (b.x - a.x) * t + nx),
                        y: round7(a.y + (b.y - a.y) * t + ny),
                    };
                }
                bends.insert((i, j, horizontal), pts);
            }
        }
    }
    let cell = |i: usize, j: usize| -> MultiPolygon<f64> {
        let h = |i, j| bends[&(i, j, true)];
        let v = |i, j| bends[&(i, j, false)];
        let (b, r, t, l) = (h(i, j), v(i + 1, j), h(i, j + 1), v(i, j));
        let ring = vec![
            vertex[i][j],
            b[0],
            b[1],
            vertex[i + 1][j],
            r[0],
            r[1],
            vertex[i + 1][j + 1],
            t[1],
            t[0],
            vertex[i][j + 1],
            l[1],
            l[0],
            vertex[i][j],
        ];
        MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])])
    };

    (0..cols)
        .map(|i| (0..rows).map(|j| cell(i, j)).collect())
        .collect()
}

fn round7(x: f64) -> f64 {
    (x * 1e7).round() / 1e7
}

fn shipped_invalid(e: Vec<crate::error::InputError>) -> AppError {
    AppError::Invalid(format!("shipped data is invalid: {}", AppError::Input(e)))
}

/// What `civicgrid demo` did.
pub enum DemoOutcome {
    Created,
    AlreadyLoaded,
}

impl App {
    /// Loads the shipped catalogue, calendar and roles and the demo territory, in one transaction.
    pub async fn load_demo(&self, seed: u64) -> AppResult<DemoOutcome> {
        let regions = self.repo.regions().await?;
        if regions.iter().any(|r| r.code.as_str() == DISTRICT) {
            return Ok(DemoOutcome::AlreadyLoaded);
        }
        if !regions.is_empty() {
            return Err(AppError::Invalid(
                "the database already holds a territory; load the demo into an empty database (e.g. --database sqlite:demo.db)".into(),
            ));
        }
        let catalogue =
            catalogue::read_toml("data/catalogue.toml", crate::app::shipped::CATALOGUE_TOML)
                .map_err(shipped_invalid)?;
        let calendar = config::read_calendar(
            "data/calendar-china.toml",
            crate::app::shipped::CALENDAR_TOML,
        )
        .map_err(shipped_invalid)?;
        let roles = config::read_roles("data/roles.toml", crate::app::shipped::ROLES_TOML)
            .map_err(shipped_invalid)?;
        let demo = generate(seed);
        let places = gazetteer(&demo.regions, &demo.grids);
        // One hash for every demo account: they share the published demo password anyway.
        let hash = crate::accounts::hash_password(DEMO_PASSWORD)?;
        let users = demo
            .staff
            .into_iter()
            .map(|(username, display_name, unit, grants)| NewUser {
                username,
                display_name,
                password_hash: hash.clone(),
                unit,
                grants,
            })
            .collect();
        self.repo
            .apply(&Batch {
                at: self.clock.now(),
                regions: demo.regions,
                grids: demo.grids,
                units: demo.units,
                categories: catalogue.into_vec(),
                roles,
                users,
                beats: demo.beats,
                responsibility_list: Some(demo.rules),
                calendar: Some(calendar),
                grants: vec![],
            })
            .await?;
        self.repo.replace_places(&places).await?;
        self.invalidate_reference();
        Ok(DemoOutcome::Created)
    }
}

/// The demo's gazetteer: in each community a service centre, a park and a school as landmarks,
/// and the numbered buildings of an estate, at points inside its grids.
fn gazetteer(
    regions: &[civicgrid_domain::territory::Region],
    grids: &[civicgrid_domain::territory::Grid],
) -> Vec<civicgrid_domain::territory::Place> {
    use civicgrid_domain::territory::{Place, PlaceKind};
    use geo::InteriorPoint;
    let mut places = Vec::new();
    for community in regions
        .iter()
        .filter(|r| r.code.level() == civicgrid_domain::territory::RegionLevel::Community)
    {
        let inside: Vec<(f64, f64)> = grids
            .iter()
            .filter(|g| g.region == community.code)
            .filter_map(|g| g.geometry.interior_point())
            .map(|p| ((p.x() * 1e6).round() / 1e6, (p.y() * 1e6).round() / 1e6))
            .collect();
        let short = community.name.trim_end_matches("社区");
        let landmarks = [
            format!("{}党群服务中心", community.name),
            format!("{short}公园"),
            format!("{short}小学"),
        ];
        for (i, name) in landmarks.into_iter().enumerate() {
            if let Some((lon, lat)) = inside.get(i) {
                places.push(Place {
                    name,
                    kind: PlaceKind::Landmark,
                    lon: *lon,
                    lat: *lat,
                    region: community.code.clone(),
                });
            }
        }
        for (i, (lon, lat)) in inside.iter().enumerate().skip(3).take(6) {
            places.push(Place {
                name: format!("{short}花园{}栋", i - 2),
                kind: PlaceKind::Building,
                lon: *lon,
                lat: *lat,
                region: community.code.clone(),
            });
        }
    }
    places
}

/// A demo account as the actor it acts as.
pub(crate) async fn staff_of(
    app: &App,
    username: &str,
) -> AppResult<civicgrid_domain::policy::Actor> {
    let u = app
        .repo
        .user(username)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("demo account {username}")))?;
    Ok(civicgrid_domain::policy::Actor::Staff {
        username: u.username,
        grants: u.grants,
    })
}
