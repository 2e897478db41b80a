//! The container files: the Dockerfile's HEALTHCHECK works against the real daemon, and
//! deploy/compose.yml mounts only files that exist, where the configs it mounts look for them.
//! Docker itself cannot run on the test machine (no daemon, no image pulls), so the image is
//! not built here; promtool and amtool check the Prometheus and Alertmanager configs instead.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::repo::{read, repo_path, run, yaml};
use common::{closed_port, Daemon};
use yaml_serde::Value;

/// Mounted files that other branches of this issue add (the lead writes the dashboard). Remove
/// an entry once its file is in the repository; the test then requires it.
const COMPOSE: &str = "deploy/compose.yml";

/// A bind mount of a compose service: the host file or directory (relative to the repository
/// root) and the path inside the container.
struct Mount {
    host: String,
    container: String,
}

fn compose() -> Value {
    yaml(COMPOSE)
}

/// Bind mounts per service. Named volumes (no `/` or `.` at the start) are not files.
fn bind_mounts(compose: &Value) -> BTreeMap<String, Vec<Mount>> {
    let services = compose["services"].as_mapping().expect("services");
    let deploy_dir = Path::new(COMPOSE).parent().unwrap();
    let mut mounts = BTreeMap::new();
    for (name, service) in services {
        let name = name.as_str().unwrap().to_string();
        let mut list = Vec::new();
        for volume in service.get("volumes").and_then(Value::as_sequence).into_iter().flatten() {
            let spec = volume.as_str().expect("short volume syntax");
            let mut parts = spec.split(':');
            let (source, target) = (parts.next().unwrap(), parts.next().expect("container path"));
            if !(source.starts_with('.') || source.starts_with('/')) {
                continue;
            }
            assert!(source.starts_with('.'), "{COMPOSE}: {name} mounts {source}, outside the repository");
            let host = normalize(&deploy_dir.join(source));
            list.push(Mount { host, container: target.to_string() });
        }
        mounts.insert(name, list);
    }
    mounts
}

/// `deploy/../alerts/x` to `alerts/x`, without touching the filesystem.
fn normalize(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for component in path.components() {
        match component.as_os_str().to_str().unwrap() {
            "." => {}
            ".." => {
                parts.pop().expect("path above the repository");
            }
            part => parts.push(part.to_string()),
        }
    }
    parts.join("/")
}

/// Copies the service's bind-mounted files into `root` at their container paths, so that
/// configs that name container paths can be checked as the container would see them.
fn stage(mounts: &[Mount], root: &Path) {
    for mount in mounts.iter().filter(|mount| repo_path(&mount.host).is_file()) {
        let destination = root.join(mount.container.trim_start_matches('/'));
        std::fs::create_dir_all(destination.parent().unwrap()).unwrap();
        std::fs::copy(repo_path(&mount.host), &destination).unwrap();
    }
}

fn healthcheck_script() -> String {
    let dockerfile = read("Dockerfile");
    let instruction = dockerfile.split("HEALTHCHECK").nth(1).expect("Dockerfile has a HEALTHCHECK");
    let exec_form = instruction.split("CMD ").nth(1).unwrap().lines().next().unwrap();
    let command: Vec<String> = serde_json::from_str(exec_form).expect("HEALTHCHECK CMD in exec form");
    assert_eq!(command[..2], ["bash", "-c"], "the HEALTHCHECK needs only bash, which the slim image has");
    assert!(command[2].contains("/-/healthy"));
    command[2].clone()
}

fn healthcheck_on_port(port: u16) -> (bool, String) {
    let script = healthcheck_script().replace("/9847", &format!("/{port}"));
    run("bash", &["-c", &script])
}

#[test]
fn the_dockerfile_healthcheck_passes_against_a_serving_daemon_and_fails_on_a_closed_port() {
    let daemon = Daemon::start(&read("config/checklist.toml"));
    let (healthy, output) = healthcheck_on_port(daemon.address.port());
    assert!(healthy, "HEALTHCHECK failed against a serving daemon: {output}");
    let (healthy, _) = healthcheck_on_port(closed_port());
    assert!(!healthy, "HEALTHCHECK passed with nothing listening");
}

#[test]
fn the_dockerfile_runs_as_non_root_on_bookworm_slim_and_copies_only_existing_files() {
    let dockerfile = read("Dockerfile");
    let stages: Vec<&str> = dockerfile.lines().filter(|line| line.starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "multi-stage build");
    assert_eq!(stages.last().unwrap().trim(), "FROM debian:bookworm-slim");
    let final_stage = dockerfile.rsplit("\nFROM ").next().unwrap();
    let user = final_stage.lines().find_map(|line| line.strip_prefix("USER ")).expect("USER in the final stage");
    assert!(!user.starts_with("root") && !user.starts_with('0'), "runs as {user}");
    let ignored = read(".dockerignore");
    let ignored: Vec<&str> = ignored.lines().filter(|line| !line.starts_with('#') && !line.is_empty()).collect();
    for line in dockerfile.lines().filter(|line| line.starts_with("COPY ") && !line.contains("--from")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        for source in &words[1..words.len() - 1] {
            assert!(repo_path(source).exists(), "Dockerfile copies {source}, which does not exist");
            assert!(!ignored.iter().any(|pattern| source.starts_with(pattern)), ".dockerignore excludes {source}");
        }
    }
}

#[test]
fn every_file_compose_mounts_exists_in_the_repository() {
    let compose = compose();
    let mounts = bind_mounts(&compose);
    for service in ["checklist-exporter", "prometheus", "alertmanager", "grafana"] {
        assert!(mounts.contains_key(service), "{COMPOSE} has no service {service}");
    }
    for (service, list) in &mounts {
        for mount in list {
            let host = repo_path(&mount.host);
            assert!(
                host.is_file() || host.is_dir(),
                "{COMPOSE}: {service} mounts {}, which is not in the repository",
                mount.host
            );
        }
    }
    // The exporter's default --config.file is in the mounted config directory.
    let config = mounts["checklist-exporter"]
        .iter()
        .find(|mount| mount.container == "/etc/checklist-exporter")
        .expect("the config directory is mounted");
    assert!(repo_path(&config.host).join("checklist.toml").is_file());
    assert!(read("Dockerfile").contains("--config.file=/etc/checklist-exporter/checklist.toml"));
    let build = &compose["services"]["checklist-exporter"]["build"];
    let context = normalize(&Path::new("deploy").join(build["context"].as_str().unwrap()));
    let dockerfile = if context.is_empty() {
        build["dockerfile"].as_str().unwrap().to_string()
    } else {
        format!("{context}/{}", build["dockerfile"].as_str().unwrap())
    };
    assert!(repo_path(&dockerfile).is_file(), "{COMPOSE} builds from {dockerfile}, which does not exist");
}

#[test]
fn prometheus_in_compose_loads_the_rules_scrapes_job_checklist_and_sends_to_alertmanager() {
    let mounts = bind_mounts(&compose());
    let root = tempfile::tempdir().unwrap();
    stage(&mounts["prometheus"], root.path());
    let config_path = root.path().join("etc/prometheus/prometheus.yml");
    // The config names container paths; point them into the staged copy.
    let config = std::fs::read_to_string(&config_path).unwrap();
    std::fs::write(
        &config_path,
        config.replace("/etc/prometheus/", &format!("{}/etc/prometheus/", root.path().display())),
    )
    .unwrap();
    let (valid, output) = run("promtool", &["check", "config", config_path.to_str().unwrap()]);
    assert!(valid, "promtool check config: {output}");
    assert!(
        output.contains("checklist.rules.yml") && output.contains("rules found"),
        "the rules are not loaded: {output}"
    );

    let prometheus: Value = yaml_serde::from_str(&config).unwrap();
    let jobs = prometheus["scrape_configs"].as_sequence().unwrap();
    let job = jobs.iter().find(|job| job["job_name"] == "checklist").expect("the alert rules select job=\"checklist\"");
    let target = job["static_configs"][0]["targets"][0].as_str().unwrap();
    assert_eq!(target, "checklist-exporter:9847", "the compose service and the port in the Dockerfile's CMD");
    assert!(read("Dockerfile").contains("--web.listen-address=:9847"));
    let alertmanager = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"][0].as_str().unwrap();
    assert_eq!(alertmanager, "alertmanager:9093");
}

#[test]
fn alertmanager_in_compose_accepts_its_config() {
    let mounts = bind_mounts(&compose());
    let config =
        mounts["alertmanager"].iter().find(|m| m.container.ends_with("alertmanager.yml")).expect("config mount");
    let (valid, output) = run("amtool", &["check-config", repo_path(&config.host).to_str().unwrap()]);
    assert!(valid, "amtool check-config: {output}");
}

#[test]
fn grafana_in_compose_provisions_prometheus_and_the_dashboard_directory_it_mounts() {
    let mounts = bind_mounts(&compose());
    let grafana = &mounts["grafana"];
    let dashboard = grafana.iter().find(|m| m.host == "dashboards/checklist.json").expect("the dashboard is mounted");
    let provider = grafana.iter().find(|m| m.container.starts_with("/etc/grafana/provisioning/dashboards/")).unwrap();
    let provider: Value = yaml(&provider.host);
    let path = provider["providers"][0]["options"]["path"].as_str().unwrap();
    assert_eq!(
        Path::new(&dashboard.container).parent().unwrap(),
        Path::new(path),
        "the provider reads another directory"
    );
    let datasource =
        grafana.iter().find(|m| m.container.starts_with("/etc/grafana/provisioning/datasources/")).unwrap();
    let datasource: Value = yaml(&datasource.host);
    assert_eq!(datasource["datasources"][0]["url"].as_str(), Some("http://prometheus:9090"));
}
