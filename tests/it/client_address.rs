//! Client addresses for the per-address limits: X-Forwarded-For only through configured trusted
//! proxies, the rightmost entry that is not one of them; IPv6 clients counted per /64.

use figment::Figment;
use octopus_teams::config::{DEFAULTS, RawConfig};

use crate::{
    harness::{TestApp, csrf_of},
    rate_limits::start_of_window,
};

/// One `/forgot` post carrying `forwarded` as X-Forwarded-For (if any); returns the status.
async fn forgot(app: &TestApp, forwarded: Option<&str>, username: &str) -> u16 {
    forgot_with(app, "x-forwarded-for", forwarded, username).await
}

/// One `/forgot` post carrying `forwarded` in `header`; returns the status.
async fn forgot_with(app: &TestApp, header: &str, forwarded: Option<&str>, username: &str) -> u16 {
    let (_, html) = app.get("/forgot").await;
    let csrf = csrf_of(&html);
    let mut req = app.client.post(app.url("/forgot")).form(&[
        ("csrf", csrf.as_str()),
        ("org", "demo"),
        ("username", username),
    ]);
    if let Some(f) = forwarded {
        req = req.header(header, f);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn behind_loopback_proxy() -> TestApp {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.requests_per_ip = 3;
            c.http.trusted_proxies = vec!["127.0.0.0/8".into()];
        })
        .spawn()
        .await;
    start_of_window(&app, 900);
    app
}

#[tokio::test]
async fn a_spoofed_leftmost_forwarded_for_behind_a_trusted_proxy_still_gets_429() {
    let app = behind_loopback_proxy().await;
    // The client writes anything on the left; our proxy appends the real address on the right.
    for i in 0..3 {
        let xff = format!("10.{i}.{i}.{i}, 203.0.113.7");
        assert_eq!(forgot(&app, Some(&xff), &format!("u{i}")).await, 200);
    }
    assert_eq!(
        forgot(&app, Some("192.0.2.99, 203.0.113.7"), "u9").await,
        429,
        "a new leftmost address does not make a new client"
    );
    assert_eq!(
        forgot(&app, Some("203.0.113.8"), "u9").await,
        200,
        "another client behind the proxy has its own allowance"
    );
}

#[tokio::test]
async fn addresses_written_with_a_port_are_each_their_own_client() {
    let app = behind_loopback_proxy().await;
    for n in 1..=3 {
        let xff = format!("198.51.100.66:4000{n}");
        assert_eq!(forgot(&app, Some(&xff), &format!("u{n}")).await, 200);
    }
    assert_eq!(
        forgot(&app, Some("198.51.100.66:40004"), "u4").await,
        429,
        "the 4th request of the same client, whatever its port"
    );
    assert_eq!(
        forgot(&app, Some("203.0.113.7:51515"), "u5").await,
        200,
        "another client is not in the first one's bucket (nor the proxy's)"
    );
}

#[tokio::test]
async fn bracketed_ipv6_with_a_port_is_counted_per_64() {
    let app = behind_loopback_proxy().await;
    for n in 1..=3 {
        let xff = format!("[2001:db8:1::{n}]:443");
        assert_eq!(forgot(&app, Some(&xff), &format!("u{n}")).await, 200);
    }
    assert_eq!(
        forgot(&app, Some("[2001:db8:1::4]:443"), "u4").await,
        429,
        "a 4th address of the same /64"
    );
    assert_eq!(
        forgot(&app, Some("[2001:db8:2::1]:443"), "u5").await,
        200,
        "another /64 is another client"
    );
}

#[tokio::test]
async fn the_rfc_7239_header_is_read_when_the_proxy_writes_it() {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.requests_per_ip = 3;
            c.http.trusted_proxies = vec!["127.0.0.0/8".into()];
            c.http.forwarded_header = octopus_teams::config::ForwardedHeader::Forwarded;
        })
        .spawn()
        .await;
    start_of_window(&app, 900);
    for n in 1..=3 {
        let fwd = format!("for=\"[2001:db8::{n}]:443\";proto=https");
        assert_eq!(
            forgot_with(&app, "forwarded", Some(&fwd), &format!("u{n}")).await,
            200
        );
    }
    assert_eq!(
        forgot_with(&app, "forwarded", Some("for=\"[2001:db8::9]:443\""), "u4").await,
        429
    );
    assert_eq!(
        forgot_with(
            &app,
            "forwarded",
            Some("for=198.51.100.17;proto=https"),
            "u5"
        )
        .await,
        200
    );
    assert_eq!(
        forgot(&app, Some("203.0.113.99"), "u6").await,
        200,
        "X-Forwarded-For is not read when the proxy writes Forwarded"
    );
}

#[tokio::test]
async fn an_entry_that_is_no_address_never_lands_in_the_proxy_s_bucket() {
    let app = behind_loopback_proxy().await;
    for n in 1..=3 {
        assert_eq!(
            forgot(&app, Some(&format!("garbage-{n}")), &format!("u{n}")).await,
            200,
            "each unreadable entry is its own client"
        );
    }
    // Without a forwarded header the proxy itself is the client: its bucket is still empty.
    for n in 1..=3 {
        assert_eq!(forgot(&app, None, &format!("p{n}")).await, 200);
    }
    assert_eq!(
        forgot(&app, None, "p4").await,
        429,
        "the proxy's own bucket"
    );
    assert_eq!(
        forgot(&app, Some("garbage-1"), "u9").await,
        200,
        "the unreadable client kept its own count (1 of 3)"
    );
}

#[tokio::test]
async fn a_header_that_is_no_text_is_not_the_proxy_s_bucket_either() {
    let app = behind_loopback_proxy().await;
    let raw =
        reqwest::header::HeaderValue::from_bytes(b"203.0.113.7\xff, 198.51.100.1\xfe").unwrap();
    for n in 1..=3 {
        let (_, html) = app.get("/forgot").await;
        let status = app
            .client
            .post(app.url("/forgot"))
            .header("x-forwarded-for", raw.clone())
            .form(&[
                ("csrf", csrf_of(&html).as_str()),
                ("org", "demo"),
                ("username", &format!("u{n}")),
            ])
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    assert_eq!(
        forgot(&app, None, "p1").await,
        200,
        "the proxy's own bucket is untouched"
    );
}

#[tokio::test]
async fn an_untrusted_peer_s_forwarded_for_is_ignored() {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.requests_per_ip = 3;
            c.http.trusted_proxies = vec!["10.0.0.0/8".into()];
        })
        .spawn()
        .await;
    start_of_window(&app, 900);
    for i in 0..3 {
        let xff = format!("198.51.100.{i}");
        assert_eq!(forgot(&app, Some(&xff), &format!("u{i}")).await, 200);
    }
    assert_eq!(
        forgot(&app, Some("198.51.100.77"), "u9").await,
        429,
        "the header of a peer that is no proxy of ours changes nothing"
    );
}

#[tokio::test]
async fn ipv6_clients_in_one_64_share_a_bucket() {
    let app = behind_loopback_proxy().await;
    for (i, addr) in [
        "2001:db8:1:2::1",
        "2001:db8:1:2:aaaa::5",
        "2001:db8:1:2:ffff:1:2:3",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(forgot(&app, Some(addr), &format!("u{i}")).await, 200);
    }
    assert_eq!(
        forgot(&app, Some("2001:db8:1:2:1234::9"), "u9").await,
        429,
        "a fourth address of the same /64"
    );
    assert_eq!(
        forgot(&app, Some("2001:db8:1:3::1"), "u9").await,
        200,
        "the next /64 is another client"
    );
}

/// Validates the embedded defaults with `toml` merged over them, in process (as `check-config`
/// does): `(valid, errors)`.
fn check_config(toml: &str) -> (bool, String) {
    use figment::providers::{Format, Toml};
    let raw: RawConfig = Figment::from(Toml::string(DEFAULTS))
        .merge(Toml::string(toml))
        .extract()
        .unwrap();
    match raw.validate() {
        Ok(_) => (true, String::new()),
        Err(e) => (false, e.0.join("\n")),
    }
}

#[test]
fn the_old_boolean_is_refused_with_what_replaces_it() {
    let (ok, err) = check_config("[http]\ntrust_forwarded_for = true");
    assert!(!ok);
    assert!(
        err.contains("http.trust_forwarded_for") && err.contains("http.trusted_proxies"),
        "{err}"
    );
    let (ok, err) = check_config("[http]\ntrusted_proxies = [\"10.0.0.300/8\"]");
    assert!(!ok);
    assert!(err.contains("not a CIDR range"), "{err}");
}

#[test]
fn local_development_mode_refuses_a_public_base_url_or_proxies() {
    let (ok, err) = check_config("[http]\npublic_base_url = \"https://octo.example.org\"");
    assert!(!ok, "a public address without an app id");
    assert!(err.contains("local-development mode"), "{err}");
    let (ok, err) = check_config("[http]\ntrusted_proxies = [\"10.0.0.0/8\"]");
    assert!(!ok, "a proxy in front without an app id");
    assert!(err.contains("http.trusted_proxies"), "{err}");
    let (ok, err) = check_config("");
    assert!(
        ok,
        "the embedded defaults are local-development mode and valid: {err}"
    );
}

#[tokio::test]
async fn a_client_refused_does_not_use_up_the_account_s_allowance() {
    let app = TestApp::builder()
        .config(|c| {
            c.limits.requests_per_ip = 2;
            c.limits.requests_per_account = 3;
            c.http.trusted_proxies = vec!["127.0.0.0/8".into()];
        })
        .spawn()
        .await;
    start_of_window(&app, 900);
    // One client asks for Julie's link five times: two pass, three are refused.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(forgot(&app, Some("198.51.100.20"), "trej").await);
    }
    assert_eq!(statuses, [200, 200, 429, 429, 429]);
    // Julie herself, from elsewhere: her account has used 2 of its 3, so her link is mailed.
    assert_eq!(forgot(&app, Some("203.0.113.50"), "trej").await, 200);
    let queued = app.mails_queued().await.len();
    assert_eq!(
        queued, 3,
        "the refused requests did not count against the account"
    );
}
