//! A real Prometheus server (Debian's `prometheus` package) on a loopback port, scraping one
//! target as job `checklist`, for the alert-rule and dashboard tests.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::closed_port;

pub struct Prometheus {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target` as job "checklist" every 500 ms and evaluates `rules` (if any) every second.
    pub fn start(target: std::net::SocketAddr, rules: Option<&Path>) -> Prometheus {
        Prometheus::start_with_job(target, rules, "")
    }

    /// As [`Prometheus::start`], with `job_extra` (YAML at the job's indentation, each line
    /// starting with four spaces: `scheme`, `tls_config`, `basic_auth`, ...) added to the job.
    pub fn start_with_job(target: std::net::SocketAddr, rules: Option<&Path>, job_extra: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let rule_files = rules.map(|r| format!("rule_files: [{}]\n", r.display())).unwrap_or_default();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 500ms\n  scrape_timeout: 500ms\n  evaluation_interval: 1s\n\
                 {rule_files}\
                 scrape_configs:\n  - job_name: checklist\n{job_extra}    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .unwrap();
        let port = closed_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is missing: run bash tests/run.sh, which installs the Debian prometheus package");
        Prometheus { child, port, _dir: dir }
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
