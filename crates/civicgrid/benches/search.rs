//! Full-text search over many cases: the instance's index (what `civicgrid search`,
//! `/api/v1/cases?q=` and the search boxes read) against SQL `LIKE` over the same texts in
//! SQLite, the default store, same run; with the index's size, the time to build it and the
//! process's peak memory.
//!
//! A generator makes `CIVICGRID_BENCH_CASES` case texts (default 1,000,000; the figure
//! is 10,000,000): one to three clauses of real residents' messages (the Teddy Cup messages in
//! `../shared/data/teddy2020`, or `CIVICGRID_BENCH_MESSAGES`; without them, clauses of the
//! demo's kind), an address in one of 2,000 communities, and a building number. 100 queries
//! are cut from the texts themselves: 70 two- to four-character words, 30 pairs of words. Each
//! query asks for the top 20, as a list page does. `LIKE` asks for the newest 20 holding every
//! word (`ORDER BY id DESC LIMIT 20`), the best plain SQL can do without ranking;
//! `CIVICGRID_BENCH_LIKE_QUERIES` runs it on the first N queries only (default 100).
//!
//! Run with `bench/search.sh` (or `cargo bench -p civicgrid --bench search`).

use std::time::{Duration, Instant};

use civicgrid::search::index::{Document, Progress, SearchIndex};
use civicgrid_domain::territory::RegionCode;
use civicgrid_domain::text::search::{PlaceNames, document_terms, query_plan};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn dir_mib(dir: &std::path::Path) -> f64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0) as f64
        / 1_048_576.0
}

/// Clauses of residents' messages: split at Chinese punctuation, 6 to 60 characters.
fn clauses() -> Vec<String> {
    let path = std::env::var("CIVICGRID_BENCH_MESSAGES").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/teddy2020/unlabeled_messages.csv"
        )
        .into()
    });
    let mut out = Vec::new();
    if let Ok(mut reader) = csv::Reader::from_path(&path) {
        let headers = reader.headers().cloned().unwrap_or_default();
        let detail = headers.iter().position(|h| h == "detail");
        for record in reader.records().filter_map(Result::ok) {
            if let Some(text) = detail.and_then(|i| record.get(i)) {
                out.extend(
                    text.split(['。', '，', '！', '？', '；', '\n'])
                        .map(str::trim)
                        .filter(|c| (6..=60).contains(&c.chars().count()))
                        .map(String::from),
                );
            }
        }
    }
    if out.is_empty() {
        println!("({path} not found: clauses of the demo's kind)");
        for what in [
            "楼顶漏水",
            "路灯不亮",
            "垃圾没人清运",
            "占道经营",
            "噪音扰民",
            "井盖缺失",
            "下水道堵塞",
            "违章搭建",
            "共享单车乱停",
            "电梯故障",
            "绿化带被毁",
            "油烟扰民",
        ] {
            for how in [
                "已经好几天了",
                "晚上特别严重",
                "希望尽快处理",
                "多次反映没有结果",
                "影响居民出行",
                "存在安全隐患",
                "老人小孩很危险",
                "请相关部门管一管",
            ] {
                out.push(format!("{what}，{how}"));
            }
        }
    }
    out
}

const STREETS: [&str; 20] = [
    "南头",
    "南山",
    "沙河",
    "蛇口",
    "招商",
    "粤海",
    "桃源",
    "西丽",
    "福田",
    "华富",
    "香蜜湖",
    "园岭",
    "莲花",
    "梅林",
    "沙头",
    "福保",
    "华强北",
    "东门",
    "翠竹",
    "黄贝",
];
const PLACES: [&str; 20] = [
    "安乐",
    "大新",
    "前海",
    "荔林",
    "向南",
    "星海",
    "丽湖",
    "桃园",
    "白石",
    "海月",
    "东湖",
    "西湖",
    "松坪",
    "月亮湾",
    "红树",
    "科技园",
    "同乐",
    "大冲",
    "桂庙",
    "新屋",
];

fn community(k: usize) -> String {
    format!(
        "{}街道{}{}社区",
        STREETS[k % 20],
        PLACES[(k / 20) % 20],
        ["", "东", "西", "南", "北"][(k / 400) % 5]
    )
}

fn text_of(rng: &mut ChaCha8Rng, clauses: &[String]) -> (String, usize) {
    let k = rng.random_range(0..2000);
    let n = rng.random_range(1..=3);
    let mut text = String::new();
    for _ in 0..n {
        text.push_str(&clauses[rng.random_range(0..clauses.len())]);
        text.push('，');
    }
    text.push_str(&format!(
        "地址：{}{}栋{}号",
        community(k),
        rng.random_range(1..60),
        rng.random_range(101..3000)
    ));
    (text, k)
}

/// 70 words of two to four Han characters and 30 pairs, cut from texts.
fn queries(rng: &mut ChaCha8Rng, clauses: &[String]) -> Vec<String> {
    let word = |rng: &mut ChaCha8Rng| loop {
        let clause: Vec<char> = clauses[rng.random_range(0..clauses.len())]
            .chars()
            .collect();
        let len = rng.random_range(2..=4usize);
        if clause.len() <= len {
            continue;
        }
        let at = rng.random_range(0..clause.len() - len);
        let w: String = clause[at..at + len].iter().collect();
        if w.chars().all(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)) {
            return w;
        }
    };
    let mut out: Vec<String> = (0..70).map(|_| word(rng)).collect();
    out.extend((0..30).map(|_| format!("{} {}", word(rng), word(rng))));
    out
}

fn p95(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = ms(times[times.len() / 2]);
    let p95 = ms(times[((times.len() * 95).div_ceil(100)).saturating_sub(1)]);
    (median, p95)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n = env_usize("CIVICGRID_BENCH_CASES", 1_000_000);
    let like_queries = env_usize("CIVICGRID_BENCH_LIKE_QUERIES", 100).min(100);
    let clauses = clauses();
    println!(
        "full-text search over {n} generated case texts ({} clauses of messages)",
        clauses.len()
    );
    let dir = tempfile::tempdir().expect("dir");
    let places = PlaceNames::new((0..2000).map(community));
    let index = SearchIndex::open(&dir.path().join("index")).expect("index");
    let url = format!("sqlite:{}", dir.path().join("like.db").display());
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            url.parse::<sqlx::sqlite::SqliteConnectOptions>()
                .expect("url")
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Off)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Off),
        )
        .await
        .expect("sqlite");
    sqlx::query(
        "CREATE TABLE cases (id INTEGER PRIMARY KEY, case_id TEXT NOT NULL, text TEXT NOT NULL)",
    )
    .execute(&pool)
    .await
    .expect("table");

    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let (mut index_time, mut load_time) = (Duration::ZERO, Duration::ZERO);
    let region: RegionCode = "440305001001".parse().expect("region");
    let chunk = 100_000;
    let mut made = 0;
    while made < n {
        let size = chunk.min(n - made);
        let texts: Vec<(uuid::Uuid, String)> = (0..size)
            .map(|_| (uuid::Uuid::now_v7(), text_of(&mut rng, &clauses).0))
            .collect();
        let started = Instant::now();
        let documents: Vec<(Document, i64)> = texts
            .iter()
            .map(|(id, text)| {
                (
                    Document {
                        case_id: *id,
                        region: region.clone(),
                        terms: document_terms(text, &places),
                    },
                    0,
                )
            })
            .collect();
        index
            .commit(documents, &Progress::default(), false)
            .expect("indexed");
        index_time += started.elapsed();
        let started = Instant::now();
        let mut tx = pool.begin().await.expect("tx");
        for (id, text) in &texts {
            sqlx::query("INSERT INTO cases (case_id, text) VALUES (?1, ?2)")
                .bind(id.to_string())
                .bind(text)
                .execute(&mut *tx)
                .await
                .expect("row");
        }
        tx.commit().await.expect("commit");
        load_time += started.elapsed();
        made += size;
        if made % 1_000_000 == 0 || made == n {
            println!(
                "  {made} cases: indexed in {index_time:.1?}, loaded into SQLite in {load_time:.1?}"
            );
        }
    }
    let (documents, mean) = index.statistics().expect("statistics");
    assert_eq!(documents as usize, n);
    println!(
        "index: {:.0} MiB on disk, {mean:.0} terms per case; SQLite table {:.0} MiB",
        dir_mib(&dir.path().join("index")),
        dir_mib(dir.path())
    );

    let queries = queries(&mut rng, &clauses);
    // Warm both (page cache, the index's files mapped), then time each query once.
    for q in queries.iter().take(5) {
        let _ = index.search(&query_plan(q, &places), None, true, 20);
    }
    let mut index_times = Vec::with_capacity(queries.len());
    let mut found = 0usize;
    for q in &queries {
        let started = Instant::now();
        let plan = query_plan(q, &places);
        let hits = index.search(&plan, None, true, 20).expect("search");
        index_times.push(started.elapsed());
        found += hits.len();
    }
    let mut like_times = Vec::with_capacity(like_queries);
    let mut like_found = 0usize;
    for q in queries.iter().take(like_queries) {
        let words: Vec<&str> = q.split_whitespace().collect();
        let filter = words
            .iter()
            .map(|_| "text LIKE ?")
            .collect::<Vec<_>>()
            .join(" AND ");
        let sql = format!("SELECT case_id FROM cases WHERE {filter} ORDER BY id DESC LIMIT 20");
        let started = Instant::now();
        let mut query = sqlx::query_as::<_, (String,)>(&sql);
        for w in &words {
            query = query.bind(format!("%{w}%"));
        }
        let rows = query.fetch_all(&pool).await.expect("like");
        like_times.push(started.elapsed());
        like_found += rows.len();
    }
    let (index_median, index_p95) = p95(index_times);
    let (like_median, like_p95) = p95(like_times);
    println!(
        "{:>8} {:>9} {:>12} {:>9} {:>8}",
        "", "queries", "median ms", "p95 ms", "found"
    );
    println!(
        "{:>8} {:>9} {:>12.3} {:>9.3} {:>8}",
        "index",
        queries.len(),
        index_median,
        index_p95,
        found
    );
    println!(
        "{:>8} {:>9} {:>12.3} {:>9.3} {:>8}",
        "LIKE", like_queries, like_median, like_p95, like_found
    );
    println!(
        "p95: index {index_p95:.3} ms (target < 20 ms); LIKE / index = {:.0}×; peak {:.0} MiB",
        like_p95 / index_p95.max(1e-6),
        peak_mib()
    );
}
