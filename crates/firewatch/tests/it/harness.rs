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
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("FIREWATCH_LOG", "warn")
            .envs(backend_env(data))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
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
