//! Helpers shared by the integration tests: start the real binary, read its logs, scrape and
//! parse its metrics, and run small real servers on loopback.
#![allow(dead_code)] // each test file uses a different part of this module

pub mod hostile;
pub mod journey_app;
pub mod nginx;
pub mod pki;
pub mod probe;
pub mod prometheus;
pub mod repo;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_checklist-exporter");

/// Polls `condition` every 50 ms until it holds or `limit` passes; the limit only guards against
/// a hung test, it is not what the test asserts.
pub fn wait_for(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("gave up waiting for {what} after {limit:?}");
}

/// A running checklist-exporter daemon on 127.0.0.1 with a random port.
pub struct Daemon {
    pub child: Child,
    pub address: SocketAddr,
    /// `http`, or `https` with a web config that enables TLS.
    pub scheme: String,
    pub config: PathBuf,
    logs: Arc<Mutex<Vec<String>>>,
    pub client: reqwest::blocking::Client,
    _dir: Option<tempfile::TempDir>,
    _state_dir: tempfile::TempDir,
}

impl Daemon {
    /// Writes `config_text` to a temp file and starts the daemon on it.
    pub fn start(config_text: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("checklist.toml");
        std::fs::write(&config, config_text).unwrap();
        let mut daemon = Daemon::start_with(&config, &[]);
        daemon._dir = Some(dir);
        daemon
    }

    /// Starts the daemon on `config` with the lifecycle endpoints enabled: most tests reload and
    /// take baselines over HTTP. [`Daemon::launch`] starts it exactly as told.
    pub fn start_with(config: &Path, extra_args: &[&str]) -> Daemon {
        let mut args = vec!["--web.enable-lifecycle"];
        args.extend_from_slice(extra_args);
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        Daemon::launch(config, &args, "http", client)
    }

    /// Starts the daemon with only `args` added to the config, port and log flags (JSON at debug
    /// level unless `args` name another `--log.format`); `scheme` and `client` are what the
    /// helpers (`get`, `metrics`, ...) talk to it with.
    pub fn launch(config: &Path, args: &[&str], scheme: &str, client: reqwest::blocking::Client) -> Daemon {
        let format = if args.contains(&"--log.format") { &[][..] } else { &["--log.format", "json"][..] };
        // A free port unless `args` name an address (a restart on the same one).
        let listen =
            if args.contains(&"--web.listen-address") { &[][..] } else { &["--web.listen-address", "127.0.0.1:0"][..] };
        // Its own state file unless `args` name one, so that no test restores another's verdicts.
        let state_dir = tempfile::tempdir().unwrap();
        let state_file = state_dir.path().join("state.json").display().to_string();
        let state = if args.contains(&"--state.file") { &[][..] } else { &["--state.file", state_file.as_str()][..] };
        let mut child = Command::new(BINARY)
            .arg("--config.file")
            .arg(config)
            .args(listen)
            .args(state)
            .args(["--log.level", "debug"])
            .args(format)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start checklist-exporter");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Kept before the address is handed over, so a test that reads the logs as soon
                // as the daemon is up finds the "listening" line.
                sink.lock().unwrap().push(line.clone());
                if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
                    if json["msg"] == "listening" {
                        let _ = address_tx.send(json["address"].as_str().unwrap_or_default().to_string());
                    }
                } else if line.contains(" msg=listening ") {
                    let address = line.split(' ').find_map(|pair| pair.strip_prefix("address="));
                    let _ = address_tx.send(address.unwrap_or_default().to_string());
                }
            }
        });
        let address = match address_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                panic!("daemon did not start; logs: {:?}", logs.lock().unwrap());
            }
        };
        Daemon {
            child,
            address,
            scheme: scheme.to_string(),
            config: config.to_path_buf(),
            logs,
            client,
            _dir: None,
            _state_dir: state_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.address, path)
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.client.get(self.url(path)).send().unwrap()
    }

    pub fn metrics_text(&self) -> String {
        self.get("/metrics").text().unwrap()
    }

    pub fn metrics(&self) -> Metrics {
        Metrics::parse(&self.metrics_text())
    }

    pub fn items(&self) -> serde_json::Value {
        self.get("/api/v1/items").json().unwrap()
    }

    /// The item with `id` from `/api/v1/items`.
    pub fn item(&self, id: &str) -> serde_json::Value {
        let items = self.items();
        items["items"].as_array().unwrap().iter().find(|i| i["id"] == id).cloned().unwrap_or(serde_json::Value::Null)
    }

    pub fn wait_ready(&self) {
        wait_for("/-/ready", Duration::from_secs(60), || self.get("/-/ready").status() == 200);
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle`: lines arrive through a reader thread, so a line
    /// the daemon has just written may not be in [`Daemon::logs`] yet.
    pub fn wait_log(&self, needle: &str) {
        wait_for(&format!("a log line with {needle:?}"), Duration::from_secs(10), || {
            self.logs().iter().any(|line| line.contains(needle))
        });
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args(["-s", signal, &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    pub fn rewrite_config(&self, text: &str) {
        // Written whole and renamed, as an editor or config management would.
        let temporary = self.config.with_extension("tmp");
        std::fs::write(&temporary, text).unwrap();
        std::fs::rename(&temporary, &self.config).unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed exposition: samples by metric name, each with its labels.
#[derive(Debug, Default)]
pub struct Metrics {
    pub samples: Vec<(String, HashMap<String, String>, f64)>,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let mut samples = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), HashMap::new()),
                Some((name, rest)) => (name.to_string(), parse_labels(rest.trim_end_matches('}'))),
            };
            samples.push((name, labels, value));
        }
        Metrics { samples }
    }

    /// The value of the one sample of `name` whose labels include all of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<f64> = self
            .samples
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| *v)
            .collect();
        assert!(found.len() <= 1, "{name} {labels:?} matches {} samples", found.len());
        found.first().copied()
    }

    pub fn count(&self, name: &str) -> usize {
        self.samples.iter().filter(|(n, _, _)| n == name).count()
    }

    /// Every label value of `label` across the samples of `name`.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        self.samples.iter().filter(|(n, _, _)| n == name).filter_map(|(_, l, _)| l.get(label).cloned()).collect()
    }
}

fn parse_labels(text: &str) -> HashMap<String, String> {
    let mut labels = HashMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').to_string(), value);
        rest = &after[end..];
    }
    labels
}

/// Runs `promtool check metrics` on an exposition and returns what it said, if anything.
pub fn promtool_complaints(exposition: &str) -> Option<String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian package `prometheus`; .ci/run installs it)");
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    if output.status.success() && said.trim().is_empty() {
        None
    } else {
        Some(said)
    }
}

/// A minimal authoritative DNS server on 127.0.0.1 for tests: answers A and AAAA queries for
/// the names it knows, NXDOMAIN for the rest, and stays silent for names in `silent`.
pub struct TestDns {
    pub address: SocketAddr,
}

impl TestDns {
    pub fn start(records: &[(&str, &[&str])], silent: &[&str]) -> TestDns {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap();
        let records: HashMap<String, Vec<IpAddr>> = records
            .iter()
            .map(|(name, ips)| (name.to_ascii_lowercase(), ips.iter().map(|ip| ip.parse().unwrap()).collect()))
            .collect();
        let silent: Vec<String> = silent.iter().map(|s| s.to_ascii_lowercase()).collect();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 512];
            while let Ok((length, peer)) = socket.recv_from(&mut buffer) {
                if let Some(reply) = answer(&buffer[..length], &records, &silent) {
                    let _ = socket.send_to(&reply, peer);
                }
            }
        });
        TestDns { address }
    }
}

fn answer(query: &[u8], records: &HashMap<String, Vec<IpAddr>>, silent: &[String]) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let mut position = 12;
    let mut labels = Vec::new();
    while position < query.len() && query[position] != 0 {
        let length = query[position] as usize;
        labels.push(String::from_utf8_lossy(query.get(position + 1..position + 1 + length)?).to_ascii_lowercase());
        position += 1 + length;
    }
    let question_end = position + 5;
    let qtype = u16::from_be_bytes([*query.get(position + 1)?, *query.get(position + 2)?]);
    let name = labels.join(".");
    if silent.contains(&name) {
        return None;
    }
    let known = records.get(&name);
    let answers: Vec<&IpAddr> = known
        .map(|ips| ips.iter().filter(|ip| (qtype == 1 && ip.is_ipv4()) || (qtype == 28 && ip.is_ipv6())).collect())
        .unwrap_or_default();
    let mut reply = Vec::new();
    reply.extend_from_slice(&query[0..2]);
    let rcode = if known.is_some() { 0 } else { 3 };
    reply.extend_from_slice(&[0x84 | (query[2] & 0x01), 0x80 | rcode]); // QR, AA, RD copied; RA
    reply.extend_from_slice(&[0, 1]);
    reply.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    reply.extend_from_slice(&[0, 0, 0, 0]);
    reply.extend_from_slice(query.get(12..question_end)?);
    for ip in answers {
        reply.extend_from_slice(&[0xC0, 0x0C]);
        reply.extend_from_slice(&qtype.to_be_bytes());
        reply.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        match ip {
            IpAddr::V4(v4) => {
                reply.extend_from_slice(&[0, 4]);
                reply.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                reply.extend_from_slice(&[0, 16]);
                reply.extend_from_slice(&v6.octets());
            }
        }
    }
    Some(reply)
}

/// One item table for a config, to keep test configs short.
pub fn item(id: &str, severity: &str, decides: Option<&str>) -> String {
    let decides = decides.map(|d| format!("  decides = \"{d}\"\n")).unwrap_or_default();
    format!(
        "  [[checks.items]]\n  id = \"{id}\"\n  section = \"Test Section\"\n  title = \"Item {id}\"\n  severity = \"{severity}\"\n{decides}"
    )
}

/// Runs headless Chromium (Debian package `chromium`) on `url` with a fresh profile and the
/// flags that keep it off the network, plus `args` (`--dump-dom`, `--screenshot=...`).
pub fn chromium(args: &[&str], url: &str) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium is installed (Debian package `chromium`; tests/run.sh installs it)")
}

/// Whether `pid` is a live process: a zombie has been killed, only a running or sleeping process
/// counts.
pub fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// A port on 127.0.0.1 where nothing listens (bound, read, and released).
pub fn closed_port() -> u16 {
    // The kernel may hand out a released port again: two servers of one test given the same
    // port would share it (nginx serves both blocks from the first), so a port goes out once.
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        if GIVEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(port) {
            return port;
        }
    }
}
pub mod pg;

/// Runs `checklist-exporter check --format json` once on `config_text`, optionally as another
/// user (`setpriv`, for real permission-denied cases: root reads everything). Returns the exit
/// code, the items by id, and stderr.
pub fn check_once_as(config_text: &str, uid: Option<u32>) -> (Option<i32>, HashMap<String, serde_json::Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checklist.toml");
    std::fs::write(&config, config_text).unwrap();
    if uid.is_some() {
        // The other user must be able to read the config.
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let mut command = match uid {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args([
                format!("--reuid={uid}"),
                format!("--regid={uid}"),
                "--clear-groups".to_string(),
                BINARY.to_string(),
            ]);
            c
        }
        None => Command::new(BINARY),
    };
    let output = command.args(["check", "--format", "json", "--config.file"]).arg(&config).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), items_by_id(&stdout, &stderr), stderr)
}

/// The items of a `check --format json` document by id; `stderr` explains a missing document.
pub fn items_by_id(stdout: &str, stderr: &str) -> HashMap<String, serde_json::Value> {
    let document: serde_json::Value =
        serde_json::from_str(stdout).unwrap_or_else(|_| panic!("no JSON document; stderr: {stderr}"));
    document["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["id"].as_str().unwrap().to_string(), item.clone()))
        .collect()
}

pub fn check_once(config_text: &str) -> HashMap<String, serde_json::Value> {
    check_once_as(config_text, None).1
}

/// The state, cause and reason of an item from `check_once`.
pub fn verdict(items: &HashMap<String, serde_json::Value>, id: &str) -> (String, String, String) {
    let item = items.get(id).unwrap_or_else(|| panic!("no item {id} in {items:?}"));
    let text = |key: &str| item[key].as_str().unwrap_or_default().to_string();
    (text("state"), text("cause"), text("reason"))
}

/// `config_text` with every network target in `[vars]` on loopback (see [`loopback_overrides`]),
/// written back as TOML: for a daemon, which reads no overrides from the test's environment.
pub fn on_loopback(config_text: &str) -> String {
    let mut document: toml::Table = config_text.parse().unwrap();
    let overrides = loopback_overrides(config_text);
    if let Some(vars) = document.get_mut("vars").and_then(toml::Value::as_table_mut) {
        for (key, value) in overrides {
            let name = key.trim_start_matches("CHECKLIST__VARS__").to_ascii_lowercase();
            vars.insert(name, toml::Value::String(value));
        }
    }
    toml::to_string(&document).unwrap()
}

/// Every variable that names a network target, pointed at loopback: tests send no traffic
/// anywhere else.
pub fn loopback_overrides(config_text: &str) -> Vec<(String, String)> {
    let document: toml::Table = config_text.parse().unwrap();
    let vars = document.get("vars").and_then(|v| v.as_table()).cloned().unwrap_or_default();
    let closed = closed_port();
    let mut overrides = Vec::new();
    for (name, value) in vars {
        let Some(text) = value.as_str() else { continue };
        let key = format!("CHECKLIST__VARS__{}", name.to_ascii_uppercase());
        let network = ["domain", "url", "host", "ip", "address"].iter().any(|w| name.split('_').any(|part| part == *w));
        if !network {
            continue;
        }
        let loopback = if name.contains("url") {
            // Keep the scheme and path, change the authority.
            let scheme_end = text.find("://").map_or(0, |i| i + 3);
            let rest = &text[scheme_end..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            let user = authority.rfind('@').map_or("", |at| &authority[..=at]);
            let port = if text.starts_with("postgres") { 5432 } else { closed };
            format!("{}{user}127.0.0.1:{port}{}", &text[..scheme_end], &rest[authority_end..])
        } else if name.contains("ip") || name.contains("address") {
            "127.0.0.1".to_string()
        } else {
            "localhost".to_string()
        };
        overrides.push((key, loopback));
    }
    overrides
}
