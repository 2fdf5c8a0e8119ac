//! The demo backends' small JSON API, in two versions. `v2` is `v1` with
//! a few changes of the kind a new release brings, so that mirroring `v1`
//! to `v2` with compare on has something to find:
//!
//! | endpoint | `v2` differs from `v1` |
//! |---|---|
//! | `GET /api/users/{id}` | `balance` is a string (`"21.25"`), not a number |
//! | `GET /api/users/{id}/orders` | one extra field, `has_more` |
//! | `GET /api/orders` | no `cache-control` header |
//! | `GET /api/orders/{id}/invoice` | `500` with an error body |
//! | `GET /api/orders/{id}`, `GET /api/health` | nothing |
//!
//! Everything is derived from the ids in the path, so two instances of
//! one version answer alike, except for two fields in every body: the
//! time of the answer (`generated_at`) and a random `trace` id. Those
//! differ between any two answers: noise, which the compare tells apart
//! with a control running `v1`.
//!
//! Pure: [`answer`] takes the noise values as arguments, so it is tested
//! without a clock or randomness.

use serde_json::{json, Value};

use crate::config::DemoVersion;

/// The paths the API serves, for the echo's hint and the docs.
pub(super) const PATHS: &str = "/api/users/{id}, /api/users/{id}/orders, /api/orders, /api/orders/{id}, /api/orders/{id}/invoice, /api/health";

/// The two fields that differ between any two answers.
pub(super) struct Noise {
    /// When the answer was made (RFC 3339).
    pub(super) generated_at: String,
    /// A random id.
    pub(super) trace: String,
}

/// One answer of the API.
#[derive(Debug, PartialEq)]
pub(super) struct ApiAnswer {
    /// The status code.
    pub(super) status: u16,
    /// Headers besides `content-type: application/json`.
    pub(super) headers: Vec<(&'static str, &'static str)>,
    /// The body, with the noise fields in it.
    pub(super) body: Value,
}

/// The answer of `version` to `GET path`, or `None` when `path` is not
/// one of the API's (the caller then echoes the request).
pub(super) fn answer(version: DemoVersion, path: &str, noise: Noise) -> Option<ApiAnswer> {
    let v2 = version == DemoVersion::V2;
    let segments: Vec<&str> = path.strip_prefix("/api/")?.split('/').collect();
    let mut headers = Vec::new();
    let mut status = 200;
    let mut body = match segments[..] {
        ["health"] => json!({ "status": "ok" }),
        ["users", id] => {
            let mut user = user(parse_id(id)?);
            if v2 {
                // The new version formats money as text.
                user["balance"] = json!(format!("{:.2}", user["balance"].as_f64()?));
            }
            user
        }
        ["users", id, "orders"] => {
            let id = parse_id(id)?;
            let orders: Vec<Value> = (1..=2).map(|n| order(id * 10 + n)).collect();
            let mut list = json!({ "user_id": id, "orders": orders });
            if v2 {
                list["has_more"] = json!(false);
            }
            list
        }
        ["orders"] => {
            if !v2 {
                // The new version forgot it.
                headers.push(("cache-control", "public, max-age=60"));
            }
            // The latest five, of users 1 to 5.
            json!({ "orders": (1..=5).map(|n| order(n * 11)).collect::<Vec<_>>() })
        }
        ["orders", id] => order(parse_id(id)?),
        ["orders", id, "invoice"] => {
            let id = parse_id(id)?;
            if v2 {
                status = 500;
                json!({ "error": "invoice renderer unavailable" })
            } else {
                json!({
                    "order_id": id,
                    "number": format!("INV-{id:06}"),
                    "total": total(id),
                    "currency": "EUR",
                })
            }
        }
        _ => return None,
    };
    body["generated_at"] = json!(noise.generated_at);
    body["trace"] = json!(noise.trace);
    Some(ApiAnswer {
        status,
        headers,
        body,
    })
}

/// An id in a path: digits that fit 32 bits, so the arithmetic on it
/// (`id * 10 + n`) cannot overflow.
fn parse_id(segment: &str) -> Option<u64> {
    segment.parse::<u32>().ok().map(u64::from)
}

fn user(id: u64) -> Value {
    const FIRST: [&str; 8] = [
        "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken",
    ];
    const LAST: [&str; 8] = [
        "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson",
    ];
    const PLANS: [&str; 3] = ["free", "pro", "team"];
    let pick = |list: &[&'static str], n: u64| list[(n % list.len() as u64) as usize];
    json!({
        "id": id,
        "name": format!("{} {}", pick(&FIRST, id), pick(&LAST, id / 8)),
        "email": format!("user{id}@example.com"),
        "plan": pick(&PLANS, id),
        // Quarter units, so the value is exact in binary and prints short.
        "balance": (id % 400) as f64 * 1.25,
    })
}

fn order(id: u64) -> Value {
    const STATES: [&str; 3] = ["paid", "shipped", "delivered"];
    json!({
        "id": id,
        "user_id": (id / 10).max(1),
        "status": STATES[(id % 3) as usize],
        "items": 1 + id % 3,
        "total": total(id),
    })
}

/// An order's total in cents / 100: 0.00 to 199.99.
fn total(id: u64) -> f64 {
    (id * 7919 % 20_000) as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(version: DemoVersion, path: &str) -> Option<ApiAnswer> {
        let noise = Noise {
            generated_at: "2026-01-01T00:00:00Z".into(),
            trace: "t".into(),
        };
        answer(version, path, noise)
    }

    /// Top-level keys whose values differ between `a` and `b`, sorted.
    fn differing_keys(a: &Value, b: &Value) -> Vec<String> {
        let (a, b) = (a.as_object().unwrap(), b.as_object().unwrap());
        let mut keys: Vec<String> = a
            .keys()
            .chain(b.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .cloned()
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    #[test]
    fn v1_answers_each_endpoint_with_data_derived_from_the_path() {
        let user = get(DemoVersion::V1, "/api/users/17").unwrap();
        assert_eq!(user.status, 200);
        assert_eq!(user.body["id"], 17);
        assert_eq!(user.body["name"], "Grace Turing");
        assert_eq!(user.body["balance"], 21.25);
        assert_eq!(user.body["generated_at"], "2026-01-01T00:00:00Z");
        assert_eq!(user.body["trace"], "t");
        let orders = get(DemoVersion::V1, "/api/users/4/orders").unwrap();
        let ids: Vec<&Value> = orders.body["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| &o["id"])
            .collect();
        assert_eq!(ids, [41, 42]);
        assert_eq!(
            get(DemoVersion::V1, "/api/orders/42").unwrap().body["user_id"],
            4
        );
        assert_eq!(
            get(DemoVersion::V1, "/api/orders/9/invoice").unwrap().body["number"],
            "INV-000009"
        );
        // Same path, same answer.
        assert_eq!(
            get(DemoVersion::V1, "/api/orders"),
            get(DemoVersion::V1, "/api/orders")
        );
    }

    #[test]
    fn paths_outside_the_api_are_left_to_the_echo() {
        for path in [
            "/",
            "/test",
            "/api",
            "/api/",
            "/api/users/x",
            "/api/users/-1",
            "/api/users/99999999999",
            "/api/users/1/orders/2",
            "/api/nope",
        ] {
            assert_eq!(get(DemoVersion::V1, path), None, "{path}");
        }
    }

    #[test]
    fn v2_differs_from_v1_only_where_the_table_says() {
        // (path, status of v2, differing body keys, headers v1 has and v2 not)
        let cases: [(&str, u16, &[&str], &[&str]); 6] = [
            ("/api/users/17", 200, &["balance"], &[]),
            ("/api/users/17/orders", 200, &["has_more"], &[]),
            ("/api/orders", 200, &[], &["cache-control"]),
            (
                "/api/orders/9/invoice",
                500,
                &["currency", "error", "number", "order_id", "total"],
                &[],
            ),
            ("/api/orders/9", 200, &[], &[]),
            ("/api/health", 200, &[], &[]),
        ];
        for (path, status, keys, dropped) in cases {
            let (v1, v2) = (
                get(DemoVersion::V1, path).unwrap(),
                get(DemoVersion::V2, path).unwrap(),
            );
            assert_eq!((v1.status, v2.status), (200, status), "{path}");
            assert_eq!(differing_keys(&v1.body, &v2.body), keys, "{path}");
            let gone: Vec<&str> = v1
                .headers
                .iter()
                .filter(|h| !v2.headers.contains(h))
                .map(|(name, _)| *name)
                .collect();
            assert_eq!(gone, dropped, "{path}");
            assert!(v2.headers.iter().all(|h| v1.headers.contains(h)), "{path}");
        }
        assert_eq!(
            get(DemoVersion::V2, "/api/users/17").unwrap().body["balance"],
            "21.25"
        );
    }
}
