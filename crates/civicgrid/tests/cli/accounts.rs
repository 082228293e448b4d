//! Staff accounts and API keys at the command line.

#![allow(unused_imports)]
use super::{Env, PgSchema, collection, everything, feature, path, square};
use civicgrid::cli::{Cli, run};
use civicgrid::error::AppError;
use clap::Parser;
use std::path::{Path, PathBuf};

#[tokio::test]
async fn accounts_and_api_keys() {
    let env = Env::new();
    env.ok(&["demo"]).await;
    let (_, out) = env
        .run_with_input(
            &[
                "user",
                "add",
                "zhao.gw",
                "--name",
                "赵网格",
                "--role",
                "grid_worker",
                "--scope",
                "region:440305001001",
                "--password-stdin",
            ],
            "a long enough passphrase\n",
        )
        .await
        .expect("user add");
    assert!(
        out.contains("created user zhao.gw") && !out.contains("password"),
        "{out}"
    );
    assert!(
        env.ok(&["user", "list"])
            .await
            .contains("zhao.gw\t赵网格\tgrid_worker@region:440305001001")
    );
    let before = env.snapshot().await;
    for (args, expected) in [
        (
            vec![
                "user",
                "add",
                "zhao.gw",
                "--name",
                "x",
                "--role",
                "grid_worker",
                "--scope",
                "region:440305",
            ],
            "already exists",
        ),
        (
            vec![
                "user",
                "add",
                "qian",
                "--name",
                "x",
                "--role",
                "emperor",
                "--scope",
                "region:440305",
            ],
            "role `emperor` does not exist",
        ),
        (
            vec![
                "user",
                "add",
                "sun",
                "--name",
                "x",
                "--role",
                "dispatcher",
                "--scope",
                "region:440399",
            ],
            "scope region:440399 does not exist",
        ),
        (
            vec![
                "user",
                "add",
                "li",
                "--name",
                "x",
                "--role",
                "dispatcher",
                "--scope",
                "everywhere",
            ],
            "is not a scope",
        ),
    ] {
        let message = env.err(&args).await;
        assert!(message.contains(expected), "{args:?}: {message}");
        assert_eq!(env.snapshot().await, before);
    }
    let key = env
        .ok(&["apikey", "create", "--name", "12345 hotline"])
        .await;
    let key = key.trim();
    assert!(key.starts_with("cg_") && key.len() == 51, "{key}");
    let again = env.ok(&["apikey", "create", "--name", "other"]).await;
    assert_ne!(again.trim(), key);
    assert!(
        env.err(&["apikey", "create", "--name", "12345 hotline"])
            .await
            .contains("already exists")
    );
}
