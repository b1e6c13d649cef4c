//! The emailed, expiring link: request, inspect, complete once, cancel.

use std::time::Duration;

use octopus_teams::model::{AccountId, Purpose, ResetToken};
use octopus_teams::{clock::Clock, i18n::Locale, store::tokens};

use crate::harness::{TestApp, without_csrf};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_reset_link_arrives_by_mail_and_sets_the_password() {
    let app = TestApp::spawn().await;

    let res = app.request_link("reset", "TreJ ").await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Vérifiez vos courriels"), "{page}");

    let mail = app.smtp.wait_for(1, WAIT).await.remove(0);
    assert_eq!(mail.to, vec!["<julie.tremblay@cegepsi.ca>".to_string()]);
    assert!(
        mail.from.contains("supportTI@cegepsi.ca"),
        "from the organisation's sender: {}",
        mail.from
    );
    assert_eq!(mail.subject(), "Réinitialisation de mot de passe");
    let text = mail.text();
    for expected in [
        "Bonjour Julie Tremblay,",
        "Changement de mot de passe",
        "l'accès à cette page est d'une durée limitée",
        "valide jusqu'à ",
        "vous pouvez ignorer ce courriel sans crainte",
        "Votre Centre de services informatiques",
        "Ce n'était pas moi",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(mail.html().contains("Changement de mot de passe</a>"));
    assert!(
        mail.header("Message-ID")
            .is_some_and(|m| m.ends_with("@127.0.0.1>"))
    );
    let link = app.reset_link(&mail);

    let (status, form) = app.get(&app.path_of(&link)).await;
    assert_eq!(status, 200);
    assert!(form.contains("Changer mon mot de passe"));
    assert!(
        form.contains("Nouveau mot de passe")
            && form.contains("Confirmation du nouveau mot de passe")
    );
    assert!(form.contains("trej"));

    let res = app.set_password(&link, "ete2026", "ete2026").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?org=demo&changed=reset");
    let (_, login) = app.get("/login?org=demo&changed=reset").await;
    assert!(login.contains("Votre mot de passe a été changé"));

    let res = app.sign_in("trej", "ete2026", "nothing").await;
    assert_eq!(res.status(), 303, "signs in with the new password");
    assert_eq!(res.headers()["location"], "/account?org=demo");
    let (_, account) = app.get("/account?org=demo").await;
    assert!(
        account.contains("Accéder au portail Web Octopus"),
        "{account}"
    );
    assert!(account.contains("https://demo.octopus-itsm.com/Web/Login.aspx"));

    let confirmation = app.smtp.wait_for(2, WAIT).await.remove(1);
    assert_eq!(confirmation.subject(), "Votre mot de passe a été changé");
    assert!(confirmation.text().contains("Si ce n'était pas vous"));
    let events = app.audit_events().await;
    assert!(events.contains(&"link_requested".to_string()), "{events:?}");
    assert!(
        events.contains(&"password_changed".to_string()),
        "{events:?}"
    );
    assert!(events.contains(&"mail_sent".to_string()), "{events:?}");
}

#[tokio::test]
async fn enrolment_uses_the_same_mechanism_with_its_own_words() {
    let app = TestApp::spawn().await;
    let (_, page) = app.get("/enroll?org=demo").await;
    assert!(page.contains("M&#x27;inscrire au service"), "{page}");
    assert!(page.contains("3 premières lettres du nom et à la première lettre du prénom"));

    let mail = app.link_mail("enroll", "gagm", 1).await;
    // Marc's account prefers English, but the request was made in French: the requester's language wins.
    assert_eq!(
        mail.subject(),
        "Inscription au portail Web du Centre de services"
    );
    let link = app.reset_link(&mail);
    let res = app.set_password(&link, "bonjour1", "bonjour1").await;
    assert_eq!(res.headers()["location"], "/login?org=demo&changed=enroll");
    assert_eq!(
        app.sign_in("gagm", "bonjour1", "nothing").await.status(),
        303
    );
    assert!(app.audit_events().await.contains(&"enrolled".to_string()));
}

#[tokio::test]
async fn an_unknown_username_gets_the_same_answer() {
    let app = TestApp::spawn().await;
    let known = app.request_link("reset", "trej").await;
    let (known_status, known_page) = (known.status(), known.text().await.unwrap());
    let unknown = app.request_link("reset", "nobody").await;
    let (unknown_status, unknown_page) = (unknown.status(), unknown.text().await.unwrap());

    assert_eq!(known_status, unknown_status);
    assert_eq!(without_csrf(&known_page), without_csrf(&unknown_page));
    app.smtp.wait_for(1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.smtp.received().len(),
        1,
        "no mail for the unknown username"
    );
    assert!(
        app.audit_events()
            .await
            .contains(&"link_requested_unknown_account".to_string())
    );
}

#[tokio::test]
async fn get_of_the_link_does_not_consume_it() {
    let app = TestApp::spawn().await;
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    for _ in 0..3 {
        assert_eq!(app.get(&app.path_of(&link)).await.0, 200);
        assert_eq!(
            app.get(&format!("{}/cancel", app.path_of(&link))).await.0,
            200
        );
    }
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
}

#[tokio::test]
async fn a_reset_link_works_only_once() {
    let app = TestApp::spawn().await;
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );

    let res = app.set_password(&link, "xyz789", "xyz789").await;
    assert_eq!(res.status(), 410);
    let page = res.text().await.unwrap();
    assert!(page.contains("data-problem=\"used\""), "{page}");
    assert_eq!(app.sign_in("trej", "xyz789", "nothing").await.status(), 401);
    assert_eq!(app.sign_in("trej", "abc123", "nothing").await.status(), 303);
}

#[tokio::test]
async fn an_expired_link_is_refused_by_the_server() {
    let app = TestApp::spawn().await;
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    app.advance(Duration::from_secs(29 * 60));
    assert_eq!(
        app.get(&app.path_of(&link)).await.0,
        200,
        "still valid before 30 min"
    );
    app.advance(Duration::from_secs(2 * 60));
    let (status, page) = app.get(&app.path_of(&link)).await;
    assert_eq!(status, 410);
    assert!(page.contains("data-problem=\"expired\""), "{page}");
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        410
    );
}

#[tokio::test]
async fn the_token_lifetime_is_set_per_organisation() {
    let app = TestApp::builder()
        .config(|c| c.organisations[0].token_lifetime_minutes = 5)
        .spawn()
        .await;
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    app.advance(Duration::from_secs(6 * 60));
    assert_eq!(app.get(&app.path_of(&link)).await.0, 410);
}

#[tokio::test]
async fn a_newer_request_supersedes_the_older_link() {
    let app = TestApp::spawn().await;
    let first = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    let second = app.reset_link(&app.link_mail("reset", "trej", 2).await);
    assert_ne!(first, second);
    let (status, page) = app.get(&app.path_of(&first)).await;
    assert_eq!(status, 410);
    assert!(page.contains("data-problem=\"revoked\""));
    assert_eq!(
        app.set_password(&second, "abc123", "abc123").await.status(),
        303
    );
}

#[tokio::test]
async fn of_two_concurrent_submits_exactly_one_succeeds() {
    let app = TestApp::spawn().await;
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    let path = app.path_of(&link);
    let (_, html) = app.get(&path).await;
    let csrf = crate::harness::csrf_of(&html);
    let post = |pw: &'static str| {
        let form = vec![
            ("csrf", csrf.clone()),
            ("password", pw.to_string()),
            ("confirmation", pw.to_string()),
        ];
        app.client.post(app.url(&path)).form(&form).send()
    };
    let (a, b) = tokio::join!(post("first111"), post("second22"));
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 410]);
    let ok_first = app.sign_in("trej", "first111", "nothing").await.status() == 303;
    let ok_second = app.sign_in("trej", "second22", "nothing").await.status() == 303;
    assert!(ok_first ^ ok_second, "exactly one password was set");
}

#[tokio::test]
async fn policy_and_confirmation_failures_are_shown_inline_and_keep_the_link() {
    let app = TestApp::spawn().await;
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);

    let res = app.set_password(&link, "abc", "abd").await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("data-code=\"too_short\""), "{page}");
    assert!(page.contains("au moins 4 caractères"));
    assert!(page.contains("data-code=\"no_digit\""));
    assert!(page.contains("data-code=\"mismatch\""));

    let res = app.set_password(&link, "1234", "1234").await;
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("data-code=\"no_letter\"")
    );

    assert_eq!(
        app.set_password(&link, "abc1", "abc1").await.status(),
        303,
        "the link still works"
    );
}

#[tokio::test]
async fn pages_speak_english_and_portuguese_and_the_mail_follows() {
    let app = TestApp::spawn().await;
    let (_, fr) = app.get("/forgot?org=demo").await;
    assert!(fr.contains("Réinitialiser votre mot de passe"));
    assert!(
        fr.contains(">ENGLISH<") && fr.contains(">PORTUGUÊS<"),
        "the seed's language switch"
    );

    let (_, en) = app.get("/forgot?org=demo&lang=en").await;
    assert!(en.contains("<html lang=\"en\""));
    assert!(
        en.contains(&words(Locale::En, "request.reset_title")),
        "{en}"
    );
    let (_, pt) = app.get("/forgot?org=demo&lang=pt").await;
    assert!(pt.contains("<html lang=\"pt\""));
    assert!(
        pt.contains(&words(Locale::Pt, "request.reset_title")),
        "{pt}"
    );
    // The choice is remembered (cookie): the request and its mail are in Portuguese.
    let mail = app.link_mail("reset", "trej", 1).await;
    assert_eq!(mail.subject(), words(Locale::Pt, "mail.reset.subject"));
    assert!(
        mail.text().contains(&words(Locale::Pt, "mail.reset.intro")),
        "{}",
        mail.text()
    );
    assert!(
        mail.parsed().subparts[1]
            .get_body()
            .unwrap()
            .contains("lang=\"pt\"")
    );

    // A browser that never chose: the organisation's language first, whatever its
    // Accept-Language (pages.language = "organisation"; tests/it/page_language.rs has the rest).
    let fresh = reqwest::Client::new();
    let page = fresh
        .get(app.url("/login"))
        .header("accept-language", "en-US,en;q=0.9")
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("<html lang=\"fr-CA\""));
    assert!(page.contains("Mot de passe oublié"), "{page}");
}

/// A string of another language's table, which must really be translated (`get` falls back to
/// French).
fn words(locale: Locale, key: &str) -> String {
    let strings = octopus_teams::i18n::Strings::load().unwrap();
    let s = strings.get(locale, key);
    assert_ne!(s, strings.get(Locale::FrCa, key), "{key} is not translated");
    s
}

#[tokio::test]
async fn ce_n_etait_pas_moi_cancels_the_link_only_on_post() {
    let app = TestApp::spawn().await;
    let mail = app.link_mail("reset", "trej", 1).await;
    let cancel = mail.link(&format!("{}/reset/", app.base));
    let cancel = app.path_of(&cancel).replace("/cancel", "");
    let cancel = format!("{cancel}/cancel");
    let (status, page) = app.get(&cancel).await;
    assert_eq!(status, 200);
    assert!(page.contains("Ce n&#x27;était pas moi"), "{page}");

    let res = app.submit(&cancel, &cancel, &[]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Lien annulé"));
    let link = app.reset_link(&mail);
    assert_eq!(app.get(&app.path_of(&link)).await.0, 410);
    assert!(
        app.audit_events()
            .await
            .contains(&"link_cancelled".to_string())
    );
}

#[tokio::test]
async fn a_completed_change_ends_sessions_and_revokes_every_link() {
    let app = TestApp::spawn().await;
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
    assert_eq!(app.sign_in("trej", "abc123", "me").await.status(), 303);
    assert_eq!(app.get("/account?org=demo").await.0, 200, "signed in");

    // A new link, and a second live one beside it: a request does supersede older links, but
    // two concurrent requests on PostgreSQL can each find none to supersede.
    let link2 = app.reset_link(&app.link_mail("reset", "trej", 3).await);
    let other = live_link_beside(&app, "trej").await;
    assert_eq!(app.get(&other).await.0, 200, "the other link is live");

    // A new link completes the change again: the earlier session ends, every other link dies.
    assert_eq!(
        app.set_password(&link2, "def456", "def456").await.status(),
        303
    );
    let res = app
        .client
        .get(app.url("/account?org=demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the old session no longer works");

    let (status, page) = app.get(&other).await;
    assert_eq!(status, 410, "{page}");
    assert!(page.contains("data-problem=\"revoked\""), "{page}");
    let res = app.set_password(&app.url(&other), "ghi789", "ghi789").await;
    assert_eq!(res.status(), 410, "the revoked link cannot set a password");
    let reason: Option<String> =
        sqlx::query_scalar("select revoked_reason from reset_token where token_id = 'beside'")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(reason.as_deref(), Some("completed"));
    let (status, page) = app.get(&app.path_of(&link)).await;
    assert_eq!(status, 410);
    assert!(page.contains("data-problem=\"used\""), "{page}");
    assert_eq!(app.sign_in("trej", "def456", "nothing").await.status(), 303);
    assert_eq!(app.sign_in("trej", "ghi789", "nothing").await.status(), 401);
}

/// Stores one more live link for the account (as a racing request would) and returns its path.
async fn live_link_beside(app: &TestApp, username: &str) -> String {
    let account: String = sqlx::query_scalar("select account_id from account where username = $1")
        .bind(username)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let token = ResetToken::generate();
    let now = app.clock.unix();
    let mut conn = app.store.conn().await.unwrap();
    tokens::insert(
        &mut conn,
        &tokens::NewToken {
            token_id: "beside",
            hash: &token.hash(),
            account_id: &AccountId(account),
            purpose: Purpose::Reset,
            locale: "fr-CA",
            created_at: now,
            expires_at: now + 1800,
        },
    )
    .await
    .unwrap();
    format!("/reset/{}", token.expose())
}

#[tokio::test]
async fn links_are_built_from_the_configured_base_url_not_the_host_header() {
    let app = TestApp::spawn().await;
    let (_, html) = app.get("/forgot").await;
    let csrf = crate::harness::csrf_of(&html);
    let res = app
        .client
        .post(app.url("/forgot"))
        .header("host", "evil.example")
        .form(&[
            ("csrf", csrf.as_str()),
            ("org", "demo"),
            ("username", "trej"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mail = app.smtp.wait_for(1, WAIT).await.remove(0);
    assert!(!mail.text().contains("evil.example"));
    assert!(mail.text().contains(&format!("{}/reset/", app.base)));
}

#[tokio::test]
async fn token_pages_are_not_cached_not_framed_and_leak_no_referrer() {
    let app = TestApp::spawn().await;
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    // A browser opening the mailed link for the first time (no cookies yet): the page sets its
    // CSRF cookie.
    let res = reqwest::Client::new().get(&link).send().await.unwrap();
    let h = res.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let cookies = set_cookies(&res);
    assert!(
        cookies.iter().any(|c| c.starts_with("octo_csrf=")),
        "{cookies:?}"
    );
    for c in &cookies {
        assert_http_only_and_same_site(c);
        assert!(!has_attribute(c, "Secure"), "plain http: not Secure: {c}");
    }
}

#[tokio::test]
async fn behind_https_every_cookie_is_secure_http_only_and_same_site() {
    let app = TestApp::builder()
        .config(|c| c.http.public_base_url = c.http.public_base_url.replace("http:", "https:"))
        .spawn()
        .await;
    let https_base = app.base.replace("http:", "https:");
    let mut seen = Vec::new();

    // First visit with a language choice: the CSRF and language cookies.
    let res = reqwest::Client::new()
        .get(app.url("/forgot?org=demo&lang=en"))
        .send()
        .await
        .unwrap();
    seen.extend(set_cookies(&res));
    // The mailed link (it says https), opened in a new browser.
    let mail = app.link_mail("enroll", "trej", 1).await;
    let link = mail.link(&format!("{https_base}/reset/"));
    let link = link
        .trim_end_matches("/cancel")
        .replace(&https_base, &app.base);
    let res = reqwest::Client::new().get(&link).send().await.unwrap();
    assert_eq!(res.status(), 200);
    seen.extend(set_cookies(&res));
    // Signing in (remembered) and out: the session and remember-me cookies.
    assert_eq!(
        app.set_password(&link, "abc123", "abc123").await.status(),
        303
    );
    let res = app.sign_in("trej", "abc123", "me").await;
    assert_eq!(res.status(), 303);
    seen.extend(set_cookies(&res));
    let res = app
        .submit("/account?org=demo", "/logout", &[("org", "demo")])
        .await;
    assert_eq!(res.status(), 303);
    seen.extend(set_cookies(&res));

    for name in [
        "octo_csrf",
        "octo_lang",
        "octo_session",
        "octo_user",
        "octo_remember",
    ] {
        // Behind https the cookies are host-only (`__Host-`): see hardening.rs.
        assert!(
            seen.iter()
                .any(|c| c.starts_with(&format!("{name}="))
                    || c.starts_with(&format!("__Host-{name}="))),
            "{name} never set: {seen:?}"
        );
    }
    for c in &seen {
        assert_http_only_and_same_site(c);
        assert!(has_attribute(c, "Secure"), "behind https, Secure: {c}");
    }
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// The cookie's attributes (after `name=value`), as `Name` or `Name=value`.
fn attributes(cookie: &str) -> Vec<String> {
    cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_string())
        .collect()
}

fn has_attribute(cookie: &str, name: &str) -> bool {
    attributes(cookie)
        .iter()
        .any(|a| a.eq_ignore_ascii_case(name))
}

fn assert_http_only_and_same_site(cookie: &str) {
    assert!(has_attribute(cookie, "HttpOnly"), "HttpOnly: {cookie}");
    assert!(
        has_attribute(cookie, "SameSite=Lax") || has_attribute(cookie, "SameSite=Strict"),
        "SameSite Lax or Strict: {cookie}"
    );
}

#[tokio::test]
async fn a_form_without_its_csrf_value_is_refused() {
    let app = TestApp::spawn().await;
    let _ = app.get("/forgot").await;
    let res = app
        .client
        .post(app.url("/forgot"))
        .form(&[("csrf", "forged"), ("org", "demo"), ("username", "trej")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(app.smtp.received().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_malformed_username_is_explained_without_echoing_markup() {
    let app = TestApp::spawn().await;
    let res = app.request_link("reset", "<script>alert(1)</script>").await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(!page.contains("<script>alert"), "escaped");
    assert!(page.contains("id=\"error\""));
}

#[tokio::test]
async fn a_mangled_or_truncated_link_gets_the_link_page_in_the_page_s_language() {
    let app = TestApp::spawn().await;
    for path in ["/reset/%00%ff", "/reset/", "/reset", "/reset/%ff/cancel"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        let page = res.text().await.unwrap();
        assert!(status == 404 || status == 410, "{path}: {status}");
        assert!(
            page.contains("<html lang=\"fr-CA\""),
            "{path}: the service's own page"
        );
        assert!(
            page.contains("lien"),
            "{path}: says it is about the link:\n{page}"
        );
        assert!(!page.contains("Invalid URL"), "{path}");
    }
}

#[tokio::test]
async fn a_username_too_long_is_called_too_long() {
    let app = TestApp::spawn().await;
    let res = app.request_link("reset", &"a".repeat(10_000)).await;
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap().replace("&#x27;", "'");
    assert!(page.contains("trop long"), "{page}");
    assert!(!page.contains(&"a".repeat(65)), "not echoed whole");
}
