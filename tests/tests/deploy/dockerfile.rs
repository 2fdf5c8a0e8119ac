//! The Dockerfile: a multi-stage, non-root image of the binary.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use mirrorgate_tests::proxy::workspace_root;
use serde_json::Value;

use crate::tools::{
    deploy_path, read_deploy, run_tool, text, INSTALL_HINT, UNIT_BINARY, UNIT_CONFIG,
};

/// The python of target/py-tools (made by scripts/py-tools.sh on first use).
fn py_tools_python() -> PathBuf {
    let script = workspace_root().join("scripts/py-tools.sh");
    let out = run_tool(
        Command::new("bash").arg(&script),
        "bash is needed for scripts/py-tools.sh",
    );
    assert!(
        out.status.success(),
        "scripts/py-tools.sh could not provide dockerfile-parse (it installs it from PyPI into target/py-tools/; {INSTALL_HINT} for python3-venv first):\n{}",
        text(&out.stderr)
    );
    PathBuf::from(text(&out.stdout).trim())
}

const PARSE_DOCKERFILE: &str = r#"
import json, sys
from dockerfile_parse import DockerfileParser
parser = DockerfileParser(path=sys.argv[1])
json.dump([
    {"instruction": i["instruction"], "value": i["value"], "line": i["startline"] + 1}
    for i in parser.structure if i["instruction"] != "COMMENT"
], sys.stdout)
"#;

/// One instruction: (instruction, value, line).
type Instruction = (String, String, u64);

#[test]
fn dockerfile_parses_into_a_multi_stage_non_root_image() {
    let instructions = parse_dockerfile();
    assert_known_instructions(&instructions);
    let stages = split_into_stages(&instructions);
    assert!(stages.len() >= 2, "multi-stage: {} FROM", stages.len());
    let builder_name = assert_builder_stage(&stages[0]);
    assert_final_stage(stages.last().unwrap(), &builder_name);
    assert_copies_exist_and_pass_the_ignore_file(&instructions);
}

/// deploy/Dockerfile's instructions, comments left out, by
/// dockerfile-parse.
fn parse_dockerfile() -> Vec<Instruction> {
    let python = py_tools_python();
    let dockerfile = deploy_path("Dockerfile");
    let out = run_tool(
        Command::new(&python)
            .arg("-c")
            .arg(PARSE_DOCKERFILE)
            .arg(&dockerfile),
        "scripts/py-tools.sh",
    );
    assert!(
        out.status.success(),
        "dockerfile-parse failed:\n{}",
        text(&out.stderr)
    );
    let parsed: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    parsed
        .iter()
        .map(|i| {
            (
                i["instruction"].as_str().unwrap().to_string(),
                i["value"].as_str().unwrap().to_string(),
                i["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn assert_known_instructions(instructions: &[Instruction]) {
    const KNOWN: &[&str] = &[
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ];
    for (instruction, _, line) in instructions {
        assert!(
            KNOWN.contains(&instruction.as_str()),
            "deploy/Dockerfile:{line}: unknown instruction {instruction}"
        );
    }
}

/// The stages: the instructions split at FROM.
fn split_into_stages(instructions: &[Instruction]) -> Vec<Vec<&Instruction>> {
    let mut stages: Vec<Vec<&Instruction>> = Vec::new();
    for i in instructions {
        if i.0 == "FROM" {
            stages.push(Vec::new());
        }
        stages
            .last_mut()
            .expect("the Dockerfile starts with FROM")
            .push(i);
    }
    stages
}

/// A stage's FROM: (image, the name after AS).
fn stage_from(stage: &[&Instruction]) -> (String, Option<String>) {
    let words: Vec<&str> = stage[0].1.split_whitespace().collect();
    let name = match words.as_slice() {
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some(name.to_string()),
        _ => None,
    };
    (words[0].to_string(), name)
}

/// The builder: a named Rust stage that builds the release binary;
/// returns its name.
fn assert_builder_stage(builder: &[&Instruction]) -> String {
    let (builder_image, builder_name) = stage_from(builder);
    assert!(
        builder_image.starts_with("rust:1") && builder_image.ends_with("-bookworm"),
        "builder image {builder_image}"
    );
    let builder_name = builder_name.expect("the builder stage is named (FROM ... AS builder)");
    assert!(
        builder
            .iter()
            .any(|i| i.0 == "RUN" && i.1.contains("cargo build --release --locked -p mirrorgate")),
        "the builder runs `cargo build --release --locked -p mirrorgate`"
    );

    builder_name
}

/// The final stage: the binary on a slim Debian, run as non-root.
fn assert_final_stage(last: &[&Instruction], builder_name: &str) {
    assert_eq!(stage_from(last).0, "debian:bookworm-slim");
    let values = |name: &str| -> Vec<&str> {
        last.iter()
            .filter(|i| i.0 == name)
            .map(|i| i.1.as_str())
            .collect()
    };
    assert!(
        values("COPY")
            .iter()
            .any(|v| v.contains(&format!("--from={builder_name}")) && v.ends_with(UNIT_BINARY)),
        "the final stage copies the binary from {builder_name} to {UNIT_BINARY}: {:?}",
        values("COPY")
    );
    let user = *values("USER").last().expect("the final stage sets USER");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "root" && uid != "0", "final USER {user} is root");
    assert!(
        uid.chars().all(|c| c.is_ascii_digit()),
        "USER {user}: numeric, so Kubernetes' runAsNonRoot can check it"
    );
    let exposed: BTreeSet<&str> = values("EXPOSE")
        .iter()
        .flat_map(|v| v.split_whitespace())
        .collect();
    for port in ["80/tcp", "443/tcp", "443/udp", "9900/tcp"] {
        assert!(exposed.contains(port), "EXPOSE lacks {port}: {exposed:?}");
    }
    let json_form = |name: &str| -> Vec<String> {
        let value = *values(name).last().unwrap_or_else(|| panic!("no {name}"));
        serde_json::from_str(value).unwrap_or_else(|_| panic!("{name} in JSON form: {value}"))
    };
    assert_eq!(json_form("ENTRYPOINT"), [UNIT_BINARY]);
    assert_eq!(json_form("CMD"), ["run", "--config", UNIT_CONFIG]);
    assert_eq!(values("STOPSIGNAL"), ["SIGTERM"]);
    assert!(
        values("RUN")
            .iter()
            .any(|v| v.contains(&format!("setcap cap_net_bind_service=+ep {UNIT_BINARY}"))),
        "the binary binds 80/443 as non-root through a file capability"
    );
}

/// What the builder copies from the context exists, and
/// Dockerfile.dockerignore lets it through.
fn assert_copies_exist_and_pass_the_ignore_file(instructions: &[Instruction]) {
    let ignore = read_deploy("Dockerfile.dockerignore");
    let allowed: BTreeSet<&str> = ignore
        .lines()
        .filter_map(|l| l.trim().strip_prefix('!'))
        .collect();
    assert!(
        ignore.lines().any(|l| l.trim() == "*"),
        "the ignore file starts from nothing"
    );
    for (_, value, line) in instructions.iter().filter(|i| i.0 == "COPY") {
        let words: Vec<&str> = value
            .split_whitespace()
            .filter(|w| !w.starts_with("--"))
            .collect();
        if value.contains("--from=") {
            continue;
        }
        for source in &words[..words.len() - 1] {
            assert!(
                workspace_root().join(source).exists(),
                "deploy/Dockerfile:{line}: COPY {source}: no such file in the repository"
            );
            assert!(
                allowed.contains(source),
                "deploy/Dockerfile:{line}: COPY {source}, but Dockerfile.dockerignore excludes it"
            );
        }
    }
}
