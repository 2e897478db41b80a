//! PostgreSQL for the tests: SQL on the machine's shared cluster (127.0.0.1:5432, trust auth)
//! through `psql`, throwaway databases and roles with unique names, and short-lived clusters of
//! our own (initdb and pg_ctl as the `postgres` OS user, since PostgreSQL refuses root) on free
//! loopback ports with chosen settings.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const BIN: &str = "/usr/lib/postgresql/15/bin";
pub const SHARED_PORT: u16 = 5432;

/// Runs `sql` with psql as the superuser `postgres` and returns the unaligned output.
pub fn psql(port: u16, database: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
        .args(["-p", &port.to_string(), "-d", database, "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql is installed");
    assert!(output.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A name unique to this process and call, for databases and roles on the shared cluster.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst))
}

/// A database and the roles made for it on a cluster, dropped at the end of the test.
pub struct TestDatabase {
    pub port: u16,
    pub name: String,
    pub roles: Vec<String>,
}

impl TestDatabase {
    pub fn create(port: u16, prefix: &str) -> TestDatabase {
        let name = unique(prefix);
        psql(port, "postgres", &format!("CREATE DATABASE {name}"));
        TestDatabase { port, name, roles: Vec::new() }
    }

    /// A role with `attributes` (`LOGIN NOSUPERUSER`, `LOGIN CREATEDB PASSWORD '…'`), allowed to
    /// connect; dropped with the database.
    pub fn role(&mut self, prefix: &str, attributes: &str) -> String {
        let role = unique(prefix);
        psql(self.port, "postgres", &format!("CREATE ROLE {role} {attributes}"));
        psql(self.port, "postgres", &format!("GRANT CONNECT ON DATABASE {} TO {role}", self.name));
        self.roles.push(role.clone());
        role
    }

    pub fn sql(&self, sql: &str) -> String {
        psql(self.port, &self.name, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-p", &self.port.to_string(), "-d", "postgres"])
            .args(["-c", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .output();
        for role in &self.roles {
            let _ = Command::new("psql")
                .args(["-X", "-q", "-h", "127.0.0.1", "-U", "postgres", "-p", &self.port.to_string(), "-d", "postgres"])
                .args(["-c", &format!("DROP ROLE IF EXISTS {role}")])
                .output();
        }
    }
}

/// A cluster of our own on a free loopback port; stopped (immediate) when dropped.
pub struct Cluster {
    pub port: u16,
    pub dir: PathBuf,
    _temp: tempfile::TempDir,
}

fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--", &format!("{BIN}/{program}")]);
    command
}

impl Cluster {
    /// initdb with trust auth, `settings` appended to postgresql.conf (`shared_buffers = '1GB'`),
    /// and with `scram` the TCP lines of pg_hba.conf asking for a SCRAM password.
    pub fn start(settings: &[&str], scram: bool) -> Cluster {
        let temp = tempfile::tempdir().unwrap();
        let status = Command::new("chown").args(["postgres:postgres"]).arg(temp.path()).status().unwrap();
        assert!(status.success());
        let dir = temp.path().join("data");
        let output = as_postgres("initdb")
            .args(["-D"])
            .arg(&dir)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .output()
            .unwrap();
        assert!(output.status.success(), "initdb: {}", String::from_utf8_lossy(&output.stderr));
        let port = super::closed_port();
        let mut conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\nfsync = off\n\
             password_encryption = 'scram-sha-256'\n",
            temp.path().display()
        );
        for setting in settings {
            conf.push_str(setting);
            conf.push('\n');
        }
        append(&dir.join("postgresql.conf"), &conf);
        if scram {
            std::fs::write(
                dir.join("pg_hba.conf"),
                "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
            )
            .unwrap();
        }
        let cluster = Cluster { port, dir, _temp: temp };
        cluster.pg_ctl_start();
        cluster
    }

    pub fn pg_ctl_start(&self) {
        let log = self.dir.join("server.log");
        let output = as_postgres("pg_ctl")
            .args(["-D"])
            .arg(&self.dir)
            .args(["-l"])
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "pg_ctl start: {} {}",
            String::from_utf8_lossy(&output.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    pub fn stop(&self) {
        let _ = as_postgres("pg_ctl").args(["-D"]).arg(&self.dir).args(["-m", "immediate", "-w", "stop"]).output();
    }

    pub fn sql(&self, sql: &str) -> String {
        psql(self.port, "postgres", sql)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// Total memory of this host from /proc/meminfo, as the check reads it.
pub fn host_ram_bytes() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}
