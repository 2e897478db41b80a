//! A real Prometheus server (Debian's `prometheus` package) on a loopback port, scraping one
//! target as job `checklist`, for the alert-rule, dashboard and `prometheus` kind tests; and a
//! real Alertmanager (`prometheus-alertmanager`) with clustering off.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{closed_port, wait_for};

pub struct Prometheus {
    child: Child,
    pub port: u16,
    /// `https` when started with a certificate.
    scheme: &'static str,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target` as job "checklist" every 500 ms and evaluates `rules` (if any) every second.
    pub fn start(target: std::net::SocketAddr, rules: Option<&Path>) -> Prometheus {
        Prometheus::launch(target, rules, None, "")
    }

    /// Like [`Prometheus::start`], serving its web UI and API over TLS with `cert` and `key`
    /// (PEM files); the helpers that query it here speak plain HTTP, so only checks can ask it.
    pub fn start_tls(target: std::net::SocketAddr, rules: Option<&Path>, cert: &Path, key: &Path) -> Prometheus {
        Prometheus::launch(target, rules, Some((cert, key)), "")
    }

    /// As [`Prometheus::start`], with `job_extra` (YAML at the job's indentation, each line
    /// starting with four spaces: `scheme`, `tls_config`, `basic_auth`, ...) added to the job.
    pub fn start_with_job(target: std::net::SocketAddr, rules: Option<&Path>, job_extra: &str) -> Prometheus {
        Prometheus::launch(target, rules, None, job_extra)
    }

    fn launch(
        target: std::net::SocketAddr,
        rules: Option<&Path>,
        tls: Option<(&Path, &Path)>,
        job_extra: &str,
    ) -> Prometheus {
        let rule_files = rules.map(|r| format!("rule_files: [{}]\n", r.display())).unwrap_or_default();
        let config = format!(
            "global:\n  scrape_interval: 500ms\n  scrape_timeout: 500ms\n  evaluation_interval: 1s\n\
             {rule_files}\
             scrape_configs:\n  - job_name: checklist\n{job_extra}    static_configs:\n      - targets: [\"{target}\"]\n"
        );
        Prometheus::launch_config(&config, tls)
    }

    /// Runs Prometheus on `config` (the whole prometheus.yml, as YAML text): several targets,
    /// an Alertmanager.
    pub fn start_config(config: &str) -> Prometheus {
        Prometheus::launch_config(config, None)
    }

    fn launch_config(config_text: &str, tls: Option<(&Path, &Path)>) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, config_text).unwrap();
        let port = closed_port();
        let mut command = Command::new("prometheus");
        if let Some((cert, key)) = tls {
            let web = dir.path().join("web.yml");
            let tls_config =
                format!("tls_server_config:\n  cert_file: {}\n  key_file: {}\n", cert.display(), key.display());
            std::fs::write(&web, tls_config).unwrap();
            command.arg(format!("--web.config.file={}", web.display()));
        }
        let child = command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is missing: run bash tests/run.sh, which installs the Debian prometheus package");
        let scheme = if tls.is_some() { "https" } else { "http" };
        Prometheus { child, port, scheme, _dir: dir }
    }

    /// The base URL, like `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// Waits until every rule group has been evaluated again after this call, so that the rules'
    /// health reflects the data scraped so far (a rule evaluated before the first scrape is "ok").
    pub fn wait_rules_evaluated(&self) {
        let url = format!("{}/api/v1/rules", self.url());
        let evaluations = || -> Vec<String> {
            let body = reqwest::blocking::get(&url).ok().and_then(|r| r.json::<serde_json::Value>().ok());
            let groups = body.map(|b| b["data"]["groups"].clone()).unwrap_or_default();
            groups.as_array().into_iter().flatten().map(|g| g["lastEvaluation"].to_string()).collect()
        };
        let before = evaluations();
        wait_for("every rule group evaluated again", Duration::from_secs(60), || {
            let now = evaluations();
            !now.is_empty() && now.len() == before.len() && now.iter().zip(&before).all(|(now, then)| now != then)
        });
    }

    /// The raw answer of the HTTP API for an instant query, or `None` while Prometheus starts.
    pub fn query_raw(&self, promql: &str) -> Option<serde_json::Value> {
        let encoded: String = promql
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        let url = format!("http://127.0.0.1:{}/api/v1/query?query={encoded}", self.port);
        let response = reqwest::blocking::get(url).ok()?;
        response.json().ok()
    }

    /// The instant vector of `promql` as (labels, value) pairs; empty while Prometheus starts.
    pub fn query(&self, promql: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let Some(body) = self.query_raw(promql) else { return Vec::new() };
        assert_eq!(body["status"], "success", "query {promql}: {body}");
        match body["data"]["resultType"].as_str() {
            Some("scalar") => {
                vec![(BTreeMap::new(), body["data"]["result"][1].as_str().unwrap().parse().unwrap())]
            }
            _ => body["data"]["result"]
                .as_array()
                .unwrap()
                .iter()
                .map(|sample| {
                    let labels = serde_json::from_value(sample["metric"].clone()).unwrap();
                    (labels, sample["value"][1].as_str().unwrap().parse().unwrap())
                })
                .collect(),
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Alertmanager on a loopback port, with clustering off (no gossip port is opened).
pub struct Alertmanager {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts Alertmanager on `config` (YAML text); it may not be ready yet.
    pub fn start(config: &str) -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("alertmanager.yml");
        std::fs::write(&file, config).unwrap();
        let port = closed_port();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager is missing: run bash tests/run.sh, which installs it");
        Alertmanager { child, port, _dir: dir }
    }

    /// The base URL, like `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn wait_ready(&self) {
        let url = format!("{}/-/ready", self.url());
        wait_for("Alertmanager ready", Duration::from_secs(60), || {
            reqwest::blocking::get(&url).is_ok_and(|r| r.status() == 200)
        });
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
