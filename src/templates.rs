//! The page and mail templates, embedded at build time and rendered by minijinja with HTML
//! auto-escaping (`.html` files) and none for `.txt`.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Timelike, Utc};
use minijinja::{AutoEscape, Environment};

use crate::i18n::Locale;

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/", $name)))),*]
    };
}

const FILES: &[(&str, &str)] = embedded![
    "pages/base.html",
    "pages/login.html",
    "pages/request.html",
    "pages/sent.html",
    "pages/reset.html",
    "pages/link_invalid.html",
    "pages/cancel.html",
    "pages/cancelled.html",
    "pages/signed_in.html",
    "pages/error.html",
    "pages/legal.html",
    "pages/tab.html",
    "pages/tab_config.html",
    "mail/layout.html",
    "mail/reset/subject.txt",
    "mail/reset/body.txt",
    "mail/reset/body.html",
    "mail/enroll/subject.txt",
    "mail/enroll/body.txt",
    "mail/enroll/body.html",
    "mail/changed/subject.txt",
    "mail/changed/body.txt",
    "mail/changed/body.html",
    "mail/username/subject.txt",
    "mail/username/body.txt",
    "mail/username/body.html",
    "mail/unlocked/subject.txt",
    "mail/unlocked/body.txt",
    "mail/unlocked/body.html",
    "mail/caller_code/subject.txt",
    "mail/caller_code/body.txt",
    "mail/caller_code/body.html",
    "mail/desk_request/subject.txt",
    "mail/desk_request/body.txt",
    "pages/forgot_username.html",
    "pages/username_sent.html",
];

#[derive(Clone)]
pub struct Templates {
    env: Arc<Environment<'static>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    pub fn load() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_formatter(html_formatter);
        for (name, src) in FILES {
            env.add_template(name, src)
                .map_err(|e| anyhow::anyhow!("template {name}: {e}"))?;
        }
        Ok(Self { env: Arc::new(env) })
    }

    pub fn render(&self, name: &str, ctx: minijinja::Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(ctx)
    }
}

/// HTML escaping of `& < > " '`, as HTML needs; minijinja's default also escapes `/`, which
/// turns every URL in an `href` into `http:&#x2f;&#x2f;…` (valid, but fragile in mail clients).
fn html_formatter(
    out: &mut minijinja::Output<'_>,
    state: &minijinja::State<'_, '_>,
    value: &minijinja::Value,
) -> Result<(), minijinja::Error> {
    match value.as_str() {
        Some(text) if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() => {
            let mut escaped = String::with_capacity(text.len());
            for c in text.chars() {
                match c {
                    '&' => escaped.push_str("&amp;"),
                    '<' => escaped.push_str("&lt;"),
                    '>' => escaped.push_str("&gt;"),
                    '"' => escaped.push_str("&quot;"),
                    '\'' => escaped.push_str("&#x27;"),
                    c => escaped.push(c),
                }
            }
            out.write_str(&escaped).map_err(minijinja::Error::from)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// A moment as people of the organisation read it: "14 h 32" (fr-CA), "2:32 PM" (en),
/// "14h32" (pt), with the date when it is not today in that zone.
pub fn local_time(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
    locale: Locale,
) -> String {
    let local = tz.from_utc_datetime(&at.naive_utc());
    let today = tz.from_utc_datetime(&now.naive_utc()).date_naive() == local.date_naive();
    if today {
        clock_time(&local, locale)
    } else {
        local_date_time(at, tz, locale)
    }
}

/// A moment with its date always, for what is read later (a request in the desk's queue).
pub fn local_date_time(at: DateTime<Utc>, tz: chrono_tz::Tz, locale: Locale) -> String {
    use chrono::Datelike;
    let local = tz.from_utc_datetime(&at.naive_utc());
    let time = clock_time(&local, locale);
    let d = local.date_naive();
    match locale {
        Locale::FrCa => format!("{time} le {}", d.format("%Y-%m-%d")),
        Locale::Pt => format!("{time} de {:02}/{:02}/{}", d.day(), d.month(), d.year()),
        Locale::En => format!("{time} on {}", d.format("%Y-%m-%d")),
    }
}

fn clock_time(local: &DateTime<chrono_tz::Tz>, locale: Locale) -> String {
    let (h, m) = (local.hour(), local.minute());
    match locale {
        Locale::FrCa => format!("{h} h {m:02}"),
        Locale::Pt => format!("{h}h{m:02}"),
        Locale::En => {
            let (pm, h12) = local.hour12();
            format!("{h12}:{m:02} {}", if pm { "PM" } else { "AM" })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        Templates::load().expect("templates load");
    }

    #[test]
    fn html_is_escaped_and_urls_stay_readable() {
        let mut env = Environment::new();
        env.set_formatter(html_formatter);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.add_template("t.html", "<a href=\"{{ u }}\">{{ x }}</a>")
            .expect("template");
        let out = env
            .get_template("t.html")
            .and_then(|t| {
                t.render(
                    minijinja::context! { u => "https://x.org/a?b=1&c=2", x => "<b>\"l'a\"</b>" },
                )
            })
            .expect("renders");
        assert_eq!(
            out,
            "<a href=\"https://x.org/a?b=1&amp;c=2\">&lt;b&gt;&quot;l&#x27;a&quot;&lt;/b&gt;</a>"
        );
    }

    #[test]
    fn local_times_read_naturally() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 21, 19, 2, 0)
            .single()
            .expect("date");
        let at = now + chrono::Duration::minutes(30);
        let tz: chrono_tz::Tz = "America/Toronto".parse().expect("tz");
        assert_eq!(local_time(at, now, tz, Locale::FrCa), "14 h 32");
        assert_eq!(local_time(at, now, tz, Locale::En), "2:32 PM");
        assert_eq!(local_time(at, now, tz, Locale::Pt), "14h32");
        let tomorrow = at + chrono::Duration::days(1);
        assert_eq!(
            local_time(tomorrow, now, tz, Locale::FrCa),
            "14 h 32 le 2026-11-22"
        );
    }
}
