//! Starting and stopping the real binary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_firewatch");

pub struct Server {
    child: Child,
    pub base: String,
    pub data: PathBuf,
}

impl Server {
    /// Starts `firewatch serve` on 127.0.0.1:0 and waits until it prints its address.
    pub fn start(data: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_with_stderr(data, env, Stdio::inherit())
    }

    /// `start`, with the server's stderr (its log) going to `stderr`.
    pub fn start_with_stderr(data: &Path, env: &[(&str, &str)], stderr: Stdio) -> Server {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("FIREWATCH_LOG", "warn")
            .envs(backend_env(data))
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start firewatch");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(Ok(line)) = lines.next() {
                if let Some(addr) = line.strip_prefix("firewatch listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("firewatch did not report its address within 30 s");
        Server {
            child,
            base,
            data: data.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a CLI command against a data directory.
pub fn cli(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data")
        .arg(data)
        .env("FIREWATCH_LOG", "warn")
        .envs(backend_env(data))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run firewatch");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("wait firewatch")
}

/// Adds a user with a role and returns a fresh bearer token for them.
pub fn user_with_token(data: &Path, name: &str, role: &str) -> String {
    let out = cli(data, &["user", "add", name, "--role", role], None);
    assert!(
        out.status.success(),
        "user add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(data, &["token", "create", name], None);
    assert!(
        out.status.success(),
        "token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn client() -> reqwest::Client {
    // reqwest is built with rustls without a default provider (the binary installs ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Counts rows in the installation's database directly (the server may be stopped or
/// running): the SQLite file, or the PostgreSQL database of a `use_backend` directory.
pub async fn sql_count(data: &Path, sql: &'static str) -> i64 {
    use sqlx::{Connection, Row};
    if let Some(url) = database_url(data) {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        return sqlx::query(sql).fetch_one(&mut c).await.unwrap().get(0);
    }
    let url = format!(
        "sqlite://{}?mode=ro",
        data.join("firewatch.sqlite").display()
    );
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(sql).fetch_one(&mut c).await.unwrap().get(0)
}

// ------------------------------------------------------------------ backends (issue 8)

/// Which store an end-to-end test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Marks a data directory as a PostgreSQL installation: the file holds the database URL
/// that `Server::start` and `cli` pass as FIREWATCH_DATABASE_URL.
const PG_MARKER: &str = ".test-database-url";

/// Prepares `data` for `backend`: for PostgreSQL, a fresh database in the shared test
/// cluster (`firewatch_store::pgtest`). `false` when PostgreSQL is not installed (announced
/// loudly; an error under FIREWATCH_REQUIRE_PG=1): the caller returns.
pub async fn use_backend(backend: Backend, data: &Path) -> bool {
    match backend {
        Backend::Sqlite => true,
        Backend::Postgres => {
            let Some(cluster) = firewatch_store::pgtest::cluster() else {
                return false;
            };
            set_database_url(data, &cluster.fresh_database().await);
            true
        }
    }
}

/// Makes `data` an installation on the PostgreSQL database at `url` (a second node).
pub fn set_database_url(data: &Path, url: &str) {
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(data.join(PG_MARKER), url).unwrap();
}

/// The PostgreSQL URL of a `use_backend(Postgres)` data directory.
pub fn database_url(data: &Path) -> Option<String> {
    std::fs::read_to_string(data.join(PG_MARKER)).ok()
}

fn backend_env(data: &Path) -> Vec<(&'static str, String)> {
    database_url(data)
        .map(|u| vec![("FIREWATCH_DATABASE_URL", u)])
        .unwrap_or_default()
}

/// Runs statements on the installation's database behind the server's back (tampering).
pub async fn sql_exec(data: &Path, sql: &'static str) {
    use sqlx::Connection;
    match database_url(data) {
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
        None => {
            let url = format!("sqlite://{}", data.join("firewatch.sqlite").display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
        }
    }
}

/// Runs an end-to-end test on SQLite and on PostgreSQL: `on_both!(name)` above
/// `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! on_both {
    (multi_thread $name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::harness::Backend::Postgres).await
            }
        }
    };
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::harness::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::harness::Backend::Postgres).await
            }
        }
    };
}

// ------------------------------------------------------------------ HTTP helpers

/// GETs `url` with a bearer token and decodes the JSON answer, whatever its status.
pub async fn get_json(http: &reqwest::Client, url: &str, token: &str) -> serde_json::Value {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POSTs `body` as JSON to `url` with a bearer token.
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    http.post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// POSTs a report to the public intake, anonymously; the receipt.
pub async fn public_report(
    http: &reqwest::Client,
    server: &Server,
    body: &serde_json::Value,
) -> serde_json::Value {
    http.post(server.url("/api/v1/reports"))
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A page's HTML, fetched with a session cookie (`fw_session=...`), whatever its status.
pub async fn page_with_cookie(http: &reqwest::Client, url: &str, cookie: &str) -> String {
    http.get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The JSON API of a running server, by path: the answer's status and its JSON (or its text
/// as a JSON string when it is not JSON).
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(server: &Server) -> Api {
        Api {
            http: client(),
            base: server.base.clone(),
        }
    }

    /// `token` empty: an anonymous call (no Authorization header).
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let url = format!("{}{}", self.base, path);
        let mut req = match method {
            "GET" => self.http.get(&url),
            "PUT" => self.http.put(&url),
            "PATCH" => self.http.patch(&url),
            "POST" => self.http.post(&url),
            other => panic!("Api::send: no {other}"),
        };
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// `send`, asserting a 2xx answer.
    pub async fn ok(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let (s, v) = self.send(method, path, token, body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }

    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.send("POST", path, token, Some(body)).await
    }

    pub async fn put(
        &self,
        path: &str,
        token: &str,
        body: serde_json::Value,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.send("PUT", path, token, Some(body)).await
    }

    /// GET, whatever the answer.
    pub async fn get_any(
        &self,
        path: &str,
        token: &str,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        self.send("GET", path, token, None).await
    }

    /// GET, asserting 200.
    pub async fn get(&self, path: &str, token: &str) -> serde_json::Value {
        let (s, v) = self.send("GET", path, token, None).await;
        assert_eq!(s, reqwest::StatusCode::OK, "GET {path}: {v}");
        v
    }

    /// The raw answer to a GET (for headers and non-JSON bodies).
    pub async fn text(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }
}

// ------------------------------------------------------------------ photos and multipart intake

/// A small PNG of `w` x `h` pixels (a gradient).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A photo part of a multipart intake body.
pub fn photo_part(bytes: Vec<u8>, file_name: &str, mime: &str) -> reqwest::multipart::Part {
    reqwest::multipart::Part::bytes(bytes)
        .file_name(file_name.to_string())
        .mime_str(mime)
        .unwrap()
}

/// A multipart intake body: the `report` JSON part, then one `photos` part per photo.
pub fn intake_form(
    report: &serde_json::Value,
    photos: Vec<reqwest::multipart::Part>,
) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::text(report.to_string())
        .mime_str("application/json")
        .unwrap();
    photos.into_iter().fold(
        reqwest::multipart::Form::new().part("report", part),
        |form, p| form.part("photos", p),
    )
}

/// POSTs a multipart body to `url`, anonymously (as the public intake does).
pub async fn post_multipart(
    http: &reqwest::Client,
    url: &str,
    form: reqwest::multipart::Form,
) -> reqwest::Response {
    http.post(url).multipart(form).send().await.unwrap()
}

// ------------------------------------------------------------------ installations

/// A temporary directory with an empty `data` directory in it (the installation), for
/// tests that keep other files (configuration, receivers' state) next to it.
pub fn data_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    (dir, data)
}

/// Writes `toml` to `fw.toml` in `dir` and returns its path, for `FIREWATCH_CONFIG`.
pub fn write_config(dir: &Path, toml: &str) -> String {
    let config = dir.join("fw.toml");
    std::fs::write(&config, toml).unwrap();
    config.display().to_string()
}

/// Serves `app` on 127.0.0.1 (a test's webhook receiver, feed, ...) and returns its base URL
/// (`http://127.0.0.1:PORT`).
pub async fn serve_local(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// PUTs a playbook's TOML text under `name` (`/api/v1/playbook?name=...`).
pub async fn put_playbook(
    http: &reqwest::Client,
    server: &Server,
    token: &str,
    name: &str,
    toml: &str,
) -> reqwest::Response {
    http.put(server.url(&format!("/api/v1/playbook?name={name}")))
        .bearer_auth(token)
        .header("content-type", "application/toml")
        .body(toml.to_string())
        .send()
        .await
        .unwrap()
}
