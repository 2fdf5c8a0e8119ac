//! `GET /`: the live page, one HTML file with its CSS and script inline
//! (`page.html`), served from the binary: no outside assets, nothing to
//! install, and it works on an admin listener with no route out.
//!
//! Its Content-Security-Policy lets the page do exactly what it does: run
//! its one inline script (allowed by hash, so nothing injected could
//! run), use inline styles, and fetch from the admin listener itself.

use std::sync::LazyLock;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use super::respond::{answer, Answer};

/// The page.
const PAGE: &str = include_str!("page.html");

/// The answer to `GET /`.
pub(crate) fn page() -> Answer {
    let mut response = answer(
        StatusCode::OK,
        Bytes::from_static(PAGE.as_bytes()),
        "text/html; charset=utf-8",
    );
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, CSP.clone());
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The policy, with the hash of the page's script (computed once).
static CSP: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script(PAGE)));
    let policy = format!(
        "default-src 'self'; script-src 'sha256-{hash}'; style-src 'unsafe-inline'; \
         connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy).expect("a CSP is a valid header value")
});

/// The text of the page's one inline script: what the browser hashes.
fn script(page: &str) -> &str {
    let start = page.find("<script>").expect("the page has a script") + "<script>".len();
    let len = page[start..]
        .find("</script>")
        .expect("the page's script ends");
    &page[start..start + len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_inline_script_allowed_by_its_hash() {
        assert_eq!(PAGE.matches("<script").count(), 1, "one script, inline");
        let csp = CSP.to_str().unwrap();
        // SHA-256 of "alert(1)", as browsers compute it: the hash is of the
        // exact text between the tags, base64.
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .encode(Sha256::digest(script("<p><script>alert(1)</script>"))),
            "bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI="
        );
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script(PAGE)));
        assert!(
            csp.contains(&format!("script-src 'sha256-{hash}';")),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-eval") && csp.starts_with("default-src 'self';"));
    }

    #[test]
    fn the_page_loads_nothing_from_outside() {
        // The SVG namespace is a name, not an address that is fetched.
        let page = PAGE.replace("http://www.w3.org/2000/svg", "");
        for outside in [
            "http://", "https://", "\"//", "'//", "src=", "@import", "url(",
        ] {
            let at = page.find(outside);
            assert!(
                at.is_none(),
                "the page refers to {outside:?} at byte {at:?}"
            );
        }
    }

    #[test]
    fn served_as_html_never_cached_with_the_policy() {
        let response = page();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["content-security-policy"], *CSP);
        assert_eq!(headers["x-content-type-options"], "nosniff");
    }
}
