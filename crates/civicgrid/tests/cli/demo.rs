//! The demo: a believable seeded territory, and months of cases through the real loop.

#![allow(unused_imports)]
use super::{Env, PgSchema, collection, everything, feature, path, square};
use civicgrid::cli::{Cli, run};
use civicgrid::error::AppError;
use clap::Parser;
use std::path::{Path, PathBuf};

#[tokio::test]
async fn demo_is_a_believable_seeded_territory() {
    let env = Env::new();
    let out = env.ok(&["demo", "--seed", "7"]).await;
    assert!(out.contains("demo territory created"), "{out}");
    // At least 2 streets and 6 communities, 60 grids tiling them without gaps or overlaps.
    let regions = env.ok(&["export", "regions"]).await;
    let streets = regions
        .lines()
        .filter(|l| l.split(',').next().is_some_and(|c| c.len() == 9))
        .count();
    let communities = regions
        .lines()
        .filter(|l| l.split(',').next().is_some_and(|c| c.len() == 12))
        .count();
    assert!(streets >= 2 && communities >= 6, "{regions}");
    let grids: serde_json::Value =
        serde_json::from_str(&env.ok(&["export", "grids"]).await).expect("json");
    assert!(grids["features"].as_array().expect("features").len() >= 60);
    assert!(
        env.ok(&["grids", "check"])
            .await
            .contains("0 overlap(s), 0 gap(s)")
    );
    // Staff for every role, grid workers on beats.
    let users = env.ok(&["user", "list"]).await;
    for role in [
        "resident",
        "grid_worker",
        "call_taker",
        "dispatcher",
        "shift_leader",
        "department_handler",
        "community_admin",
        "street_leader",
        "supervisor",
        "system_admin",
    ] {
        assert!(users.contains(&format!("{role}@")), "no {role} in\n{users}");
    }
    // Running it again changes nothing.
    let again = env.ok(&["demo", "--seed", "7"]).await;
    assert!(again.contains("already loaded"), "{again}");

    // Same seed, same data; another seed, other data.
    let same = Env::new();
    same.ok(&["demo", "--seed", "7"]).await;
    let other = Env::new();
    other.ok(&["demo", "--seed", "8"]).await;
    assert_eq!(everything(&env).await, everything(&same).await);
    assert_ne!(everything(&env).await, everything(&other).await);
    let names = |u: &str| {
        u.lines()
            .map(|l| l.split('\t').nth(1).unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&users), names(&same.ok(&["user", "list"]).await));
}
