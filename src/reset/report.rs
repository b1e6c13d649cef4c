//! `octopus-teams report`: what the service did for one organisation over a window, from the
//! audit trail and the link and account tables. Counts only; usernames with `detail`, never an
//! email address or a token.

use crate::model::UnixTime;
use std::collections::BTreeSet;

use crate::{
    org::Organisation,
    store::{Store, StoreError, report},
};

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub count: i64,
    /// The accounts concerned (only with `detail`, and only where rows name an account).
    pub usernames: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub org: String,
    /// The organisation's time zone: the window is shown in it.
    pub time_zone: chrono_tz::Tz,
    pub since: UnixTime,
    pub until: UnixTime,
    pub detail: bool,
    pub metrics: Vec<Metric>,
}

/// How each metric is counted from audit events.
enum Count {
    /// Every row of these events.
    Rows(&'static [&'static str]),
    /// Distinct accounts with a row of these events.
    Accounts(&'static [&'static str]),
}

/// The audit-based metrics, in report order. `account_unlocked` is the event of the unlock
/// feature (bot / tab); until it exists the count is 0.
const FROM_AUDIT: &[(&str, Count)] = &[
    ("requests", Count::Rows(&["link_requested"])),
    (
        "requests_unknown_account",
        Count::Rows(&["link_requested_unknown_account"]),
    ),
    (
        "requests_rate_limited",
        Count::Rows(&["link_rate_limited", "request_rate_limited"]),
    ),
    (
        "username_reminders",
        Count::Rows(&["username_reminder_requested"]),
    ),
    ("mails_sent", Count::Rows(&["mail_sent"])),
    ("mails_failed", Count::Rows(&["mail_dead_lettered"])),
    ("mails_expired", Count::Rows(&["mail_expired"])),
    ("links_cancelled", Count::Rows(&["link_cancelled"])),
    ("password_changes", Count::Rows(&["password_changed"])),
    ("enrolments", Count::Rows(&["enrolled"])),
    ("lockouts", Count::Accounts(&["signin_locked"])),
    ("unlocks", Count::Rows(&["account_unlocked"])),
];

/// Builds the report for `since <= t <= until`.
// Long: the report's sections, in the order it prints them.
pub async fn build(
    store: &Store,
    org: &Organisation,
    since: UnixTime,
    until: UnixTime,
    detail: bool,
) -> Result<Report, StoreError> {
    let mut conn = store.conn().await?;
    let events = report::events(&mut conn, &org.tenant_id, since, until).await?;
    let links = report::links(&mut conn, &org.tenant_id, since, until).await?;
    let never = report::never_enrolled(&mut conn, &org.tenant_id).await?;
    drop(conn);

    let names = |rows: &mut dyn Iterator<Item = &str>| -> Vec<String> {
        if !detail {
            return Vec::new();
        }
        rows.map(str::to_string)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let mut metrics = Vec::new();
    for (name, how) in FROM_AUDIT {
        let (wanted, distinct) = match how {
            Count::Rows(e) => (*e, false),
            Count::Accounts(e) => (*e, true),
        };
        let rows: Vec<_> = events
            .iter()
            .filter(|e| wanted.contains(&e.event.as_str()))
            .collect();
        let count = if distinct {
            rows.iter()
                .filter_map(|e| e.username.as_deref())
                .collect::<BTreeSet<_>>()
                .len() as i64
        } else {
            rows.iter().map(|e| e.count).sum()
        };
        let usernames = names(&mut rows.iter().filter_map(|e| e.username.as_deref()));
        metrics.push(Metric {
            name,
            count,
            usernames,
        });
        if *name == "mails_failed" {
            for (name, pick) in [("links_used", 1usize), ("links_expired", 2usize)] {
                let of = |l: &(String, i64, i64)| if pick == 1 { l.1 } else { l.2 };
                metrics.push(Metric {
                    name,
                    count: links.iter().map(of).sum(),
                    usernames: names(&mut links.iter().filter(|l| of(l) > 0).map(|l| l.0.as_str())),
                });
            }
        }
    }
    metrics.push(Metric {
        name: "accounts_never_enrolled",
        count: never.len() as i64,
        usernames: names(&mut never.iter().map(String::as_str)),
    });
    Ok(Report {
        org: org.slug.clone(),
        time_zone: org.time_zone,
        since,
        until,
        detail,
        metrics,
    })
}

/// `30d`, `12h`, `2w`, `90m` → seconds.
pub fn parse_window(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let unit = raw.chars().last()?;
    let n: i64 = raw[..raw.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    (n > 0).then(|| n.checked_mul(secs)).flatten()
}

/// `t` in the organisation's zone, the zone written (`2026-12-05 08:30 EST`).
fn day(t: UnixTime, zone: chrono_tz::Tz) -> String {
    t.to_utc()
        .map(|t| {
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string()
        })
        .unwrap_or_default()
}

impl Report {
    /// `metric,count[,usernames]`; usernames space-separated.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(if self.detail {
            "metric,count,usernames\n"
        } else {
            "metric,count\n"
        });
        for m in &self.metrics {
            out.push_str(&format!("{},{}", m.name, m.count));
            if self.detail {
                // Usernames are letters, digits, '.', '-', '_': nothing to quote.
                out.push_str(&format!(",{}", m.usernames.join(" ")));
            }
            out.push('\n');
        }
        out
    }

    /// A Markdown table under a heading that names the organisation and the window.
    pub fn to_markdown(&self) -> String {
        let mut out = format!(
            "# Report for {}: {} to {}\n\n",
            self.org,
            day(self.since, self.time_zone),
            day(self.until, self.time_zone)
        );
        if self.detail {
            out.push_str("| metric | count | usernames |\n|---|---:|---|\n");
        } else {
            out.push_str("| metric | count |\n|---|---:|\n");
        }
        for m in &self.metrics {
            if self.detail {
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    m.name,
                    m.count,
                    m.usernames.join(" ")
                ));
            } else {
                out.push_str(&format!("| {} | {} |\n", m.name, m.count));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_in_minutes_hours_days_and_weeks() {
        assert_eq!(parse_window("30d"), Some(30 * 86_400));
        assert_eq!(parse_window("12h"), Some(12 * 3600));
        assert_eq!(parse_window("2w"), Some(14 * 86_400));
        assert_eq!(parse_window("90m"), Some(5400));
        for bad in [
            "",
            "d",
            "30",
            "0d",
            "-3d",
            "3y",
            "x3d",
            "99999999999999999w",
        ] {
            assert_eq!(parse_window(bad), None, "{bad}");
        }
    }

    #[test]
    fn csv_and_markdown_show_usernames_only_in_detail() {
        let mut r = Report {
            org: "demo".into(),
            time_zone: chrono_tz::America::Toronto,
            since: UnixTime(0),
            until: UnixTime(86_400),
            detail: false,
            metrics: vec![Metric {
                name: "requests",
                count: 2,
                usernames: vec![],
            }],
        };
        assert_eq!(r.to_csv(), "metric,count\nrequests,2\n");
        assert!(r.to_markdown().contains("| requests | 2 |\n"));
        r.detail = true;
        r.metrics[0].usernames = vec!["gagm".into(), "trej".into()];
        assert_eq!(r.to_csv(), "metric,count,usernames\nrequests,2,gagm trej\n");
        assert!(r.to_markdown().contains("| requests | 2 | gagm trej |\n"));
    }
}
