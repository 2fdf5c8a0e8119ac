//! The mirrorgate pods: probed on the admin port, scraped, locked down,
//! and given every file their config names.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{k8s_objects, parse_toml, volume_sources, Object};
use crate::tools::UNIT_CONFIG;

#[test]
fn k8s_mirrorgate_pods_probe_the_admin_port_and_run_locked_down() {
    let objects = k8s_objects();
    let mut seen = 0;
    for workload in objects.iter().filter(|o| o.pod_spec().is_some()) {
        let spec = workload.pod_spec().unwrap();
        let containers = spec["containers"].as_array().unwrap();
        let Some(container) = containers
            .iter()
            .find(|c| c["image"].as_str().unwrap().starts_with("mirrorgate"))
        else {
            continue;
        };
        seen += 1;
        let at = format!("{}: {}", workload.file, workload.id());
        assert_probed_and_scraped(&at, workload, container);
        assert_locked_down(&at, spec, container);
        assert_serves_every_port(&at, container);
        assert_config_mounted_and_drained(&at, &objects, workload, container);
    }
    assert!(
        seen >= 2,
        "deployment.yaml and seed-demo.yaml run mirrorgate: found {seen}"
    );
}

/// Probes and Prometheus' scraping use the admin port.
fn assert_probed_and_scraped(at: &str, workload: &Object, container: &Value) {
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{at}: {probe}");
        assert_eq!(get["port"], 9900, "{at}: {probe}");
    }
    let annotations = &workload.doc["spec"]["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true", "{at}");
    assert_eq!(annotations["prometheus.io/port"], "9900", "{at}");
    assert_eq!(annotations["prometheus.io/path"], "/metrics", "{at}");
}

fn assert_locked_down(at: &str, spec: &Value, container: &Value) {
    let pod_security = &spec["securityContext"];
    let security = &container["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"], true, "{at}");
    assert!(pod_security["runAsUser"].as_u64().unwrap() > 0, "{at}");
    assert_eq!(security["allowPrivilegeEscalation"], false, "{at}");
    assert_eq!(security["readOnlyRootFilesystem"], true, "{at}");
    assert_eq!(
        security["capabilities"]["drop"],
        serde_json::json!(["ALL"]),
        "{at}"
    );
    assert_eq!(
        security["capabilities"]["add"],
        serde_json::json!(["NET_BIND_SERVICE"]),
        "{at}: the setcap'd binary cannot be exec'd without it in the bounding set"
    );
    // With allowPrivilegeEscalation: false the file capability is
    // ignored: ports 80/443 need the sysctl.
    assert!(
        pod_security["sysctls"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["name"] == "net.ipv4.ip_unprivileged_port_start" && s["value"] == "0"),
        "{at}: binding 80/443 without privileges needs net.ipv4.ip_unprivileged_port_start=0"
    );
    for kind in ["requests", "limits"] {
        assert!(
            container["resources"][kind]["memory"].is_string(),
            "{at}: resources.{kind}.memory"
        );
    }
    assert!(
        container["resources"]["requests"]["cpu"].is_string(),
        "{at}"
    );
}

/// Ports: TCP 80, TCP 443, UDP 443 and the admin port.
fn assert_serves_every_port(at: &str, container: &Value) {
    let ports: BTreeSet<(String, u64)> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["protocol"].as_str().unwrap_or("TCP").to_string(),
                p["containerPort"].as_u64().unwrap(),
            )
        })
        .collect();
    for port in [("TCP", 80), ("TCP", 443), ("UDP", 443), ("TCP", 9900)] {
        assert!(
            ports.contains(&(port.0.to_string(), port.1)),
            "{at}: port {port:?}"
        );
    }
}

/// The config it is told to read is mounted, and so is every certificate
/// the config names; the pod's grace period covers the drain.
fn assert_config_mounted_and_drained(
    at: &str,
    objects: &[Object],
    workload: &Object,
    container: &Value,
) {
    let spec = workload.pod_spec().unwrap();
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args, ["run", "--config", UNIT_CONFIG], "{at}");
    let files = mounted_files(objects, workload, container);
    assert!(
        files.contains(UNIT_CONFIG),
        "{at}: {UNIT_CONFIG} not mounted: {files:?}"
    );
    let config = parse_toml(mounted_config(objects, workload, UNIT_CONFIG));
    for cert in config["tls"]["certificates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for key in ["cert", "key"] {
            let path = cert[key].as_str().unwrap();
            assert!(
                files.contains(path),
                "{at}: {path} is not mounted: {files:?}"
            );
        }
    }
    // The admin listener answers the kubelet on the pod's address.
    assert_eq!(
        config["admin"]["listen"], "0.0.0.0:9900",
        "{at}: [admin] listen"
    );
    // The kubelet waits for the drain before it kills.
    let drain = config["shutdown"]["drain_timeout"]
        .as_str()
        .map(config_seconds)
        .unwrap_or(30.0);
    let pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        .as_array()
        .filter(|c| c.first().and_then(Value::as_str) == Some("/bin/sleep"))
        .and_then(|c| c[1].as_str()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    let grace = spec["terminationGracePeriodSeconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("{at}: terminationGracePeriodSeconds"));
    assert!(
        grace > drain + pre_stop,
        "{at}: terminationGracePeriodSeconds {grace} <= preStop {pre_stop} + drain_timeout {drain}"
    );
}

/// The files a container sees under its volume mounts (ConfigMap keys and
/// Secret items), so that paths in its config can be checked.
fn mounted_files(objects: &[Object], workload: &Object, container: &Value) -> BTreeSet<String> {
    let volumes = workload.pod_spec().unwrap()["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let config_map_keys = |name: &str| -> Vec<String> {
        objects
            .iter()
            .find(|o| {
                o.kind() == "ConfigMap" && o.name() == name && o.namespace() == workload.namespace()
            })
            .map(|o| o.doc["data"].as_object().unwrap().keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut files = BTreeSet::new();
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let at = mount["mountPath"].as_str().unwrap().trim_end_matches('/');
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("{}: no volume {}", workload.id(), mount["name"]));
        for source in volume_sources(volume) {
            let (items, all_keys) = if let Some(cm) = source.get("configMap") {
                (&cm["items"], config_map_keys(cm["name"].as_str().unwrap()))
            } else if let Some(secret) = source.get("secret") {
                // A kubernetes.io/tls Secret.
                (&secret["items"], vec!["tls.crt".into(), "tls.key".into()])
            } else {
                continue;
            };
            match items.as_array() {
                Some(items) => {
                    for item in items {
                        files.insert(format!("{at}/{}", item["path"].as_str().unwrap()));
                    }
                }
                None => files.extend(all_keys.iter().map(|k| format!("{at}/{k}"))),
            }
        }
    }
    files
}

/// The mirrorgate config a ConfigMap mounts for `workload`'s container at
/// `path`.
fn mounted_config<'a>(objects: &'a [Object], workload: &Object, path: &str) -> &'a str {
    let (dir, file) = path.rsplit_once('/').unwrap();
    let container = &workload.pod_spec().unwrap()["containers"][0];
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"].as_str().map(|p| p.trim_end_matches('/')) == Some(dir))
        .unwrap_or_else(|| panic!("{}: nothing mounted at {dir}", workload.id()));
    let volume = workload.pod_spec().unwrap()["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    let config_map = volume
        .pointer("/configMap/name")
        .or_else(|| {
            volume["projected"]["sources"]
                .as_array()?
                .iter()
                .find_map(|s| s.pointer("/configMap/name"))
        })
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{}: no ConfigMap mounted at {dir}", workload.id()));
    objects
        .iter()
        .find(|o| {
            o.kind() == "ConfigMap"
                && o.name() == config_map
                && o.namespace() == workload.namespace()
        })
        .and_then(|o| o.doc["data"][file].as_str())
        .unwrap_or_else(|| panic!("ConfigMap {config_map} has no key {file}"))
}

/// A duration of mirrorgate's config ("30s", "250ms", "2m") in seconds.
fn config_seconds(value: &str) -> f64 {
    let split = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap();
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().unwrap();
    number
        * match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            other => panic!("unknown unit {other} in {value}"),
        }
}
