//! Issue 8, second half: password strength and own words, the argon2 pepper, cookies and
//! transport, data at rest, accounts.

use octopus_teams::{
    config::Argon2Params,
    reset::{
        hasher::{Hasher, Pepper, Verified},
        model::NewPassword,
    },
};
use secrecy::SecretString;

use crate::harness::TestApp;

const PEPPER: &str = "pepper-for-tests-3b9f0c2a7e5d41f8a6c2";

/// The page text as a reader sees it (the templates escape quotes and apostrophes).
fn unescape(html: &str) -> String {
    html.replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
}

fn policy_text(lang: &str, code: &str) -> String {
    let file =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("locales/{lang}.toml"));
    let table: toml::Table = std::fs::read_to_string(file).unwrap().parse().unwrap();
    table["policy"][code]
        .as_str()
        .unwrap_or_else(|| panic!("{lang}: no policy.{code}"))
        .to_string()
}

fn codes_of(html: &str) -> Vec<String> {
    html.split("data-code=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn weak_passwords_are_refused_with_feedback_in_the_pages_language() {
    let app = TestApp::builder()
        .config(|raw| {
            let p = raw.organisations[0].policy.get_or_insert_default();
            p.min_length = 8;
            p.min_strength = 3;
            p.block_own_words = true;
            p.blocked_words = vec!["Octopus".into()];
        })
        .spawn()
        .await;
    let mail = app.link_mail("reset", "trej", 1).await;
    let path = app.path_of(&app.reset_link(&mail));

    for lang in ["fr-CA", "en", "pt"] {
        let page = format!("{path}?lang={lang}");
        // A very common password: too guessable, with zxcvbn's feedback in the page's language.
        let res = app
            .submit(
                &page,
                &page,
                &[("password", "password1"), ("confirmation", "password1")],
            )
            .await;
        assert_eq!(res.status(), 422, "{lang}");
        let html = unescape(&res.text().await.unwrap());
        let codes = codes_of(&html);
        assert!(
            codes.contains(&"too_guessable".to_string()),
            "{lang}: {codes:?}"
        );
        let feedback: Vec<_> = codes
            .iter()
            .filter(|c| c.starts_with("warn_") || c.starts_with("hint_"))
            .collect();
        assert!(
            !feedback.is_empty(),
            "{lang}: no zxcvbn feedback in {codes:?}"
        );
        for code in codes.iter() {
            let text = policy_text(lang, code);
            assert!(html.contains(&text), "{lang}: {code} not shown as {text:?}");
        }
        assert!(
            !html.contains("This is a") || lang == "en",
            "{lang}: English feedback leaked"
        );

        // The organisation's own words and the username, whatever their case or width.
        for own in [
            "Sept-Iles-Marmotte-Bleue-42",
            "TREJ-marmotte-bleue-horizon-7",
            "ｏｃｔｏｐｕｓ-marmotte-bleue-7",
        ] {
            let res = app
                .submit(&page, &page, &[("password", own), ("confirmation", own)])
                .await;
            assert_eq!(res.status(), 422, "{lang}: {own}");
            let html = unescape(&res.text().await.unwrap());
            assert!(
                codes_of(&html).contains(&"blocked_word".to_string()),
                "{lang}: {own}"
            );
            assert!(
                html.contains(&policy_text(lang, "blocked_word")),
                "{lang}: {own}"
            );
        }
    }

    // A long unusual passphrase is accepted, and the link then works as always.
    let good = "marmotte bleue sous la pluie 9";
    let res = app.set_password(&app.reset_link(&mail), good, good).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.sign_in("trej", good, "nothing").await.status(), 303);
}

async fn stored_hash(app: &TestApp) -> String {
    sqlx::query_scalar("select password_hash from account where username = 'trej'")
        .fetch_one(app.store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn with_a_pepper_old_hashes_are_upgraded_at_the_next_sign_in() {
    let app = TestApp::builder()
        .config(|raw| raw.security.password_pepper = Some(SecretString::from(PEPPER)))
        .spawn()
        .await;
    let pw = NewPassword::new("abc123".into());
    let unpeppered = Hasher::new(Argon2Params::OWASP, 1).unwrap();
    let peppered =
        Hasher::with_pepper(Argon2Params::OWASP, 1, Some(Pepper::new(PEPPER.as_bytes()))).unwrap();
    let old = unpeppered.hash(&pw).await.unwrap();
    sqlx::query("update account set password_hash = $1 where username = 'trej'")
        .bind(&old)
        .execute(app.store.pool())
        .await
        .unwrap();

    assert_eq!(app.sign_in("trej", "abc123", "nothing").await.status(), 303);

    let new = stored_hash(&app).await;
    assert_ne!(new, old, "the hash was re-made with the pepper");
    assert_eq!(
        peppered.verify(&pw, Some(&new)).await.unwrap(),
        Verified::Valid {
            needs_rehash: false
        }
    );
    assert_eq!(
        unpeppered.verify(&pw, Some(&new)).await.unwrap(),
        Verified::Invalid,
        "without the pepper the new hash verifies against nothing"
    );
    assert_eq!(app.sign_in("trej", "abc123", "nothing").await.status(), 303);
    assert_eq!(stored_hash(&app).await, new, "upgraded once");

    // The same database served without the pepper: the password no longer signs in.
    let plain = TestApp::builder()
        .restart_of(&app)
        .config(|raw| raw.security.password_pepper = None);
    app.stop().await;
    let app = plain.spawn().await;
    let res = app.sign_in("trej", "abc123", "nothing").await;
    assert_eq!(res.status(), 401, "refused without the pepper");
}
