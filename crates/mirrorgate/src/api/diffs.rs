//! `GET /api/mirrors/{service}/{mirror}/diffs`: where a comparing
//! mirror's answers differ from the primary's, per endpoint and field,
//! and its latest differing exchanges:
//!
//! ```json
//! { "service": "api", "mirror": "staging",
//!   "endpoints": [ {"endpoint": "GET /users/{id}", "compared": 10, "match": 2,
//!                   "differ": 5, "noise_only": 3,
//!                   "fields": [ {"where": "json:$.total", "differ": 5, "noise": 0} ] } ],
//!   "latest": [ ... newest first ] }
//! ```
//!
//! A service or mirror the serving config does not have, and a mirror
//! that does not compare its answers, are `404 {"error": "..."}`.

use http::StatusCode;
use mirrorgate_core::Proxy;

use mirrorgate_core::compare::MirrorReport;

use super::respond::{json, json_error, Answer};

/// The answer for mirror `mirror` of service `service` (both decoded
/// from the path).
pub(crate) fn diffs(proxy: &Proxy, service: &str, mirror: &str) -> Answer {
    let services = proxy.services();
    let Some(found) = services.iter().find(|s| s.name == service) else {
        return json_error(
            StatusCode::NOT_FOUND,
            format!("no service `{service}` (GET /api/mirrors lists every mirror)"),
        );
    };
    let Some(target) = found.mirrors.iter().find(|m| m.name() == mirror) else {
        return json_error(
            StatusCode::NOT_FOUND,
            format!(
                "service `{service}` has no mirror `{mirror}` (GET /api/mirrors lists every mirror)"
            ),
        );
    };
    let Some(report) = target.compare_report() else {
        return json_error(
            StatusCode::NOT_FOUND,
            format!(
                "mirror `{mirror}` of service `{service}` does not compare answers: \
                 add [services.mirrors.compare] to it"
            ),
        );
    };
    json(
        StatusCode::OK,
        &MirrorReport {
            service,
            mirror,
            report: report.snapshot(),
        },
    )
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;
    use crate::api::mirrors::tests::{proxy, TWO_MIRRORS};

    async fn error_of(answer: Answer) -> String {
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        value["error"].as_str().unwrap().to_string()
    }

    #[tokio::test]
    async fn unknown_service_or_mirror_and_a_mirror_without_compare_are_404() {
        let (proxy, _) = proxy(TWO_MIRRORS);
        let no_service = error_of(diffs(&proxy, "web", "staging")).await;
        assert!(no_service.starts_with("no service `web`"), "{no_service}");
        let no_mirror = error_of(diffs(&proxy, "api", "prod")).await;
        assert!(
            no_mirror.starts_with("service `api` has no mirror `prod`"),
            "{no_mirror}"
        );
        let no_compare = error_of(diffs(&proxy, "api", "staging")).await;
        assert!(
            no_compare.contains("`staging` of service `api` does not compare answers"),
            "{no_compare}"
        );
    }
}
