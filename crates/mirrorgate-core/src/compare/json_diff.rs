//! Comparing two JSON documents field by field.
//!
//! - Numbers by value: `1` equals `1.0` (integers exactly, otherwise as
//!   `f64`).
//! - Objects by key: a key missing on one side reads as `null` there, so
//!   `{"a": null}` equals `{}`; keys come in the primary's order, then the
//!   other side's new keys.
//! - Arrays by position: when lengths differ, each extra position differs
//!   against `null` on the shorter side (no separate length entry).
//! - Anything else that is not equal (a changed scalar, a changed type,
//!   a container against `null`) is one difference at that place, with
//!   both whole values. Such places never nest, so the values reported
//!   add up to at most the two documents.
//! - Ignored places (`ignore_json_paths`) are skipped with their subtree.
//!
//! One walk over both documents: the place is kept as a stack of steps
//! and as its text, grown and cut as the walk goes, so a node costs
//! O(ignored paths × depth) and nothing is allocated unless it differs.

use serde_json::{Map, Number, Value};

use super::json_path::{push_step, JsonPath, Step};
use super::sink::Sink;
use super::Difference;

/// Adds the differences between the documents `primary` and `other`
/// (places `json:$…`), leaving out `ignore` and what lies under them.
pub(crate) fn compare_json(ignore: &[JsonPath], primary: &Value, other: &Value, sink: &mut Sink) {
    let mut walk = Walk {
        ignore,
        steps: Vec::new(),
        at: String::from("json:$"),
        sink,
    };
    if !ignore.iter().any(|p| p.matches(&[])) {
        walk.node(Some(primary), Some(other));
    }
}

struct Walk<'v, 's> {
    ignore: &'v [JsonPath],
    steps: Vec<Step<'v>>,
    at: String,
    sink: &'s mut Sink,
}

impl<'v> Walk<'v, '_> {
    fn node(&mut self, primary: Option<&'v Value>, other: Option<&'v Value>) {
        match (
            primary.unwrap_or(&Value::Null),
            other.unwrap_or(&Value::Null),
        ) {
            (Value::Object(p), Value::Object(o)) => self.objects(p, o),
            (Value::Array(p), Value::Array(o)) => {
                for i in 0..p.len().max(o.len()) {
                    self.child(Step::Index(i), p.get(i), o.get(i));
                }
            }
            (p, o) if scalars_equal(p, o) => {}
            (p, o) => self.sink.add(|| Difference {
                at: self.at.clone(),
                primary: p.clone(),
                other: o.clone(),
            }),
        }
    }

    fn objects(&mut self, p: &'v Map<String, Value>, o: &'v Map<String, Value>) {
        for (key, value) in p {
            self.child(Step::Key(key), Some(value), o.get(key));
        }
        for (key, value) in o {
            if !p.contains_key(key) {
                self.child(Step::Key(key), None, Some(value));
            }
        }
    }

    fn child(&mut self, step: Step<'v>, primary: Option<&'v Value>, other: Option<&'v Value>) {
        self.steps.push(step);
        if !self.ignore.iter().any(|p| p.matches(&self.steps)) {
            let len = self.at.len();
            push_step(&mut self.at, step);
            self.node(primary, other);
            self.at.truncate(len);
        }
        self.steps.pop();
    }
}

/// Equality of two values that are not both objects nor both arrays.
fn scalars_equal(p: &Value, o: &Value) -> bool {
    match (p, o) {
        (Value::Number(a), Value::Number(b)) => numbers_equal(a, b),
        (Value::Object(_) | Value::Array(_), _) | (_, Value::Object(_) | Value::Array(_)) => false,
        (p, o) => p == o,
    }
}

fn numbers_equal(a: &Number, b: &Number) -> bool {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x == y;
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x == y;
    }
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn diff(ignore: &[&str], p: Value, o: Value) -> Vec<(String, Value, Value)> {
        let ignore: Vec<JsonPath> = ignore.iter().map(|t| t.parse().unwrap()).collect();
        let mut sink = Sink::default();
        compare_json(&ignore, &p, &o, &mut sink);
        sink.finish()
            .into_iter()
            .map(|d| (d.at, d.primary, d.other))
            .collect()
    }

    fn at(text: &str, p: Value, o: Value) -> (String, Value, Value) {
        (text.into(), p, o)
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(diff(&[], json!([1, -2, 0.5, 1e3]), json!([1.0, -2.0, 0.5, 1000])).is_empty());
        assert_eq!(
            diff(&[], json!(1), json!(2)),
            [at("json:$", json!(1), json!(2))]
        );
        assert_eq!(
            diff(&[], json!(u64::MAX), json!(u64::MAX - 1)).len(),
            1,
            "large integers exactly"
        );
    }

    #[test]
    fn objects_by_key_in_document_order() {
        let found = diff(
            &[],
            json!({"b": 1, "a": {"x": true}, "gone": "v", "same": null}),
            json!({"b": 2, "a": {"x": false}, "new": [1], "extra": null}),
        );
        assert_eq!(
            found,
            [
                at("json:$.a.x", json!(true), json!(false)),
                at("json:$.b", json!(1), json!(2)),
                at("json:$.gone", json!("v"), json!(null)),
                at("json:$.new", json!(null), json!([1])),
            ]
        );
    }

    #[test]
    fn arrays_by_position_with_extra_positions_against_null() {
        let found = diff(&[], json!({"l": [1, 2, 3]}), json!({"l": [1, 5]}));
        assert_eq!(
            found,
            [
                at("json:$.l[1]", json!(2), json!(5)),
                at("json:$.l[2]", json!(3), json!(null)),
            ]
        );
    }

    #[test]
    fn a_type_change_is_one_difference_with_both_values() {
        let found = diff(
            &[],
            json!({"id": 7, "o": {"k": 1}}),
            json!({"id": "7", "o": [1]}),
        );
        assert_eq!(
            found,
            [
                at("json:$.id", json!(7), json!("7")),
                at("json:$.o", json!({"k": 1}), json!([1])),
            ]
        );
    }

    #[test]
    fn ignored_places_and_their_subtrees_are_left_out() {
        let p = json!({"meta": {"at": 1, "n": 1}, "items": [{"etag": "a", "v": 1}, {"etag": "b"}]});
        let o = json!({"meta": {"at": 2, "n": 2}, "items": [{"etag": "c", "v": 2}, {"etag": "d"}]});
        let found = diff(&["$.meta.at", "$.items[*].etag"], p.clone(), o.clone());
        assert_eq!(
            found,
            [
                at("json:$.items[0].v", json!(1), json!(2)),
                at("json:$.meta.n", json!(1), json!(2)),
            ]
        );
        assert_eq!(diff(&["$.meta", "$.items"], p.clone(), o.clone()), []);
        assert_eq!(diff(&["$"], p, o), []);
    }

    #[test]
    fn keys_that_need_quoting_are_quoted() {
        let found = diff(
            &[],
            json!({"a b": {"it's": 1}}),
            json!({"a b": {"it's": 2}}),
        );
        assert_eq!(found[0].0, r"json:$['a b']['it\'s']");
    }
}
