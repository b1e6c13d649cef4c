//! The pages open in the organisation's language first, the others as links (the seed's
//! « ENGLISH / PORTUGUÊS »), and remember the person's choice in a cookie; deployments that
//! prefer the browser's language say `pages.language = "browser"`.

use reqwest::header::{ACCEPT_LANGUAGE, HeaderMap, HeaderValue, SET_COOKIE};

use crate::harness::TestApp;

/// A browser of its own (cookie store, no redirects) whose Accept-Language is `accept`.
fn browser(accept: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(accept).unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> (String, Vec<String>) {
    let res = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let cookies = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    (res.text().await.unwrap(), cookies)
}

/// The `href` of the language link to `code`, as the page writes it (HTML-unescaped).
fn lang_link(html: &str, code: &str) -> String {
    let at = html
        .find(&format!("hreflang=\"{code}\""))
        .unwrap_or_else(|| panic!("no link to {code}: {html}"));
    let start = html[..at].rfind("href=\"").unwrap() + "href=\"".len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

#[tokio::test]
async fn pages_open_in_the_organisations_language_and_remember_the_persons_choice() {
    let app = TestApp::spawn().await; // the organisation's default: fr-CA
    let en_browser = browser("en-US,en;q=0.9");

    let (fr, cookies) = page(&app, &en_browser, "/forgot?org=demo").await;
    assert!(
        fr.contains("<html lang=\"fr-CA\"") && fr.contains("Réinitialiser votre mot de passe"),
        "French first, whatever the browser says: {fr}"
    );
    assert!(
        fr.contains(">ENGLISH<") && fr.contains(">PORTUGUÊS<") && !fr.contains(">FRANÇAIS<"),
        "the other languages as links"
    );
    assert!(
        !cookies.iter().any(|c| c.starts_with("octo_lang=")),
        "nothing chosen, nothing remembered: {cookies:?}"
    );

    // ENGLISH
    let (en, cookies) = page(&app, &en_browser, &lang_link(&fr, "en")).await;
    assert!(en.contains("<html lang=\"en\""), "{en}");
    assert!(en.contains(">FRANÇAIS<") && en.contains(">PORTUGUÊS<"));
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("octo_lang="))
        .expect("the choice is kept in a cookie");
    assert!(cookie.starts_with("octo_lang=en;"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http here: {cookie}");

    // The next pages stay English.
    let (login, _) = page(&app, &en_browser, "/login?org=demo").await;
    assert!(login.contains("<html lang=\"en\""), "{login}");
    let (enroll, _) = page(&app, &en_browser, "/enroll?org=demo").await;
    assert!(enroll.contains("<html lang=\"en\""), "{enroll}");
    let link = app.reset_link(&app.link_mail("reset", "trej", 1).await);
    let (reset, _) = page(&app, &en_browser, &app.path_of(&link)).await;
    assert!(
        reset.contains("<html lang=\"en\""),
        "the link's page too: {reset}"
    );

    // Another browser, never asked: the organisation's language.
    let (other, _) = page(&app, &browser("en"), "/login?org=demo").await;
    assert!(other.contains("<html lang=\"fr-CA\""));
}

#[tokio::test]
async fn an_organisation_whose_language_is_english_opens_in_english() {
    let app = TestApp::builder()
        .config(|c| c.organisations[0].default_locale = "en".into())
        .spawn()
        .await;
    let (html, _) = page(&app, &browser("fr-CA,fr;q=0.9"), "/login?org=demo").await;
    assert!(html.contains("<html lang=\"en\""), "{html}");
    assert!(html.contains(">FRANÇAIS<") && html.contains(">PORTUGUÊS<"));
}

#[tokio::test]
async fn with_pages_language_browser_the_accept_language_decides_until_the_person_chooses() {
    let app = TestApp::builder()
        .config(|c| c.pages.language = octopus_teams::config::PageLanguage::Browser)
        .spawn()
        .await;
    let en_browser = browser("en-US,en;q=0.9");
    let (html, _) = page(&app, &en_browser, "/forgot?org=demo").await;
    assert!(html.contains("<html lang=\"en\""), "{html}");
    let (html, _) = page(&app, &browser("pt-BR"), "/login?org=demo").await;
    assert!(html.contains("<html lang=\"pt\""), "{html}");
    let (html, _) = page(&app, &browser("de-DE"), "/login?org=demo").await;
    assert!(
        html.contains("<html lang=\"fr-CA\""),
        "a language we do not speak: the organisation's"
    );

    // A choice beats the browser.
    let (pt, _) = page(&app, &en_browser, "/forgot?org=demo&lang=pt").await;
    assert!(pt.contains("<html lang=\"pt\""));
    let (next, _) = page(&app, &en_browser, "/login?org=demo").await;
    assert!(next.contains("<html lang=\"pt\""), "{next}");
}

#[tokio::test]
async fn the_language_cookie_is_secure_when_the_service_is_served_over_https() {
    let app = TestApp::builder()
        .config(|c| c.http.public_base_url = "https://octopus.cegepsi.ca".into())
        .spawn()
        .await;
    let (_, cookies) = page(&app, &browser("fr-CA"), "/login?org=demo&lang=pt").await;
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("__Host-octo_lang="))
        .expect("the language cookie, host-only behind https");
    assert!(
        cookie.contains("; Secure") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // The choice is read back under the name it was written with.
    let next = reqwest::Client::new()
        .get(app.url("/login?org=demo"))
        .header("cookie", "__Host-octo_lang=pt")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(next.contains("<html lang=\"pt\""), "{next}");
}
