//! The service's forms as a browser fills them, against any running instance (in-process or the
//! real binary): the CSRF value of a page, and « mot de passe oublié » sent.

use std::time::Instant;

/// The CSRF value of a page's form.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("page has a CSRF field");
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// GET `/forgot` then POST it for `username` in the demo organisation, with a browser's
/// cookies; asserts the 200 and returns when the POST was sent (the request's time).
pub async fn forgot(base: &str, username: &str) -> Instant {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .expect("an HTTP client");
    let html = client
        .get(format!("{base}/forgot"))
        .send()
        .await
        .expect("GET /forgot")
        .text()
        .await
        .expect("the form");
    let csrf = csrf_of(&html);
    let at = Instant::now();
    let res = client
        .post(format!("{base}/forgot"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("org", "demo"),
            ("username", username),
        ])
        .send()
        .await
        .expect("POST /forgot");
    assert_eq!(res.status(), 200, "{username} via {base}");
    at
}
