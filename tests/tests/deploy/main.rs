//! The files under `deploy/` are accepted by the tools that read them, and
//! agree with each other and with mirrorgate:
//!
//! - the systemd unit passes `systemd-analyze verify` (with the binary and
//!   config paths pointed at the test build), keeps its hardening, and a
//!   broken copy is rejected;
//! - the logrotate snippet passes `logrotate -d` and really rotates;
//! - every Kubernetes manifest parses (PyYAML), names its objects, and
//!   Services, probes, volumes and configs fit together; the mirrorgate
//!   configs in the ConfigMaps pass `mirrorgate check`;
//! - the Dockerfile parses (`dockerfile-parse`) into a multi-stage,
//!   non-root image of the binary.
//!
//! The tools come from `scripts/install-test-deps.sh` (Debian's systemd,
//! logrotate, python3-yaml, python3-venv) and `scripts/py-tools.sh`
//! (dockerfile-parse in `target/py-tools/`). A missing tool fails the test
//! with what to install; nothing is skipped.

mod dockerfile;
mod k8s;
mod logrotate;
mod sysctl;
mod systemd;
mod tools;
