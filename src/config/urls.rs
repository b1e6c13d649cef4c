//! The one check for the http(s) URLs of the configuration, and how a URL holding a password
//! is shown.

use url::Url;

/// `raw` as an http(s) URL; otherwise a problem named after `key` is added to `errs`.
pub(super) fn http_url(key: &str, raw: &str, errs: &mut Vec<String>) -> Option<Url> {
    match Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
        Ok(_) => {
            errs.push(format!("{key}: must be an http(s) URL with a host"));
            None
        }
        Err(e) => {
            errs.push(format!("{key}: {e} (must be an http(s) URL with a host)"));
            None
        }
    }
}

/// `scheme://user:***@host/…`: never print a password that sits in a URL (the relay's, and the
/// database's in `check-config`).
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "[unparsable URL redacted]".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_in_urls_are_redacted() {
        let shown = super::redact_url("smtps://bot:hunter2@mail.example.org:465");
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("***"));
    }

    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_pass_the_url_check() {
        let mut errs = Vec::new();
        for ok in [
            "http://127.0.0.1:3978",
            "https://login.microsoftonline.com/x",
        ] {
            assert!(http_url("k", ok, &mut errs).is_some(), "{ok}");
        }
        assert!(errs.is_empty(), "{errs:?}");
        for bad in [
            "javascript:alert(1)",
            "ftp://example.org",
            "not a url",
            "https://",
        ] {
            assert!(http_url("tab.k", bad, &mut errs).is_none(), "{bad}");
        }
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs.iter().all(|e| e.starts_with("tab.k: ")), "{errs:?}");
    }
}
