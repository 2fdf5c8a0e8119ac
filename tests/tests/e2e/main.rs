//! End-to-end tests: the real `mirrorgate` binary, driven by real curl
//! and raw sockets against the recording backends of the harness
//! (`mirrorgate_tests`). One test binary, one module per topic; run one
//! topic with `cargo test -p mirrorgate-tests --test e2e -- mirror::`.
//!
//! Every test starts its own proxy and backends on ports the OS picks, so
//! tests run in parallel under cargo's test threads. The one exception is
//! `cli::no_arguments_serves_the_embedded_default_over_http3_on_8443`,
//! which needs the embedded default's fixed ports; no other test uses them.
//! The 100 MB memory test is a binary of its own (`tests/memory.rs`, which
//! says why); the checks of `deploy/` are another (`tests/deploy/`).

// The request's way in: protocols, TLS, routing, bodies.
mod bodies;
mod body_limits;
mod protocols;
mod routing;
mod tls;

// The way out: backends, balancing, errors.
mod balancing;
mod errors;
mod upstream;
mod upstream_pool;

// Streaming answers: gRPC and server-sent events.
mod grpc;
mod sse;

// WebSockets (tunnels), per protocol.
mod tunnel_limits;
mod websocket_h1;
mod websocket_h2;
mod websocket_h3;

// Mirroring, and comparing mirror answers.
mod compare;
mod mirror;
mod mirror_faults;
mod record;
mod request_id;
mod sampling_seed;

// Running it: command line, config, lifecycle, operations, metrics, the
// admin API and live page, limits.
mod admin_api;
mod bad_config;
mod cli;
mod connection_limits;
mod lifecycle;
mod live_page;
mod metrics;
mod operations;

// Recording and replaying traffic.
mod replay;

// Attacks, per protocol.
mod attacks_h1;
mod attacks_h2;
mod attacks_h3;

// `mirrorgate replay` and `record inspect` as commands: exit codes,
// summary lines, errors naming the line.
mod replay_cli;
