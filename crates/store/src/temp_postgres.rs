//! A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` into a temporary
//! directory and `pg_ctl start` on a free loopback port (as the `postgres` user when run
//! as root, since `initdb` refuses root), stopped and removed on drop.
//! Needs Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::StoreError;

/// A running throwaway cluster.
pub struct TempPostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

fn run(cmd: &mut Command) -> Result<(), StoreError> {
    let out = cmd
        .output()
        .map_err(|e| StoreError::Database(format!("cannot run {cmd:?}: {e}")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(StoreError::Database(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// The directory holding `initdb` and `pg_ctl`: `TEND_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Result<PathBuf, StoreError> {
    if let Ok(p) = std::env::var("TEND_PG_BIN") {
        return Ok(PathBuf::from(p));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| StoreError::Database("PostgreSQL is not installed (no /usr/lib/postgresql): install the postgresql package".into()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| StoreError::Database("no initdb under /usr/lib/postgresql".into()))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl TempPostgres {
    /// Create and start a cluster.
    pub fn start() -> Result<TempPostgres, StoreError> {
        let bin = bin_dir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| StoreError::Database(format!("no free port: {e}")))?;
        let dir = std::env::temp_dir().join(format!("tend-pg-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data"))
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir))?;
        }
        let pg = TempPostgres {
            dir,
            bin,
            port,
            as_postgres,
        };
        pg.cmd("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale",
                "C",
                "-D",
            ])
            .arg(pg.dir.join("data"))
            .output()
            .map_err(|e| StoreError::Database(e.to_string()))
            .and_then(|o| {
                if o.status.success() {
                    Ok(())
                } else {
                    Err(StoreError::Database(format!(
                        "initdb failed: {}",
                        String::from_utf8_lossy(&o.stderr)
                    )))
                }
            })?;
        let opts = format!(
            "-k {} -p {port} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB",
            pg.dir.display()
        );
        run(pg
            .cmd("pg_ctl")
            .arg("-D")
            .arg(pg.dir.join("data"))
            .args(["-o", &opts, "-l"])
            .arg(pg.dir.join("log"))
            .args(["-w", "-t", "60", "start"]))?;
        Ok(pg)
    }

    fn cmd(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    /// The URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The URL of database `name` in this cluster.
    pub fn url_for(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// Create a fresh database and return its URL.
    pub fn create_database(&self, name: &str) -> Result<String, StoreError> {
        let mut c = postgres::Client::connect(&self.url(), postgres::NoTls)?;
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok(self.url_for(name))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
