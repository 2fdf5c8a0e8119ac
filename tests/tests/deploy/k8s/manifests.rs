//! The manifests name their objects, each once, in namespaces they
//! create; selectors, volumes and Service ports fit the pods.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{k8s_objects, service_ports, volume_sources, Object};

#[test]
fn k8s_manifests_parse_and_fit_together() {
    let objects = k8s_objects();
    assert_named_and_namespaced(&objects);
    assert_each_defined_once(&objects);
    let workloads: Vec<&Object> = objects.iter().filter(|o| o.pod_spec().is_some()).collect();
    assert!(!workloads.is_empty());
    for w in &workloads {
        let labels = &w.doc["spec"]["template"]["metadata"]["labels"];
        assert!(
            selects(&w.doc["spec"]["selector"]["matchLabels"], labels),
            "{}: {}'s selector does not match its pod template",
            w.file,
            w.id()
        );
        assert_volumes_are_defined(&objects, w);
    }
    // Every Service selects pods, and its target ports are theirs.
    for service in objects.iter().filter(|o| o.kind() == "Service") {
        assert_service_fits_its_pods(service, &workloads);
    }
}

/// Every object has an apiVersion fitting its kind and a name, and lives
/// in a namespace some file creates.
fn assert_named_and_namespaced(objects: &[Object]) {
    let namespaces: BTreeSet<&str> = objects
        .iter()
        .filter(|o| o.kind() == "Namespace")
        .map(|o| o.name())
        .collect();
    for o in objects {
        let api = o.str_at("/apiVersion");
        assert!(!api.is_empty(), "{}: {}: empty apiVersion", o.file, o.id());
        assert!(!o.name().is_empty(), "{}: empty metadata.name", o.file);
        if o.kind() != "Namespace" {
            // An object without a namespace would land in whatever
            // namespace kubectl's context has.
            assert!(
                namespaces.contains(o.namespace()),
                "{}: {} is in namespace {:?}, which no file creates ({namespaces:?})",
                o.file,
                o.id(),
                o.namespace()
            );
        }
        let expected_api = match o.kind() {
            "Deployment" | "DaemonSet" => "apps/v1",
            _ => "v1",
        };
        assert_eq!(api, expected_api, "{}: {}", o.file, o.id());
    }
}

fn assert_each_defined_once(objects: &[Object]) {
    let mut ids = BTreeSet::new();
    for o in objects {
        assert!(
            ids.insert((
                o.kind().to_string(),
                o.namespace().to_string(),
                o.name().to_string()
            )),
            "{}: {} in {:?} is defined twice",
            o.file,
            o.id(),
            o.namespace()
        );
    }
}

/// Volumes refer to ConfigMaps defined here (Secrets are made by hand:
/// only mirrorgate-tls is expected).
fn assert_volumes_are_defined(objects: &[Object], w: &Object) {
    for volume in w.pod_spec().unwrap()["volumes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for source in volume_sources(volume) {
            if let Some(name) = source.pointer("/configMap/name").and_then(Value::as_str) {
                assert!(
                    objects.iter().any(|o| o.kind() == "ConfigMap"
                        && o.name() == name
                        && o.namespace() == w.namespace()),
                    "{}: {} mounts ConfigMap {name}, which is not defined in {:?}",
                    w.file,
                    w.id(),
                    w.namespace()
                );
            }
            let secret = source
                .pointer("/secret/name")
                .or_else(|| source.pointer("/secret/secretName"))
                .and_then(Value::as_str);
            if let Some(secret) = secret {
                assert_eq!(secret, "mirrorgate-tls", "{}: {}", w.file, w.id());
            }
        }
    }
}

/// `service` selects pods among `workloads`, and each of its target
/// ports is a container port of every pod it selects.
fn assert_service_fits_its_pods(service: &Object, workloads: &[&Object]) {
    let selector = &service.doc["spec"]["selector"];
    let pods: Vec<&&Object> = workloads
        .iter()
        .filter(|w| {
            w.namespace() == service.namespace()
                && selects(selector, &w.doc["spec"]["template"]["metadata"]["labels"])
        })
        .collect();
    assert!(
        !pods.is_empty(),
        "{}: {} selects no pods ({selector})",
        service.file,
        service.id()
    );
    for port in service.doc["spec"]["ports"].as_array().expect("ports") {
        let protocol = port["protocol"].as_str().unwrap_or("TCP");
        let target = &port["targetPort"];
        for pod in &pods {
            let found = pod.pod_spec().unwrap()["containers"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .any(|p| {
                    p["protocol"].as_str().unwrap_or("TCP") == protocol
                        && match target {
                            Value::String(name) => p["name"].as_str() == Some(name),
                            Value::Number(_) => &p["containerPort"] == target,
                            _ => p["containerPort"] == port["port"],
                        }
                });
            assert!(
                found,
                "{}: {} port {port} has no {protocol} container port {target} in {}",
                service.file,
                service.id(),
                pod.id()
            );
        }
    }
}

/// The pods' labels match the selector.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

#[test]
fn k8s_service_exposes_tcp_80_tcp_443_udp_443_and_admin_9900() {
    let objects = k8s_objects();
    let services: Vec<&Object> = objects
        .iter()
        .filter(|o| o.kind() == "Service" && o.file == "deploy/k8s/service.yaml")
        .collect();
    let public = services
        .iter()
        .find(|s| s.doc["spec"]["type"] == "LoadBalancer")
        .expect("service.yaml has a LoadBalancer Service");
    let want: BTreeSet<(String, u64)> = [("TCP", 80), ("TCP", 443), ("UDP", 443)]
        .iter()
        .map(|(p, n)| (p.to_string(), *n))
        .collect();
    assert_eq!(service_ports(public), want, "{}", public.id());
    assert_eq!(
        public.doc["spec"]["externalTrafficPolicy"], "Local",
        "keep client addresses"
    );
    let admin = services
        .iter()
        .find(|s| service_ports(s).contains(&("TCP".to_string(), 9900)))
        .expect("a Service for the admin port 9900");
    assert_ne!(
        admin.doc["spec"]["type"], "LoadBalancer",
        "admin stays inside the cluster"
    );
    assert_ne!(
        admin.doc["spec"]["type"], "NodePort",
        "admin stays inside the cluster"
    );
}
