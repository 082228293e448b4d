//! `civicgrid copy`: a whole deployment from SQLite into PostgreSQL, for a street office that
//! outgrows one file. Every table is copied (in foreign-key order, in batches of rows, each
//! batch in one PostgreSQL transaction with the progress it makes), so a copy that is
//! interrupted resumes where it stopped. Then every table is verified on both sides: the row
//! count and a checksum over the rows (order-independent, as the two databases sort text
//! differently). A target that already holds data is refused unless `replace` is given.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use sqlx::{PgPool, Row, SqlitePool};

use crate::StoreError;
use crate::postgres::PgRepository;
use crate::sqlite::SqliteRepository;

/// Where the copy's progress is kept in the target until it is verified.
const PROGRESS: &str = "civicgrid_copy_progress";

#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Empty a target that already holds data instead of refusing it.
    pub replace: bool,
    /// Rows per transaction.
    pub batch_rows: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            replace: false,
            batch_rows: 1000,
        }
    }
}

/// One table, verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    pub table: String,
    pub rows: u64,
    pub checksum: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// True when an interrupted copy was taken up again.
    pub resumed: bool,
    pub tables: Vec<TableCopy>,
}

/// A column's type as PostgreSQL declares it; it decides how values are read and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Float,
    Text,
    Bytes,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Int(i64),
    Bool(bool),
    Float(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    fn hash_into(&self, h: &mut DefaultHasher) {
        match self {
            Value::Null => 0u8.hash(h),
            Value::Int(i) => (1u8, i).hash(h),
            Value::Bool(b) => (1u8, i64::from(*b)).hash(h),
            Value::Float(f) => (2u8, f.to_bits()).hash(h),
            Value::Text(t) => (3u8, t).hash(h),
            Value::Bytes(b) => (4u8, b).hash(h),
        }
    }
}

struct Table {
    name: String,
    /// (column, kind), in the target's order.
    columns: Vec<(String, Kind)>,
}

fn kind_of(pg_type: &str) -> Option<Kind> {
    match pg_type {
        "bigint" | "integer" | "smallint" => Some(Kind::Int),
        "boolean" => Some(Kind::Bool),
        "double precision" | "real" => Some(Kind::Float),
        "text" | "character varying" => Some(Kind::Text),
        "bytea" => Some(Kind::Bytes),
        _ => None,
    }
}

fn read_value<R: Row>(row: &R, i: usize, kind: Kind) -> Result<Value, StoreError>
where
    usize: sqlx::ColumnIndex<R>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(match kind {
        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map(Value::Int),
        Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
        Kind::Float => row.try_get::<Option<f64>, _>(i)?.map(Value::Float),
        Kind::Text => row.try_get::<Option<String>, _>(i)?.map(Value::Text),
        Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map(Value::Bytes),
    }
    .unwrap_or(Value::Null))
}

/// Copies the deployment at `from` (sqlite:PATH) into `to` (postgres://…) and verifies it.
pub async fn copy(from: &str, to: &str, options: &CopyOptions) -> Result<CopyReport, StoreError> {
    let Some(path) = from.strip_prefix("sqlite:") else {
        return Err(StoreError::BadUrl(format!(
            "{from} (the source must be sqlite:PATH)"
        )));
    };
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(StoreError::BadUrl(format!(
            "{to} (the target must be postgres://…)"
        )));
    }
    let path = path.trim_start_matches("//");
    if !std::path::Path::new(path).is_file() {
        return Err(StoreError::NotFound(format!("database file {path}")));
    }
    // Both sides at the current schema version.
    let source = SqliteRepository::open(path).await?;
    let target = PgRepository::connect(to).await?;
    let (src, dst) = (&source.pool, &target.pool);
    let tables = tables(src, dst).await?;

    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {PROGRESS} (table_name TEXT PRIMARY KEY, last_rowid BIGINT NOT NULL,
           done BOOLEAN NOT NULL, source TEXT NOT NULL)"
    ))
    .execute(dst)
    .await?;
    let progress: Vec<(String, String)> =
        sqlx::query_as(&format!("SELECT table_name, source FROM {PROGRESS}"))
            .fetch_all(dst)
            .await?;
    let resumed = !progress.is_empty();
    if let Some((_, other)) = progress.iter().find(|(_, s)| s != path) {
        return Err(StoreError::Conflict(format!(
            "the target holds an unfinished copy from {other}; finish that one first"
        )));
    }
    if !resumed {
        let mut holding = Vec::new();
        for t in &tables {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {}", t.name))
                .fetch_one(dst)
                .await?;
            if n > 0 {
                holding.push(format!("{} ({n} rows)", t.name));
            }
        }
        if !holding.is_empty() && !options.replace {
            return Err(StoreError::Conflict(format!(
                "the target is not empty: {}; copy over it only with --replace",
                holding.join(", ")
            )));
        }
        let mut tx = dst.begin().await?;
        if !holding.is_empty() {
            let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
            sqlx::query(&format!("TRUNCATE {} CASCADE", names.join(", ")))
                .execute(&mut *tx)
                .await?;
        }
        for t in &tables {
            sqlx::query(&format!(
                "INSERT INTO {PROGRESS} (table_name, last_rowid, done, source) VALUES ($1, 0, FALSE, $2)"
            ))
            .bind(&t.name)
            .bind(path)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
    }

    // The target's own triggers (the KPI queue) must not fire: the source's queue is copied.
    for t in &tables {
        sqlx::query(&format!("ALTER TABLE {} DISABLE TRIGGER USER", t.name))
            .execute(dst)
            .await?;
    }
    let copied = copy_tables(src, dst, &tables, options.batch_rows.max(1)).await;
    for t in &tables {
        sqlx::query(&format!("ALTER TABLE {} ENABLE TRIGGER USER", t.name))
            .execute(dst)
            .await?;
    }
    copied?;
    rebuild_receipts(dst).await?;

    let mut report = Vec::new();
    let mut differ = Vec::new();
    for t in &tables {
        let a = checksum(src, t).await?;
        let b = checksum(dst, t).await?;
        if a != b {
            differ.push(format!(
                "{}: source {} rows / {:016x}, target {} rows / {:016x}",
                t.name, a.0, a.1, b.0, b.1
            ));
        }
        report.push(TableCopy {
            table: t.name.clone(),
            rows: a.0,
            checksum: a.1,
        });
    }
    if !differ.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "the copy differs from its source: {}",
            differ.join("; ")
        )));
    }
    sqlx::query(&format!("DROP TABLE {PROGRESS}"))
        .execute(dst)
        .await?;
    Ok(CopyReport {
        resumed,
        tables: report,
    })
}

/// PostgreSQL keeps receipt codes unique across the partitions of `cases` in `case_receipts`
/// (filled by a trigger, which the copy does not fire; SQLite needs no such table): rebuilt
/// from the copied cases, and checked to hold one row per case.
async fn rebuild_receipts(dst: &PgPool) -> Result<(), StoreError> {
    let mut tx = dst.begin().await?;
    sqlx::query("TRUNCATE case_receipts")
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO case_receipts (receipt_code, case_id, region_code)
         SELECT receipt_code, id, region_code FROM cases",
    )
    .execute(&mut *tx)
    .await?;
    let (receipts, cases): (i64, i64) =
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM case_receipts), (SELECT COUNT(*) FROM cases)")
            .fetch_one(&mut *tx)
            .await?;
    if receipts != cases {
        return Err(StoreError::Corrupt(format!(
            "{receipts} receipt codes for {cases} cases in the target"
        )));
    }
    tx.commit().await?;
    Ok(())
}

/// The source's tables in foreign-key order, with the target's column types; the two
/// schemas must have the same tables and columns.
async fn tables(src: &SqlitePool, dst: &PgPool) -> Result<Vec<Table>, StoreError> {
    let names: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
           AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(src)
    .await?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut columns: BTreeMap<String, Vec<(String, Kind)>> = BTreeMap::new();
    for (name,) in &names {
        let fks = sqlx::query(&format!("PRAGMA foreign_key_list({name})"))
            .fetch_all(src)
            .await?;
        let mut p = BTreeSet::new();
        for fk in fks {
            let parent: String = fk.try_get("table")?;
            if &parent != name {
                p.insert(parent);
            }
        }
        parents.insert(name.clone(), p);
        let source_columns: BTreeSet<String> = sqlx::query(&format!("PRAGMA table_info({name})"))
            .fetch_all(src)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("name"))
            .collect::<Result<_, _>>()?;
        let target: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns
              WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(name)
        .fetch_all(dst)
        .await?;
        let target_columns: BTreeSet<String> = target.iter().map(|(c, _)| c.clone()).collect();
        if target_columns != source_columns {
            return Err(StoreError::Invalid(format!(
                "table {name} differs between the source and the target (columns {source_columns:?} / {target_columns:?})"
            )));
        }
        let mut typed = Vec::new();
        for (c, t) in target {
            let kind = kind_of(&t).ok_or_else(|| {
                StoreError::Invalid(format!("{name}.{c}: no copy rule for type {t}"))
            })?;
            typed.push((c, kind));
        }
        columns.insert(name.clone(), typed);
    }
    // Parents first.
    let mut ordered = Vec::new();
    let mut placed = BTreeSet::new();
    while placed.len() < parents.len() {
        let ready: Vec<String> = parents
            .iter()
            .filter(|(n, p)| !placed.contains(*n) && p.iter().all(|x| placed.contains(x)))
            .map(|(n, _)| n.clone())
            .collect();
        if ready.is_empty() {
            return Err(StoreError::Invalid(
                "the tables' foreign keys form a cycle".into(),
            ));
        }
        for n in ready {
            placed.insert(n.clone());
            let columns = columns.remove(&n).unwrap_or_default();
            ordered.push(Table { name: n, columns });
        }
    }
    Ok(ordered)
}

async fn copy_tables(
    src: &SqlitePool,
    dst: &PgPool,
    tables: &[Table],
    batch_rows: usize,
) -> Result<(), StoreError> {
    for t in tables {
        let (mut last, done): (i64, bool) = sqlx::query_as(&format!(
            "SELECT last_rowid, done FROM {PROGRESS} WHERE table_name = $1"
        ))
        .bind(&t.name)
        .fetch_one(dst)
        .await?;
        if done {
            continue;
        }
        let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
        // PostgreSQL takes at most 65,535 parameters a statement.
        let rows_per_batch = batch_rows.min(65_535 / t.columns.len().max(1)).max(1);
        let select = format!(
            "SELECT rowid, {} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2",
            names.join(", "),
            t.name
        );
        loop {
            let rows = sqlx::query(&select)
                .bind(last)
                .bind(i64::try_from(rows_per_batch).unwrap_or(i64::MAX))
                .fetch_all(src)
                .await?;
            let mut tx = dst.begin().await?;
            let Some(end) = rows.last() else {
                sqlx::query(&format!(
                    "UPDATE {PROGRESS} SET done = TRUE WHERE table_name = $1"
                ))
                .bind(&t.name)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                break;
            };
            let end: i64 = end.try_get(0)?;
            let mut sql = format!("INSERT INTO {} ({}) VALUES ", t.name, names.join(", "));
            let mut n = 0;
            for (r, _) in rows.iter().enumerate() {
                if r > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..t.columns.len() {
                    if c > 0 {
                        sql.push(',');
                    }
                    n += 1;
                    sql.push_str(&format!("${n}"));
                }
                sql.push(')');
            }
            let mut q = sqlx::query(&sql);
            for row in &rows {
                for (c, (_, kind)) in t.columns.iter().enumerate() {
                    let v = read_value(row, c + 1, *kind)?;
                    q = match (kind, v) {
                        (Kind::Int, Value::Int(i)) => q.bind(Some(i)),
                        (Kind::Int, _) => q.bind(None::<i64>),
                        (Kind::Bool, Value::Bool(b)) => q.bind(Some(b)),
                        (Kind::Bool, _) => q.bind(None::<bool>),
                        (Kind::Float, Value::Float(f)) => q.bind(Some(f)),
                        (Kind::Float, _) => q.bind(None::<f64>),
                        (Kind::Text, Value::Text(s)) => q.bind(Some(s)),
                        (Kind::Text, _) => q.bind(None::<String>),
                        (Kind::Bytes, Value::Bytes(b)) => q.bind(Some(b)),
                        (Kind::Bytes, _) => q.bind(None::<Vec<u8>>),
                    };
                }
            }
            q.execute(&mut *tx).await?;
            sqlx::query(&format!(
                "UPDATE {PROGRESS} SET last_rowid = $2 WHERE table_name = $1"
            ))
            .bind(&t.name)
            .bind(end)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            last = end;
        }
    }
    Ok(())
}

/// (rows, checksum): the wrapping sum of every row's hash, so that the order rows come in
/// does not matter.
async fn checksum<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    t: &Table,
) -> Result<(u64, u64), StoreError>
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
    for<'r> Option<i64>: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Option<bool>: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Option<f64>: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Option<String>: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
{
    use futures_util::TryStreamExt;
    let names: Vec<&str> = t.columns.iter().map(|(c, _)| c.as_str()).collect();
    let sql = format!("SELECT {} FROM {}", names.join(", "), t.name);
    // Streamed: a table of millions of rows is never held in memory.
    let mut rows = sqlx::query(&sql).fetch(pool);
    let (mut count, mut sum) = (0u64, 0u64);
    while let Some(row) = rows.try_next().await? {
        let row = &row;
        let mut h = DefaultHasher::new();
        for (c, (_, kind)) in t.columns.iter().enumerate() {
            read_value(row, c, *kind)?.hash_into(&mut h);
        }
        sum = sum.wrapping_add(h.finish());
        count += 1;
    }
    Ok((count, sum))
}
