//! Point → grid lookups: civicgrid's `GridIndex` against PostGIS `ST_Contains` with a GiST
//! index, on the same polygons and the same points, in the same run, one core each.
//!
//! Run with `bench/locate.sh` (installs PostGIS, then `cargo bench -p civicgrid --bench locate`).
//! Environment: CIVICGRID_BENCH_POSTGRES (default postgres://postgres@127.0.0.1:5432/test),
//! CIVICGRID_BENCH_SIZES (default "10000,100000"), CIVICGRID_BENCH_POINTS (default 200000).

use std::hint::black_box;
use std::time::{Duration, Instant};

use civicgrid::demo::jittered_lattice;
use civicgrid_domain::geometry::locate::GridIndex;
use civicgrid_domain::territory::GridCode;
use geo::MultiPolygon;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, Row};

const ORIGIN: (f64, f64) = (113.7, 22.4);
const CELL: (f64, f64) = (0.0042, 0.0036);

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

struct Workload {
    grids: Vec<(GridCode, MultiPolygon<f64>)>,
    points: Vec<(f64, f64)>,
}

fn workload(n_grids: usize, n_points: usize) -> Workload {
    let side = (n_grids as f64).sqrt().ceil() as usize;
    let (cols, rows) = (side, n_grids.div_ceil(side));
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let cells = jittered_lattice(cols, rows, ORIGIN, CELL, &mut rng);
    let mut grids = Vec::with_capacity(cols * rows);
    for (i, column) in cells.into_iter().enumerate() {
        for (j, mp) in column.into_iter().enumerate() {
            let code: GridCode = format!("B{i:04}{j:04}").parse().expect("code");
            grids.push((code, mp));
        }
    }
    let (w, h) = (cols as f64 * CELL.0, rows as f64 * CELL.1);
    // 5% of points fall outside every grid, as real reports near a boundary do.
    let points = (0..n_points)
        .map(|_| {
            (
                ORIGIN.0 + rng.random_range(-0.025..1.025) * w,
                ORIGIN.1 + rng.random_range(-0.025..1.025) * h,
            )
        })
        .collect();
    Workload { grids, points }
}

/// Runs all lookups repeatedly for at least `min` and returns lookups per second.
fn civicgrid_rate(index: &GridIndex, points: &[(f64, f64)], min: Duration) -> (f64, usize) {
    let mut found = 0;
    for &(x, y) in points.iter().take(10_000) {
        black_box(index.locate(x, y));
    }
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < min {
        found = 0;
        for &(x, y) in points {
            if black_box(index.locate(x, y)).is_some() {
                found += 1;
            }
        }
        done += points.len();
    }
    (done as f64 / start.elapsed().as_secs_f64(), found)
}

async fn postgis(
    url: &str,
    w: &Workload,
) -> Result<(f64, f64, usize, Vec<(i64, String)>), sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .after_connect(|conn, _| {
            Box::pin(async move {
                // One core against one core.
                conn.execute("SET max_parallel_workers_per_gather = 0")
                    .await?;
                conn.execute("SET search_path = bench_locate, public")
                    .await?;
                Ok(())
            })
        })
        .connect(url)
        .await?;
    pool.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        .await?;
    pool.execute("DROP SCHEMA IF EXISTS bench_locate CASCADE")
        .await?;
    pool.execute("CREATE SCHEMA bench_locate").await?;
    pool.execute(
        "CREATE TABLE grids (code text PRIMARY KEY, geom geometry(MultiPolygon, 4326) NOT NULL)",
    )
    .await?;
    pool.execute("CREATE TABLE pts (id bigint PRIMARY KEY, geom geometry(Point, 4326) NOT NULL)")
        .await?;
    for chunk in w.grids.chunks(2000) {
        let codes: Vec<String> = chunk.iter().map(|(c, _)| c.to_string()).collect();
        let geoms: Vec<String> = chunk
            .iter()
            .map(|(_, g)| civicgrid_store::multipolygon_to_json(g).to_string())
            .collect();
        sqlx::query(
            "INSERT INTO grids SELECT c, ST_SetSRID(ST_GeomFromGeoJSON(g), 4326) FROM unnest($1::text[], $2::text[]) AS t(c, g)",
        )
        .bind(&codes)
        .bind(&geoms)
        .execute(&pool)
        .await?;
    }
    let ids: Vec<i64> = (0..w.points.len() as i64).collect();
    let xs: Vec<f64> = w.points.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = w.points.iter().map(|p| p.1).collect();
    sqlx::query("INSERT INTO pts SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) FROM unnest($1::bigint[], $2::float8[], $3::float8[]) AS t(i, x, y)")
        .bind(&ids)
        .bind(&xs)
        .bind(&ys)
        .execute(&pool)
        .await?;
    pool.execute("CREATE INDEX grids_geom ON grids USING gist (geom)")
        .await?;
    pool.execute("ANALYZE grids").await?;
    pool.execute("ANALYZE pts").await?;

    // PostGIS at its best: one set-based join of every point against the GiST index.
    let join = "SELECT p.id, min(g.code) AS code FROM pts p JOIN grids g ON ST_Contains(g.geom, p.geom) GROUP BY p.id";
    let _ = sqlx::query(join).fetch_all(&pool).await?; // warm the cache
    let start = Instant::now();
    let rows = sqlx::query(join).fetch_all(&pool).await?;
    let join_rate = w.points.len() as f64 / start.elapsed().as_secs_f64();
    let answers: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();

    // What an application does per report: one prepared query per point.
    let one = "SELECT code FROM grids WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326)) ORDER BY code LIMIT 1";
    let sample = &w.points[..w.points.len().min(20_000)];
    let start = Instant::now();
    for &(x, y) in sample {
        let _: Option<(String,)> = sqlx::query_as(one)
            .bind(x)
            .bind(y)
            .fetch_optional(&pool)
            .await?;
    }
    let single_rate = sample.len() as f64 / start.elapsed().as_secs_f64();
    pool.execute("DROP SCHEMA bench_locate CASCADE").await?;
    Ok((join_rate, single_rate, answers.len(), answers))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sizes: Vec<usize> = std::env::var("CIVICGRID_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let n_points: usize = std::env::var("CIVICGRID_BENCH_POINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let url = std::env::var("CIVICGRID_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    println!("point → grid, {n_points} points, one core each");
    println!(
        "{:>8} {:>14} {:>16} {:>18} {:>12} {:>12} {:>10}",
        "grids",
        "civicgrid/s",
        "PostGIS join/s",
        "PostGIS 1-query/s",
        "× join",
        "× 1-query",
        "index MiB"
    );
    for n in sizes {
        let w = workload(n, n_points);
        let before = rss_bytes();
        let index = GridIndex::new(w.grids.iter().map(|(c, g)| (c, g)));
        let index_mib = rss_bytes().saturating_sub(before) as f64 / (1024.0 * 1024.0);
        let (rate, found) = civicgrid_rate(&index, &w.points, Duration::from_secs(2));
        match postgis(&url, &w).await {
            Ok((join_rate, single_rate, pg_found, answers)) => {
                // Same polygons, same points: the answers must agree (random points never lie
                // exactly on an edge, where ST_Contains and civicgrid's closed grids differ).
                let disagree = answers
                    .iter()
                    .filter(|(id, code)| {
                        let (x, y) = w.points[*id as usize];
                        index.locate(x, y).map(|c| c.as_str()) != Some(code.as_str())
                    })
                    .count();
                assert_eq!(
                    disagree, 0,
                    "PostGIS and civicgrid disagree on {disagree} points"
                );
                assert_eq!(
                    pg_found, found,
                    "PostGIS found {pg_found} points in grids, civicgrid {found}"
                );
                println!(
                    "{:>8} {:>14.0} {:>16.0} {:>18.0} {:>12.1} {:>12.1} {:>10.1}",
                    w.grids.len(),
                    rate,
                    join_rate,
                    single_rate,
                    rate / join_rate,
                    rate / single_rate,
                    index_mib
                );
            }
            Err(e) => {
                println!(
                    "{:>8} {:>14.0}   PostGIS unavailable: {e}",
                    w.grids.len(),
                    rate
                );
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    std::process::exit(1);
                }
            }
        }
    }
}
