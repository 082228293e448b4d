//! Routing at the command line: owner and locality order, with the fallback.

#![allow(unused_imports)]
use super::{Env, PgSchema, collection, everything, feature, path, square};
use civicgrid::cli::{Cli, run};
use civicgrid::error::AppError;
use clap::Parser;
use std::path::{Path, PathBuf};

#[tokio::test]
async fn routing_follows_owner_and_locality_order_with_fallback() {
    let env = Env::new();
    env.ok(&["demo"]).await;
    let grid = "440305001001001";
    let out = env
        .ok(&["route", "--category", "01006", "--grid", grid])
        .await;
    assert!(
        out.starts_with("primary: RQJT"),
        "gas manhole covers go to their owner: {out}"
    );
    assert!(out.contains("co-handler: YJJ"), "{out}");
    let out = env
        .ok(&["route", "--category", "08004", "--grid", grid])
        .await;
    assert!(
        out.starts_with("primary: ST001 "),
        "parking is the street's (locality first): {out}"
    );
    let out = env
        .ok(&["route", "--category", "12002", "--grid", grid])
        .await;
    assert!(
        out.starts_with("primary: ST001-C001 "),
        "no rule: falls back to the community: {out}"
    );
    assert!(out.contains("兜底"), "{out}");
    let err = env
        .err(&["route", "--category", "99001", "--grid", grid])
        .await;
    assert!(err.contains("category 99001"), "{err}");
}
