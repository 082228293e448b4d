//! What every integration test shares: one builder for a test application on its own database
//! (a temporary SQLite file, or a PostgreSQL schema of its own), and one request helper that
//! sends a request through the real router in process and reads the answer.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use civicgrid::App;
use civicgrid::clock::{Clock, FixedClock};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use civicgrid::cli::{Cli, run};
use civicgrid::error::AppError;
use clap::Parser;

/// The instant the tests' fixed clock shows unless a test sets another.
pub const NOW: &str = "2026-03-03T01:00:00Z";

/// Which database a test application runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestAppBuilder {
    backend: Backend,
    clock: Option<Arc<dyn Clock>>,
    demo_seed: Option<u64>,
    sealed: bool,
}

/// A test application and the database it owns; the database goes with it.
pub struct TestApp {
    pub app: App,
    /// The database URL, for a second instance or the command line.
    pub url: String,
    _dir: tempfile::TempDir,
    pg: Option<PgSchema>,
    /// The router, built once: building it (every route, the OpenAPI document) costs more
    /// than most requests. Rebuilt when a test has swapped a part of `app` since.
    router: std::sync::Mutex<Option<(String, axum::Router)>>,
}

impl TestAppBuilder {
    pub fn on(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }
    /// A fixed clock at `at` (RFC 3339).
    pub fn at(mut self, at: &str) -> Self {
        self.clock = Some(Arc::new(FixedClock(
            at.parse().expect("an RFC 3339 instant"),
        )));
        self
    }
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    /// The seeded demo territory with its staff (every password `civicgrid-demo`).
    pub fn demo(mut self, seed: u64) -> Self {
        self.demo_seed = Some(seed);
        self
    }
    /// A data key, so that reporters' contacts can be sealed and opened.
    pub fn sealed(mut self) -> Self {
        self.sealed = true;
        self
    }

    /// None only where the PostgreSQL half may be skipped (never in CI).
    pub async fn try_build(self) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (repo, url, pg): (
            Arc<dyn civicgrid_store::Repository>,
            String,
            Option<PgSchema>,
        ) = match self.backend {
            Backend::Sqlite => {
                let url = format!("sqlite:{}", dir.path().join("test.db").display());
                let repo = civicgrid_store::connect(&url).await.expect("sqlite opens");
                (repo, url, None)
            }
            Backend::Postgres => {
                let schema = PgSchema::new("app").await?;
                (schema.repo.clone(), schema.url.clone(), Some(schema))
            }
        };
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(FixedClock(NOW.parse().expect("t"))));
        let mut app = App::new(repo, clock);
        if self.sealed {
            app.sealer = Some(Arc::new(
                civicgrid::cases::seal::Sealer::from_hex(
                    &civicgrid::cases::seal::Sealer::generate_hex(),
                )
                .expect("key"),
            ));
        }
        if let Some(seed) = self.demo_seed {
            app.load_demo(seed).await.expect("demo territory");
        }
        Some(TestApp {
            app,
            url,
            _dir: dir,
            pg,
            router: std::sync::Mutex::new(None),
        })
    }

    pub async fn build(self) -> TestApp {
        assert_eq!(
            self.backend,
            Backend::Sqlite,
            "use try_build for PostgreSQL"
        );
        self.try_build().await.expect("sqlite")
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            backend: Backend::Sqlite,
            clock: None,
            demo_seed: None,
            sealed: false,
        }
    }

    /// A second instance on the same database (its own caches, as another process has).
    pub async fn another_instance(&self) -> App {
        let repo = civicgrid_store::connect(&self.url).await.expect("store");
        App::new(repo, self.app.clock.clone())
    }

    /// Drops the PostgreSQL schema (a SQLite file goes with the temporary directory).
    pub async fn finish(self) {
        if let Some(pg) = &self.pg {
            pg.drop_schema().await;
        }
    }

    pub fn request(&self, method: &str, uri: &str) -> Call {
        let parts = app_parts(&self.app);
        let mut cached = self.router.lock().expect("router cache");
        let router = match cached.as_ref() {
            Some((built_for, router)) if *built_for == parts => router.clone(),
            _ => {
                let router = civicgrid::http::router(self.app.clone());
                *cached = Some((parts, router.clone()));
                router
            }
        };
        Call::routed(router, method, uri)
    }
    pub fn get(&self, uri: &str) -> Call {
        self.request("GET", uri)
    }
    pub fn post(&self, uri: &str) -> Call {
        self.request("POST", uri)
    }
}

/// Which parts an application is made of (the addresses of what it shares, and its
/// settings), to tell whether a router built for it still serves it.
fn app_parts(app: &App) -> String {
    format!(
        "{:p} {:p} {:p} {:?} {:p} {:p} {:p} {:p} {:p} {:?}",
        Arc::as_ptr(&app.repo),
        Arc::as_ptr(&app.clock),
        Arc::as_ptr(&app.ids),
        app.sealer.as_ref().map(Arc::as_ptr),
        Arc::as_ptr(&app.open311),
        Arc::as_ptr(&app.jobs),
        Arc::as_ptr(&app.kpi_sources),
        Arc::as_ptr(&app.limits),
        Arc::as_ptr(&app.map),
        app.supervision,
    )
}

/// One request through the real router.
pub struct Call {
    router: axum::Router,
    request: axum::http::request::Builder,
    body: Body,
}

impl Call {
    /// A request to a router built for `app` alone (see `TestApp::request` for a shared one).
    pub fn new(app: App, method: &str, uri: &str) -> Call {
        Call::routed(civicgrid::http::router(app), method, uri)
    }
    /// A request to a router already built, as a server serves many requests with one.
    pub fn routed(router: axum::Router, method: &str, uri: &str) -> Call {
        Call {
            router,
            request: Request::builder().method(method).uri(uri),
            body: Body::empty(),
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Call {
        self.request = self.request.header(name, value);
        self
    }
    /// `Authorization: Bearer KEY` (an API key or a session token).
    pub fn bearer(self, key: &str) -> Call {
        self.header("authorization", &format!("Bearer {key}"))
    }
    pub fn cookie(self, cookie: &str) -> Call {
        self.header("cookie", cookie)
    }
    /// The client address a reverse proxy on this host reports.
    pub fn client_addr(self, addr: &str) -> Call {
        self.header("x-forwarded-for", addr)
    }
    pub fn json(mut self, body: &Value) -> Call {
        self.request = self
            .request
            .header(header::CONTENT_TYPE, "application/json");
        self.body = Body::from(body.to_string());
        self
    }
    pub fn form(mut self, body: &str) -> Call {
        self.request = self
            .request
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        self.body = Body::from(body.to_owned());
        self
    }
    /// A multipart form of text fields, as a browser sends a form with a file input.
    pub fn multipart(mut self, fields: &[(&str, &str)]) -> Call {
        let boundary = "----civicgridtestboundary";
        let mut body = String::new();
        for (name, value) in fields {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}--\r\n"));
        self.request = self.request.header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        );
        self.body = Body::from(body);
        self
    }
    pub fn bytes(mut self, content_type: &str, body: Vec<u8>) -> Call {
        self.request = self.request.header(header::CONTENT_TYPE, content_type);
        self.body = Body::from(body);
        self
    }

    pub async fn send(self) -> Answer {
        let req = self.request.body(self.body).expect("request");
        let res = self.router.oneshot(req).await.expect("response");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}: {}", self.status, self.text()))
    }
    /// The answer is an RFC 9457 problem with this status; returns its body.
    pub fn problem(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let v = self.json();
        assert_eq!(v["status"], status.as_u16(), "{v}");
        v
    }
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
}

/// A PostgreSQL schema of one test's own (`t_PREFIX_xxxxxxxx`) at `CIVICGRID_TEST_POSTGRES`:
/// its repository and a database URL that names it. None only where PostgreSQL may be skipped
/// (`CIVICGRID_SKIP_POSTGRES=1`, never with `CI=true`); otherwise unreachable is a failure.
pub struct PgSchema {
    pub repo: std::sync::Arc<civicgrid_store::postgres::PgRepository>,
    pub url: String,
    pub name: String,
}

impl PgSchema {
    pub async fn new(prefix: &str) -> Option<PgSchema> {
        let base = std::env::var("CIVICGRID_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let id = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("t_{prefix}_{}", &id[id.len() - 8..]);
        match civicgrid_store::postgres::PgRepository::connect_in_schema(&base, &name).await {
            Ok(repo) => {
                let sep = if base.contains('?') { '&' } else { '?' };
                Some(PgSchema {
                    repo: std::sync::Arc::new(repo),
                    url: format!("{base}{sep}options=-c%20search_path%3D{name}"),
                    name,
                })
            }
            Err(e) => {
                let may_skip = std::env::var("CIVICGRID_SKIP_POSTGRES").is_ok_and(|v| v == "1")
                    && !std::env::var("CI").is_ok_and(|v| v == "true");
                assert!(may_skip, "PostgreSQL at {base} is unreachable: {e}");
                eprintln!("SKIPPING a PostgreSQL test ({prefix}): {e}");
                None
            }
        }
    }

    pub async fn drop_schema(&self) {
        self.repo
            .drop_schema(&self.name)
            .await
            .expect("drop schema");
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: String,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = format!("sqlite:{}", dir.path().join("t.db").display());
        Env { dir, db }
    }

    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).expect("write");
        p
    }

    pub async fn run_with_input(
        &self,
        args: &[&str],
        input: &str,
    ) -> Result<(i32, String), AppError> {
        let (code, out) = run_cli(&self.db, args, input).await?;
        Ok((code, String::from_utf8(out).expect("utf-8 output")))
    }

    pub async fn run(&self, args: &[&str]) -> Result<String, AppError> {
        let (code, out) = self.run_with_input(args, "").await?;
        assert_eq!(code, 0, "{args:?} exited {code}: {out}");
        Ok(out)
    }

    pub async fn ok(&self, args: &[&str]) -> String {
        match self.run(args).await {
            Ok(out) => out,
            Err(e) => panic!("{args:?} failed: {e}"),
        }
    }

    pub async fn err(&self, args: &[&str]) -> String {
        match self.run_with_input(args, "").await {
            Ok((code, out)) => panic!("{args:?} should fail but exited {code}: {out}"),
            Err(e) => e.to_string(),
        }
    }

    /// Everything stored, to prove a failed command changed nothing.
    pub async fn snapshot(&self) -> String {
        let mut s = String::new();
        for what in ["grids", "regions", "units", "responsibility"] {
            s.push_str(&self.ok(&["export", what]).await);
        }
        s.push_str(&self.ok(&["export", "catalogue", "--format", "csv"]).await);
        s.push_str(&self.ok(&["user", "list"]).await);
        s
    }

    pub async fn with_regions(&self) -> &Self {
        let regions = self.file(
            "regions.csv",
            "code,name\n440305,南山区\n440305001,南头街道\n440305001001,安乐社区\n440305001002,同乐社区\n",
        );
        self.ok(&["import", "regions", path(&regions)]).await;
        self
    }
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn square(x: f64, y: f64, d: f64) -> String {
    format!(
        "[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]",
        x + d,
        x + d,
        y + d,
        y + d
    )
}

pub fn feature(props: &str, geometry_type: &str, coordinates: &str) -> String {
    format!(
        r#"{{"type":"Feature","properties":{{{props}}},"geometry":{{"type":"{geometry_type}","coordinates":{coordinates}}}}}"#
    )
}

pub fn collection(features: &[String]) -> String {
    format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    )
}

pub async fn everything(e: &Env) -> String {
    let mut s = e.ok(&["export", "grids"]).await;
    s.push_str(&e.ok(&["export", "regions"]).await);
    s.push_str(&e.ok(&["export", "units"]).await);
    s.push_str(&e.ok(&["export", "responsibility"]).await);
    s
}

/// Runs the command line in process against `db`, with `input` on standard input: the exit
/// status and what it wrote.
pub async fn run_cli(db: &str, args: &[&str], input: &str) -> Result<(i32, Vec<u8>), AppError> {
    let mut argv = vec!["civicgrid", "--database", db];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(&argv).map_err(|e| AppError::Invalid(e.to_string()))?;
    let mut out = Vec::new();
    let code = run(cli, &mut input.as_bytes(), &mut out).await?;
    Ok((code, out))
}

/// A staff account as the services see it.
pub async fn staff(app: &App, username: &str) -> civicgrid::cases::Actor {
    let user = app
        .repo
        .user(username)
        .await
        .expect("read")
        .unwrap_or_else(|| panic!("no account {username}"));
    civicgrid::cases::Actor::Staff {
        username: user.username,
        grants: user.grants,
    }
}

/// Where the residents' messages are when ../shared is beside the checkout.
pub fn messages_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/teddy2020")
}

/// The demo's case texts: the residents' messages when they are there, else the shipped ones.
pub fn case_texts() -> civicgrid::demo::cases::CaseTexts {
    civicgrid::demo::cases::CaseTexts::from_dir_or_shipped(&messages_dir())
}

/// Every row of every table as text (`table`, row), to search the database for what must
/// not be there in plain text.
pub async fn every_row(t: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if t.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&t.url).await.expect("sqlite");
        let tables: Vec<(String,)> =
            sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&pool)
                .await
                .expect("tables");
        for (table,) in tables {
            let columns: Vec<(String,)> =
                sqlx::query_as(&format!("SELECT name FROM pragma_table_info('{table}')"))
                    .fetch_all(&pool)
                    .await
                    .expect("columns");
            if columns.is_empty() {
                continue;
            }
            let row = columns
                .iter()
                .map(|(c,)| format!("COALESCE(CASE WHEN typeof(\"{c}\") = 'blob' THEN hex(\"{c}\") ELSE CAST(\"{c}\" AS TEXT) END, '')"))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT {row} FROM \"{table}\""))
                .fetch_all(&pool)
                .await
                .expect("rows");
            out.extend(rows.into_iter().map(|(r,)| (table.clone(), r)));
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&t.url).await.expect("postgres");
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&pool)
        .await
        .expect("tables");
        for (table,) in tables {
            let rows: Vec<(String,)> =
                sqlx::query_as(&format!("SELECT row_to_json(x)::text FROM \"{table}\" x"))
                    .fetch_all(&pool)
                    .await
                    .expect("rows");
            out.extend(rows.into_iter().map(|(r,)| (table.clone(), r)));
        }
        pool.close().await;
    }
    out
}

/// Runs one SQL statement directly on the test database (to try what the application
/// never does, such as rewriting history); the database's refusal as text.
pub async fn raw_execute(t: &TestApp, sql: &str) -> Result<u64, String> {
    if t.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&t.url).await.expect("sqlite");
        let r = sqlx::query(sql).execute(&pool).await;
        pool.close().await;
        r.map(|d| d.rows_affected()).map_err(|e| e.to_string())
    } else {
        let pool = sqlx::PgPool::connect(&t.url).await.expect("postgres");
        let r = sqlx::query(sql).execute(&pool).await;
        pool.close().await;
        r.map(|d| d.rows_affected()).map_err(|e| e.to_string())
    }
}

/// A listener that speaks TLS with a certificate for `localhost` signed by a certificate
/// authority made for the test: a real https peer (webhook receiver, SMS gateway) that the
/// platform trusts only when given the CA (`Outbound::trusting`).
pub struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that does not trust the CA fails the handshake; wait for the next.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Serves `router` over https on a free port: its base URL (`https://localhost:PORT`) and
/// the PEM of the CA that signed its certificate.
pub async fn serve_tls(router: axum::Router) -> (String, Vec<u8>) {
    use tokio_rustls::rustls;
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "civicgrid test CA");
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("certificate");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        civicgrid::outbound::ring_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .expect("server config");
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = tcp.local_addr().expect("addr").port();
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
    };
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("https://localhost:{port}"), ca.pem().into_bytes())
}
