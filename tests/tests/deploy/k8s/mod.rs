//! The Kubernetes manifests under `deploy/k8s/`: they parse and fit
//! together, the mirrorgate pods are probed and locked down, and the
//! mirrorgate configs in them pass `mirrorgate check`. This module loads
//! them (PyYAML, tomllib) into [`Object`]s.

mod configs;
mod manifests;
mod pods;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::tools::{deploy_path, text, INSTALL_HINT};

/// The interpreter with Debian's python3-yaml: called by path, since
/// another python3 (pyenv) may come first on PATH.
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// Runs Debian's python3 with `code`, `args` and `stdin`; its stdout is
/// JSON.
fn python_json(code: &str, args: &[&str], stdin: &str) -> Value {
    assert!(
        Path::new(DEBIAN_PYTHON).is_file(),
        "{DEBIAN_PYTHON} not found: {INSTALL_HINT} (Debian packages python3, python3-yaml)"
    );
    let mut child = Command::new(DEBIAN_PYTHON)
        .arg("-c")
        .arg(code)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {DEBIAN_PYTHON}: {e}"));
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(
        out.status.success(),
        "{DEBIAN_PYTHON} failed on {args:?}:\n{err}"
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("python printed no JSON ({e}):\n{err}"))
}

/// Every document of a YAML file, as JSON. Duplicate keys are an error
/// (PyYAML would keep the last one silently; Kubernetes warns).
const LOAD_YAML: &str = r#"
import json, sys
try:
    import yaml
except ImportError:
    sys.exit("PyYAML is missing for " + sys.executable + ": run scripts/install-test-deps.sh (Debian package python3-yaml)")

class Strict(yaml.SafeLoader):
    pass

def mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)

Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
with open(sys.argv[1]) as f:
    docs = list(yaml.load_all(f, Loader=Strict))
json.dump(docs, sys.stdout, default=str)
"#;

/// TOML from stdin as JSON (Python 3.11's tomllib).
const LOAD_TOML: &str = r#"
import json, sys, tomllib
json.dump(tomllib.loads(sys.stdin.read()), sys.stdout, default=str)
"#;

/// One Kubernetes object and the file it came from.
pub(crate) struct Object {
    pub(crate) file: String,
    pub(crate) doc: Value,
}

impl Object {
    pub(crate) fn str_at(&self, pointer: &str) -> &str {
        self.doc
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{}: {} has no string at {pointer}", self.file, self.id()))
    }
    pub(crate) fn kind(&self) -> &str {
        self.str_at("/kind")
    }
    pub(crate) fn name(&self) -> &str {
        self.str_at("/metadata/name")
    }
    pub(crate) fn namespace(&self) -> &str {
        self.doc
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
    }
    pub(crate) fn id(&self) -> String {
        let get = |p: &str| self.doc.pointer(p).and_then(Value::as_str).unwrap_or("?");
        format!("{}/{}", get("/kind"), get("/metadata/name"))
    }
    /// The pod template of a Deployment or DaemonSet.
    pub(crate) fn pod_spec(&self) -> Option<&Value> {
        matches!(self.kind(), "Deployment" | "DaemonSet" | "StatefulSet")
            .then(|| &self.doc["spec"]["template"]["spec"])
    }
}

/// Every object of every deploy/k8s/*.yaml, parsed.
pub(crate) fn k8s_objects() -> Vec<Object> {
    let dir = deploy_path("k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let names: BTreeSet<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "configmap.yaml",
        "deployment.yaml",
        "service.yaml",
        "seed-demo.yaml",
    ] {
        assert!(
            names.contains(expected),
            "deploy/k8s/{expected} is missing: {names:?}"
        );
    }
    let mut objects = Vec::new();
    for path in files {
        let file = format!("deploy/k8s/{}", path.file_name().unwrap().to_string_lossy());
        let docs = python_json(LOAD_YAML, &[path.to_str().unwrap()], "");
        let docs = docs.as_array().expect("a list of documents").clone();
        assert!(!docs.is_empty(), "{file} has no document");
        for doc in docs {
            assert!(
                doc.is_object(),
                "{file}: a document is not a mapping: {doc}"
            );
            objects.push(Object {
                file: file.clone(),
                doc,
            });
        }
    }
    objects
}

pub(crate) fn parse_toml(toml: &str) -> Value {
    python_json(LOAD_TOML, &[], toml)
}

/// (protocol, port) pairs of a Service.
pub(crate) fn service_ports(service: &Object) -> BTreeSet<(String, u64)> {
    service.doc["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                p["protocol"].as_str().unwrap_or("TCP").to_string(),
                p["port"].as_u64().expect("numeric port"),
            )
        })
        .collect()
}

/// The sources of a volume: a projected volume's list, or the volume
/// itself.
pub(crate) fn volume_sources(volume: &Value) -> Vec<&Value> {
    match volume.get("projected") {
        Some(p) => p["sources"]
            .as_array()
            .expect("projected sources")
            .iter()
            .collect(),
        None => vec![volume],
    }
}
