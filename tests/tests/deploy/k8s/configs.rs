//! The mirrorgate configs in the ConfigMaps: the seed demo's mirror, and
//! `mirrorgate check` accepting each.

use std::collections::BTreeSet;

use mirrorgate_tests::proxy::run_to_end;

use super::{k8s_objects, parse_toml, service_ports, Object};

#[test]
fn k8s_seed_demo_mirrors_ten_percent_to_staging() {
    let objects = k8s_objects();
    let demo: Vec<&Object> = objects
        .iter()
        .filter(|o| o.file == "deploy/k8s/seed-demo.yaml")
        .collect();
    let find = |kind: &str, name: &str| -> &Object {
        demo.iter()
            .find(|o| o.kind() == kind && o.name() == name)
            .unwrap_or_else(|| panic!("seed-demo.yaml has no {kind} {name}"))
    };
    for name in ["production", "staging"] {
        let container = &find("Deployment", name).pod_spec().unwrap()["containers"][0];
        assert_eq!(container["image"], "mendhak/http-https-echo:37", "{name}");
        assert!(
            container["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["containerPort"] == 8080),
            "{name}: the echo server's HTTP port is 8080"
        );
        assert_eq!(
            service_ports(find("Service", name)),
            BTreeSet::from([("TCP".to_string(), 8080)]),
            "Service {name}"
        );
    }

    let config_map = demo
        .iter()
        .find(|o| o.kind() == "ConfigMap")
        .expect("seed-demo.yaml has a ConfigMap");
    let config = parse_toml(config_map.doc["data"]["mirrorgate.toml"].as_str().unwrap());
    let routes = config["routes"].as_array().expect("[[routes]]");
    let route = routes
        .iter()
        .find(|r| r["host"] == "api.localhost")
        .expect("a route for host api.localhost");
    let service = config["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == route["service"])
        .expect("the route's service");
    assert_eq!(
        service["backends"],
        serde_json::json!(["http://production:8080"])
    );
    let mirrors = service["mirrors"].as_array().expect("[[services.mirrors]]");
    assert_eq!(mirrors.len(), 1);
    let mirror = &mirrors[0];
    assert_eq!(mirror["name"], "staging");
    assert_eq!(
        mirror["backends"],
        serde_json::json!(["http://staging:8080"])
    );
    assert_eq!(mirror["percent"].as_f64(), Some(10.0));
    // The echo server speaks HTTP/1.1 only; mirrors default to h2c.
    assert_eq!(mirror["protocol"], "http1");
    // No certificate: mirrorgate serves a self-signed one, so the demo
    // needs no Secret.
    assert!(config["tls"].is_null(), "the demo needs no TLS Secret");
}

#[test]
fn k8s_configmap_configs_pass_mirrorgate_check() {
    let objects = k8s_objects();
    let config_maps: Vec<&Object> = objects
        .iter()
        .filter(|o| o.kind() == "ConfigMap" && o.doc["data"].get("mirrorgate.toml").is_some())
        .collect();
    let files: BTreeSet<&str> = config_maps.iter().map(|o| o.file.as_str()).collect();
    assert_eq!(
        files,
        BTreeSet::from(["deploy/k8s/configmap.yaml", "deploy/k8s/seed-demo.yaml"])
    );
    for config_map in config_maps {
        // The Secret's files, in a temporary /etc/mirrorgate.
        let dir = tempfile::tempdir().unwrap();
        let tls = dir.path().join("tls");
        std::fs::create_dir(&tls).unwrap();
        mirrorgate_tests::pki::write_self_signed(&tls, "localhost");
        std::fs::rename(tls.join("localhost.pem"), tls.join("tls.crt")).unwrap();
        std::fs::rename(tls.join("localhost.key"), tls.join("tls.key")).unwrap();
        let toml = config_map.doc["data"]["mirrorgate.toml"]
            .as_str()
            .unwrap()
            .replace("/etc/mirrorgate/", &format!("{}/", dir.path().display()));
        let path = dir.path().join("mirrorgate.toml");
        std::fs::write(&path, &toml).unwrap();
        // check builds the backend pools without resolving their names
        // (production, staging, *.svc.cluster.local do not resolve here).
        let (code, out, err) = run_to_end(&["check", "--config", path.to_str().unwrap()]);
        assert!(
            code == 0 && out.contains("OK"),
            "{}: {}: `mirrorgate check` rejects its mirrorgate.toml:\n{out}{err}\n--- config:\n{toml}",
            config_map.file,
            config_map.id()
        );
    }
}
