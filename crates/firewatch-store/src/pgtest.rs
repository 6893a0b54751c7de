//! A throwaway PostgreSQL cluster for tests (issue 8), shared by the store's conformance
//! suite and the binary's end-to-end tests.
//!
//! [`cluster`] starts one cluster per test process on first use: `initdb` and `pg_ctl` in a
//! temporary directory, listening on 127.0.0.1 on a free port with its socket in that
//! directory (trust authentication, C locale, `fsync` on). Each test then takes its own
//! database with [`PgCluster::fresh_database`]. The cluster stops when the [`PgCluster`] is
//! dropped or, for the shared one, when the test process exits: a small watchdog started
//! with the cluster waits for the process to end, then stops the server and removes the
//! directory, so a panicking or killed test leaves nothing behind.
//!
//! Binaries: `FIREWATCH_PG_BIN` (a directory), else the newest `/usr/lib/postgresql/*/bin`,
//! else `PATH`. `initdb` and `postgres` refuse to run as root: when the tests run as root the
//! cluster runs as the `postgres` OS user (through `runuser`). `FIREWATCH_TEST_DATABASE_URL`
//! (a superuser URL of an existing server) skips starting a cluster.
//!
//! When no binaries are found, [`cluster`] returns `None` after writing a loud
//! "PostgreSQL suites NOT RUN" line straight to stderr (past the test harness's capture);
//! with `FIREWATCH_REQUIRE_PG=1` it panics instead, so CI cannot pass without them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A running test cluster (or an external server from `FIREWATCH_TEST_DATABASE_URL`).
#[derive(Debug)]
pub struct PgCluster {
    /// The superuser URL without a database name.
    base: String,
    /// `Some` when this process started the cluster (and stops it on drop).
    owned: Option<Owned>,
}

#[derive(Debug)]
struct Owned {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    port: u16,
    /// The server options `pg_ctl start` passes with `-o` (kept for [`PgCluster::restart`]).
    opts: String,
}

static SHARED: OnceLock<Option<PgCluster>> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// The process's shared cluster, started on first use; `None` (after a loud message) when
/// PostgreSQL is not installed and `FIREWATCH_REQUIRE_PG` is not `1`.
pub fn cluster() -> Option<&'static PgCluster> {
    SHARED
        .get_or_init(|| match PgCluster::start_shared() {
            Ok(c) => Some(c),
            Err(why) => {
                let required = std::env::var("FIREWATCH_REQUIRE_PG").is_ok_and(|v| v == "1");
                if required {
                    panic!("FIREWATCH_REQUIRE_PG=1 but the PostgreSQL suites cannot run: {why}");
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "\n!!!!!!!! PostgreSQL suites NOT RUN: {why} (install postgresql, or set FIREWATCH_PG_BIN; FIREWATCH_REQUIRE_PG=1 makes this an error) !!!!!!!!\n"
                );
                None
            }
        })
        .as_ref()
}

/// Where `initdb`, `pg_ctl` and `postgres` are.
pub fn find_binaries() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("FIREWATCH_PG_BIN") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").exists() {
            Ok(dir)
        } else {
            Err(format!("FIREWATCH_PG_BIN={} has no initdb", dir.display()))
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
            return Ok(dir);
        }
    }
    Err("no initdb/pg_ctl in /usr/lib/postgresql/*/bin or PATH".into())
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl Owned {
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// `pg_ctl start`, waiting until the server accepts connections.
    fn start_server(&self) -> Result<(), String> {
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-o", &self.opts, "-l"])
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null());
        run(start, "pg_ctl start").map_err(|e| {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            format!("{e}\n{log}")
        })
    }

    fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["stop", "-m", "immediate", "-w"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

impl PgCluster {
    /// Starts a new cluster owned by the caller (stopped on drop).
    pub fn start() -> Result<PgCluster, String> {
        let bin = find_binaries()?;
        let as_postgres = running_as_root();
        let dir = std::env::temp_dir().join(format!(
            "firewatch-pg-{}-{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port()?;
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=300 -c shared_buffers=64MB",
            dir.display()
        );
        let owned = Owned {
            dir: dir.clone(),
            bin,
            as_postgres,
            port,
            opts,
        };
        if as_postgres {
            run(
                {
                    let mut c = Command::new("chown");
                    c.args(["-R", "postgres:postgres"]).arg(&dir);
                    c
                },
                "chown the cluster directory to postgres",
            )?;
        }
        let data = dir.join("data");
        let mut initdb = owned.command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--no-locale",
            "-E",
            "UTF8",
        ]);
        if let Err(e) = run(initdb, "initdb") {
            owned.stop();
            return Err(e);
        }
        if let Err(e) = owned.start_server() {
            owned.stop();
            return Err(e);
        }
        Ok(PgCluster {
            base: format!("postgres://postgres@127.0.0.1:{port}"),
            owned: Some(owned),
        })
    }

    fn start_shared() -> Result<PgCluster, String> {
        if let Ok(url) = std::env::var("FIREWATCH_TEST_DATABASE_URL") {
            let base = match url.rfind('/') {
                Some(i) if i > url.find("://").map(|j| j + 2).unwrap_or(0) => url[..i].to_string(),
                _ => url,
            };
            return Ok(PgCluster { base, owned: None });
        }
        let c = PgCluster::start()?;
        if let Some(o) = &c.owned {
            // Stops the shared cluster when this process ends (statics are never dropped).
            let pg_ctl = o.bin.join("pg_ctl");
            let stop = format!(
                "{}{} -D {} stop -m immediate -w >/dev/null 2>&1",
                if o.as_postgres {
                    "runuser -u postgres -- "
                } else {
                    ""
                },
                pg_ctl.display(),
                o.dir.join("data").display()
            );
            let script = format!(
                "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop}; rm -rf {dir}",
                pid = std::process::id(),
                dir = o.dir.display()
            );
            Command::new("sh")
                .args(["-c", &script])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start the cluster watchdog: {e}"))?;
        }
        Ok(c)
    }

    /// Restarts the server the way an operator would (fault tests): `pg_ctl stop -m fast`
    /// (open sessions are terminated, the server shuts down cleanly), `down` with no
    /// server listening, then `pg_ctl start` with the same options, waiting until it
    /// accepts connections again. Data, port and socket directory are kept. Only for a
    /// cluster started with [`PgCluster::start`]: never restart the shared [`cluster`],
    /// other tests use it at the same time.
    pub fn restart(&self, down: std::time::Duration) -> Result<(), String> {
        let o = self
            .owned
            .as_ref()
            .ok_or("an external server (FIREWATCH_TEST_DATABASE_URL) cannot be restarted")?;
        let mut stop = o.command("pg_ctl");
        stop.arg("-D")
            .arg(o.dir.join("data"))
            .args(["stop", "-m", "fast", "-w", "-t", "60"])
            .stdout(Stdio::null());
        run(stop, "pg_ctl stop")?;
        std::thread::sleep(down);
        o.start_server()
    }

    /// The superuser URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("{}/{db}", self.base)
    }

    /// The server's port (0 for an external server).
    pub fn port(&self) -> u16 {
        self.owned.as_ref().map(|o| o.port).unwrap_or(0)
    }

    /// The cluster directory (its `log` file has the server's log), when started here.
    pub fn dir(&self) -> Option<&Path> {
        self.owned.as_ref().map(|o| o.dir.as_path())
    }

    /// Creates an empty database and returns its URL.
    pub async fn fresh_database(&self) -> String {
        use sqlx::Connection;
        let name = format!(
            "fw_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test cluster: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        self.url(&name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Some(o) = &self.owned {
            o.stop();
        }
    }
}
