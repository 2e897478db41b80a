//! The Kubernetes manifests in deploy/kubernetes/, checked offline: the core kinds against the
//! Kubernetes schemas (`kubernetes-validate --strict`, installed by tests/run.sh), the
//! PrometheusRule's groups equal to alerts/checklist.rules.yml and loadable by `promtool check
//! rules`, the ConfigMap's checklist loadable by the daemon, and the pieces wired to each other
//! (shard flags, Secret keys, Service and ServiceMonitor names and ports).

mod common;

use common::repo::{read, repo_path, run, yaml};
use common::BINARY;
use yaml_serde::Value;

const DIR: &str = "deploy/kubernetes";
/// The Kubernetes version whose schemas kubernetes-validate 1.37.0 ships.
const KUBERNETES_VERSION: &str = "1.37.0";

/// The files kustomization.yaml lists, relative to the repository root.
fn resources() -> Vec<String> {
    let kustomization = yaml(&format!("{DIR}/kustomization.yaml"));
    kustomization["resources"]
        .as_sequence()
        .expect("kustomization.yaml lists resources")
        .iter()
        .map(|r| format!("{DIR}/{}", r.as_str().expect("a resource is a file name")))
        .collect()
}

/// The one resource of `kind` among the kustomization's files.
fn resource(kind: &str) -> Value {
    let found: Vec<Value> = resources().iter().map(|file| yaml(file)).filter(|doc| doc["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "{DIR} has {} resources of kind {kind}", found.len());
    found.into_iter().next().unwrap()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("{value:?} is not a string"))
}

#[test]
fn the_kustomization_lists_every_manifest_and_nothing_missing() {
    let mut listed: Vec<String> = resources();
    listed.sort();
    let mut present: Vec<String> = std::fs::read_dir(repo_path(DIR))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml")
        .map(|name| format!("{DIR}/{name}"))
        .collect();
    present.sort();
    assert_eq!(listed, present, "kustomization.yaml resources against the files in {DIR}");
}

#[test]
fn the_core_kinds_pass_kubernetes_validate_strict() {
    let (installed, output) = run("kubernetes-validate", &["--version"]);
    assert!(
        installed && output.trim() == "1.37.0",
        "kubernetes-validate --version says {:?}, not 1.37.0; tests/run.sh installs it and puts it on PATH",
        output.trim()
    );
    // The operator's kinds (monitoring.coreos.com) have no schema there; promtool checks the rules.
    let core: Vec<String> = resources()
        .into_iter()
        .filter(|file| !text(&yaml(file)["apiVersion"]).starts_with("monitoring.coreos.com/"))
        .map(|file| repo_path(&file).display().to_string())
        .collect();
    let kinds: Vec<String> = core.iter().map(|file| text(&yaml(file)["kind"]).to_string()).collect();
    for kind in ["ConfigMap", "Secret", "Service", "StatefulSet"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} among {kinds:?}");
    }
    let mut args = vec!["--strict", "-k", KUBERNETES_VERSION];
    args.extend(core.iter().map(String::as_str));
    let (valid, output) = run("kubernetes-validate", &args);
    assert!(valid, "kubernetes-validate --strict refused the manifests:\n{output}");
    assert_eq!(output.matches(" passed for resource ").count(), core.len(), "{output}");
}

#[test]
fn the_prometheus_rule_holds_exactly_the_groups_of_the_alerts_file_and_promtool_loads_them() {
    let rule = resource("PrometheusRule");
    let groups = &rule["spec"]["groups"];
    let source = yaml("alerts/checklist.rules.yml")["groups"].clone();
    if groups != &source {
        // Name the first group that differs rather than print both documents whole.
        let (ours, theirs) = (groups.as_sequence().unwrap(), source.as_sequence().unwrap());
        let differing = ours.iter().zip(theirs).find(|(a, b)| a != b).map(|(a, _)| text(&a["name"]).to_string());
        panic!(
            "{DIR}/prometheusrule.yaml differs from alerts/checklist.rules.yml ({} groups against {}; first \
             differing group: {differing:?}): run bash {DIR}/prometheusrule.sh",
            ours.len(),
            theirs.len()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("prometheusrule.rules.yml");
    let mut file = yaml_serde::Mapping::new();
    file.insert(Value::from("groups"), groups.clone());
    std::fs::write(&rules, yaml_serde::to_string(&file).unwrap()).unwrap();
    let (valid, output) = run("promtool", &["check", "rules", rules.to_str().unwrap()]);
    assert!(valid, "promtool check rules refused the PrometheusRule's groups:\n{output}");
}

#[test]
fn the_config_map_holds_a_checklist_the_daemon_loads() {
    let config_map = resource("ConfigMap");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, text(&config_map["data"]["checklist.toml"])).unwrap();
    let (valid, output) = run(BINARY, &["--config.check", "--config.file", path.to_str().unwrap()]);
    assert!(valid, "the ConfigMap's checklist.toml is refused:\n{output}");
}

/// The container's `--NAME=VALUE` argument.
fn flag<'a>(args: &'a [String], name: &str) -> &'a str {
    let prefix = format!("--{name}=");
    let found: Vec<&str> = args.iter().filter_map(|a| a.strip_prefix(&prefix)).collect();
    assert_eq!(found.len(), 1, "--{name} given {} times in {args:?}", found.len());
    found[0]
}

#[test]
fn each_replica_is_a_shard_and_the_pieces_name_each_other() {
    let set = resource("StatefulSet");
    let pod = &set["spec"]["template"]["spec"];
    let containers = pod["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let args: Vec<String> = container["args"].as_sequence().unwrap().iter().map(|a| text(a).to_string()).collect();

    // Shards: one per replica, the index from the pod's ordinal label through the downward API.
    let replicas = set["spec"]["replicas"].as_u64().expect("replicas");
    assert_eq!(flag(&args, "shard.count"), replicas.to_string(), "--shard.count must equal replicas");
    assert_eq!(flag(&args, "shard.index"), "$(SHARD_INDEX)");
    let env = container["env"].as_sequence().unwrap();
    let variable = |name: &str| env.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("no env {name}"));
    assert_eq!(
        variable("SHARD_INDEX")["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.labels['apps.kubernetes.io/pod-index']"
    );

    // Secrets: every variable the checklist reads a password from comes from a key of the Secret.
    let secret = resource("Secret");
    let checklist = text(&resource("ConfigMap")["data"]["checklist.toml"]).to_string();
    let config: toml::Table = checklist.parse().unwrap();
    let password_envs: Vec<&str> = config["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|check| check.get("password_env").and_then(|v| v.as_str()))
        .collect();
    assert!(!password_envs.is_empty(), "the example checklist reads no secret from the environment");
    for name in password_envs {
        let reference = &variable(name)["valueFrom"]["secretKeyRef"];
        assert_eq!(reference["name"], secret["metadata"]["name"], "{name} is not from the Secret");
        let key = text(&reference["key"]);
        assert!(
            secret["stringData"].get(key).is_some() || secret["data"].get(key).is_some(),
            "the Secret has no key {key}"
        );
    }

    // The config is the ConfigMap, mounted where --config.file looks.
    let mount = container["volumeMounts"].as_sequence().unwrap().iter().find(|m| m["name"] == "config").unwrap();
    assert_eq!(flag(&args, "config.file"), format!("{}/checklist.toml", text(&mount["mountPath"])));
    let volume = pod["volumes"].as_sequence().unwrap().iter().find(|v| v["name"] == "config").unwrap();
    assert_eq!(volume["configMap"]["name"], resource("ConfigMap")["metadata"]["name"]);

    // A headless Service named as the alerts' job selects the pods; the ServiceMonitor its port.
    let service = resource("Service");
    assert_eq!(service["spec"]["clusterIP"], "None", "each shard must be its own scrape target");
    assert_eq!(set["spec"]["serviceName"], service["metadata"]["name"]);
    assert!(
        read("alerts/checklist.rules.yml").contains(&format!("job=\"{}\"", text(&service["metadata"]["name"]))),
        "prometheus-operator names the job after the Service; the alerts select another job"
    );
    let pod_labels = &set["spec"]["template"]["metadata"]["labels"];
    for (key, value) in service["spec"]["selector"].as_mapping().unwrap() {
        assert_eq!(&pod_labels[text(key)], value, "the Service does not select the pods by {key:?}");
    }
    let monitor = resource("ServiceMonitor");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"].as_mapping().unwrap() {
        assert_eq!(&service["metadata"]["labels"][text(key)], value, "the ServiceMonitor misses the Service");
    }
    let port_name = &service["spec"]["ports"][0]["name"];
    let endpoints = monitor["spec"]["endpoints"].as_sequence().unwrap();
    assert!(endpoints.iter().all(|e| &e["port"] == port_name), "ServiceMonitor ports {endpoints:?}");
    assert_eq!(container["ports"][0]["containerPort"].as_u64(), Some(9847));
    assert_eq!(flag(&args, "web.listen-address"), ":9847");
}
