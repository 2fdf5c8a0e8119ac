use std::io::Write;

use http::{HeaderMap, HeaderName, StatusCode};

use super::*;
use crate::compare::{BodyCapture, MAX_DIFFERENCES, OMITTED_AT};

fn rules() -> CompareRules {
    CompareRules {
        max_body_size: 1024,
        ignore_headers: Vec::new(),
        ignore_json_paths: vec!["$.at".parse().unwrap()],
    }
}

fn answer(status: u16, headers: &[(&str, &str)], chunks: &[&[u8]], max: usize) -> Captured {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let mut body = BodyCapture::new(max);
    for chunk in chunks {
        body.push(&Bytes::copy_from_slice(chunk));
    }
    Captured {
        status: StatusCode::from_u16(status).unwrap(),
        headers: map,
        body: body.finish(),
    }
}

fn json_answer(body: &str) -> Captured {
    answer(
        200,
        &[("content-type", "application/json")],
        &[body.as_bytes()],
        1024,
    )
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn places(diffs: &[Difference]) -> Vec<&str> {
    diffs.iter().map(|d| d.at.as_str()).collect()
}

#[test]
fn equal_answers_match() {
    let a = json_answer(r#"{"a": 1, "at": "t1"}"#);
    let b = json_answer(r#"{"at": "t2", "a": 1.0}"#);
    assert_eq!(compare(&rules(), &a, &b), []);
}

#[test]
fn status_then_headers_then_body_in_order() {
    let p = answer(200, &[("x-v", "1"), ("date", "a")], &[b"{\"n\": 1}"], 1024);
    let o = answer(500, &[("x-v", "2"), ("date", "b")], &[b"{\"n\": 2}"], 1024);
    let found = compare(&rules(), &p, &o);
    assert_eq!(places(&found), ["status", "header:x-v", "json:$.n"]);
    assert_eq!(
        (found[0].primary.clone(), found[0].other.clone()),
        (json!(200), json!(500))
    );
}

#[test]
fn compressed_bodies_are_compared_decoded() {
    let text = br#"{"n": 1, "s": "x"}"#;
    let p = answer(200, &[("content-encoding", "gzip")], &[&gzip(text)], 1024);
    let same = answer(200, &[], &[text], 1024);
    assert_eq!(compare(&rules(), &p, &same), []);
    let changed = answer(200, &[], &[br#"{"n": 1, "s": "y"}"#], 1024);
    assert_eq!(places(&compare(&rules(), &p, &changed)), ["json:$.s"]);
}

#[test]
fn other_bodies_are_compared_as_bytes() {
    let p = answer(200, &[], &[b"<p>one</p>"], 1024);
    let o = answer(200, &[], &[b"<p>two!</p>"], 1024);
    let found = compare(&rules(), &p, &o);
    assert_eq!(places(&found), ["body"]);
    assert_eq!(found[0].primary["length"], json!(10));
    assert_eq!(found[0].other["length"], json!(11));
    assert_eq!(
        found[0].primary["sha256"],
        json!(hex::encode(Sha256::digest(b"<p>one</p>")))
    );
    // JSON on one side only: bytes too.
    let found = compare(&rules(), &json_answer("{}"), &p);
    assert_eq!(places(&found), ["header:content-type", "body"]);
}

#[test]
fn truncated_bodies_are_compared_by_length_and_hash() {
    let p = answer(200, &[], &[b"0123456789", b"abc"], 8);
    let same = answer(200, &[], &[b"0123", b"456789abc"], 8);
    assert_eq!(compare(&rules(), &p, &same), []);
    let longer = answer(200, &[], &[b"0123456789abcd"], 8);
    let found = compare(&rules(), &p, &longer);
    assert_eq!(places(&found), ["body:length"]);
    assert_eq!(found[0].primary["length"], json!(13));
    assert_eq!(found[0].other["length"], json!(14));
    // One side truncated, the other whole: still by length.
    let whole = answer(200, &[], &[b"01234567"], 8);
    assert_eq!(places(&compare(&rules(), &p, &whole)), ["body:length"]);
}

#[test]
fn bodies_too_large_once_decoded_are_compared_by_length() {
    let big = gzip(&[b'a'; 4096]);
    let p = answer(200, &[("content-encoding", "gzip")], &[&big], 1024);
    assert_eq!(compare(&rules(), &p, &p.clone()), []);
    let o = answer(
        200,
        &[("content-encoding", "gzip")],
        &[&gzip(&[b'b'; 4096])],
        1024,
    );
    assert_eq!(places(&compare(&rules(), &p, &o)), ["body:length"]);
}

#[test]
fn undecodable_bodies_say_why() {
    let p = answer(200, &[("content-encoding", "gzip")], &[b"not gzip"], 1024);
    let o = answer(200, &[], &[b"not gzip"], 1024);
    let found = compare(&rules(), &p, &o);
    assert_eq!(places(&found), ["body"]);
    assert!(found[0].primary["error"]
        .as_str()
        .unwrap()
        .starts_with("corrupt"));
    assert_eq!(found[0].other.get("error"), None);
    assert_eq!(
        compare(&rules(), &p, &p.clone()),
        [],
        "same bytes, same error"
    );
}

#[test]
fn differences_are_bounded_with_a_final_count() {
    let p: Vec<u32> = (0..250).collect();
    let o: Vec<u32> = (1..251).collect();
    let p = json_answer(&serde_json::to_string(&p).unwrap());
    let o = json_answer(&serde_json::to_string(&o).unwrap());
    let found = compare(&rules(), &p, &o);
    assert_eq!(found.len(), MAX_DIFFERENCES + 1);
    assert_eq!(found[MAX_DIFFERENCES - 1].at, "json:$[99]");
    let last = &found[MAX_DIFFERENCES];
    assert_eq!(last.at, OMITTED_AT);
    assert_eq!(last.primary, json!({"omitted": 150}));
}
