//! Reading a directory file as Excel writes it: its encoding and separator guessed, its columns
//! found by their English or French names, every row checked. Nothing here touches the
//! directory: `csv` compares the rows with it and writes.

use std::collections::HashMap;

use crate::{
    i18n::Locale,
    model::{EmailAddress, Username},
    store::accounts::NewAccount,
};

/// One refused row: its line in the file and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    pub line: u64,
    pub reason: String,
}

/// Why a file gives no rows to import.
#[derive(Debug)]
pub enum SheetError {
    /// Not text, not CSV, or its header lacks a column.
    Unreadable(String),
    /// Rows that cannot be imported; the file is refused whole.
    BadRows(Vec<BadRow>),
}

/// The rows of a file, all good, each with its line; and how the file was read.
pub struct Sheet {
    pub rows: Vec<NewAccount>,
    pub lines: Vec<u64>,
    pub read_as: String,
}

const REQUIRED: [&str; 3] = ["username", "email", "display_name"];

/// The columns, by the names a spreadsheet may give them (English or French, any case, with or
/// without accents, spaces, underscores or apostrophes).
const COLUMNS: [(&str, &[&str]); 6] = [
    (
        "username",
        &[
            "username",
            "nomdutilisateur",
            "utilisateur",
            "nomutilisateur",
        ],
    ),
    (
        "email",
        &[
            "email",
            "courriel",
            "adressecourriel",
            "adressedecourriel",
            "mail",
        ],
    ),
    ("display_name", &["displayname", "nomcomplet", "nomaffiche"]),
    (
        "entra_object_id",
        &["entraobjectid", "objectid", "iddobjet", "identifiantdobjet"],
    ),
    (
        "upn",
        &["upn", "userprincipalname", "nomdutilisateurprincipal"],
    ),
    ("locale", &["locale", "langue", "language"]),
];

/// A header as compared: lower case, accents and everything but letters and digits dropped.
fn header_key(h: &str) -> String {
    h.trim()
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' => 'i',
            'ô' | 'ö' => 'o',
            'ù' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            other => other,
        })
        .filter(char::is_ascii_alphanumeric)
        .collect()
}

/// The file as text: UTF-8 (a byte-order mark dropped), else Windows-1252 (what Excel's plain
/// "CSV" writes in a French locale), and which it was.
fn decode(bytes: &[u8]) -> Result<(String, &'static str), SheetError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((text.to_string(), "UTF-8")),
        // UTF-8 up to a bad byte (non-ASCII text before it): a damaged UTF-8 file, not
        // Windows-1252, whose reading would turn every accent into two wrong characters.
        Err(e) if !bytes[..e.valid_up_to()].is_ascii() => Err(SheetError::Unreadable(format!(
            "byte {}: not UTF-8, although the text before it is; save the file again as \
             « CSV UTF-8 »",
            e.valid_up_to()
        ))),
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            Ok((text.into_owned(), "Windows-1252"))
        }
    }
}

/// The separator of the header line: the most frequent of `,` `;` and tab outside quotes.
fn separator(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or_default();
    let mut quoted = false;
    let mut counts = [(b',', 0), (b';', 0), (b'\t', 0)];
    for c in header.bytes() {
        if c == b'"' {
            quoted = !quoted;
        }
        if !quoted && let Some(n) = counts.iter_mut().find(|(s, _)| *s == c) {
            n.1 += 1;
        }
    }
    counts
        .iter()
        .max_by_key(|(_, n)| *n)
        .map_or(b',', |(s, _)| *s)
}

fn separator_name(sep: u8) -> &'static str {
    match sep {
        b';' => "semicolons",
        b'\t' => "tabs",
        _ => "commas",
    }
}

/// Where each column stands in the header.
struct Columns {
    username: Option<usize>,
    email: Option<usize>,
    display_name: Option<usize>,
    entra_object_id: Option<usize>,
    upn: Option<usize>,
    locale: Option<usize>,
}

impl Columns {
    /// The columns of `headers`; a column given twice, or a required one missing, refuses the
    /// file.
    fn find(headers: &csv::StringRecord, read_as: &str) -> Result<Self, SheetError> {
        let matching = |name: &str| -> Vec<usize> {
            let aliases = COLUMNS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(&[][..], |(_, a)| *a);
            headers
                .iter()
                .enumerate()
                .filter(|(_, h)| aliases.contains(&header_key(h).as_str()))
                .map(|(i, _)| i)
                .collect()
        };
        let twice: Vec<String> = COLUMNS
            .iter()
            .filter(|(name, _)| matching(name).len() > 1)
            .map(|(name, _)| {
                let found: Vec<&str> = matching(name)
                    .iter()
                    .filter_map(|i| headers.get(*i))
                    .collect();
                format!("{name} ({})", found.join(", "))
            })
            .collect();
        if !twice.is_empty() {
            return Err(SheetError::Unreadable(format!(
                "line 1: more than one column for {}; keep one",
                twice.join(", ")
            )));
        }
        let col = |name: &str| matching(name).first().copied();
        let missing: Vec<_> = REQUIRED.iter().filter(|c| col(c).is_none()).collect();
        if !missing.is_empty() {
            return Err(SheetError::Unreadable(format!(
                "line 1: missing column(s) {missing:?} (read as {read_as}; found {:?}); \
                 expected username,email,display_name[,entra_object_id,upn,locale] or in French \
                 « Nom d'utilisateur;Courriel;Nom complet »",
                headers.iter().collect::<Vec<_>>()
            )));
        }
        Ok(Columns {
            username: col("username"),
            email: col("email"),
            display_name: col("display_name"),
            entra_object_id: col("entra_object_id"),
            upn: col("upn"),
            locale: col("locale"),
        })
    }
}

/// The line a record starting at a byte offset is on, CRLF or LF alike (the reader may place a
/// record's start on the end of the previous line).
struct Lines<'t> {
    text: &'t [u8],
    newlines: Vec<usize>,
}

impl<'t> Lines<'t> {
    fn of(text: &'t str) -> Self {
        let newlines = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| *b == b'\n')
            .map(|(i, _)| i)
            .collect();
        Lines {
            text: text.as_bytes(),
            newlines,
        }
    }

    fn at(&self, byte: u64) -> u64 {
        let bytes = self.text;
        let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        1 + self.newlines.partition_point(|n| *n < start) as u64
    }
}

/// Usernames and object ids already seen, with their line: a repeat refuses the row.
#[derive(Default)]
struct Seen {
    usernames: HashMap<String, u64>,
    object_ids: HashMap<String, u64>,
}

/// Reads every row of `bytes`, for the organisation `tenant_id`; refuses the file if any row is
/// bad, naming each with its line and reasons.
pub fn read(tenant_id: &str, bytes: &[u8]) -> Result<Sheet, SheetError> {
    let (text, encoding) = decode(bytes)?;
    let sep = separator(&text);
    let read_as = format!("{encoding}, {}", separator_name(sep));
    let lines_of = Lines::of(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| SheetError::Unreadable(e.to_string()))?
        .clone();
    let columns = Columns::find(
        &headers,
        &format!("{encoding} with {}", separator_name(sep)),
    )?;
    let mut sheet = Sheet {
        rows: Vec::new(),
        lines: Vec::new(),
        read_as,
    };
    let mut bad = Vec::new();
    let mut seen = Seen::default();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines_of.at(p.byte()));
                bad.push(BadRow {
                    line,
                    reason: format!("unreadable row ({e})"),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| lines_of.at(p.byte()));
        match row(tenant_id, &record, &columns, line, &mut seen) {
            Ok(account) => {
                sheet.lines.push(line);
                sheet.rows.push(account);
            }
            Err(reasons) => bad.push(BadRow {
                line,
                reason: reasons.join("; "),
            }),
        }
    }
    if bad.is_empty() {
        Ok(sheet)
    } else {
        Err(SheetError::BadRows(bad))
    }
}

/// One record as an account, or every reason it is not one.
// Long: each column's check in the file's column order, every reason collected for the admin.
fn row(
    tenant_id: &str,
    record: &csv::StringRecord,
    columns: &Columns,
    line: u64,
    seen: &mut Seen,
) -> Result<NewAccount, Vec<String>> {
    let get = |c: Option<usize>| {
        c.and_then(|i| record.get(i))
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let mut reasons = Vec::new();
    let username = Username::parse(get(columns.username).unwrap_or_default())
        .map_err(|e| reasons.push(format!("username {e}")))
        .ok();
    let email = match get(columns.email) {
        None => {
            reasons.push("courriel manquant / email missing".to_string());
            None
        }
        Some(raw) => EmailAddress::parse(&raw.to_lowercase())
            .map_err(|_| reasons.push("email is not a valid address".to_string()))
            .ok(),
    };
    let display_name = get(columns.display_name).map(str::to_string);
    if display_name.is_none() {
        reasons.push("display_name is empty".into());
    }
    if display_name
        .as_deref()
        .is_some_and(|n| n.chars().any(char::is_control))
    {
        reasons.push("display_name has control characters".into());
    }
    let oid = get(columns.entra_object_id).map(str::to_string);
    if let Some(o) = &oid
        && uuid::Uuid::parse_str(o).is_err()
    {
        reasons.push("entra_object_id is not a GUID".into());
    }
    let upn = get(columns.upn).map(str::to_string);
    if let Some(u) = &upn
        && !u.contains('@')
    {
        reasons.push("upn must look like name@domain".into());
    }
    let locale = match get(columns.locale) {
        None => None,
        Some(l) => Locale::from_tag(l).or_else(|| {
            reasons.push("locale must be fr-CA, en or pt".into());
            None
        }),
    };
    if let Some(u) = &username
        && let Some(first) = seen.usernames.insert(u.as_str().to_string(), line)
    {
        reasons.push(format!("username repeats line {first}"));
    }
    let oid = oid.map(|o| o.to_ascii_lowercase());
    if let Some(o) = &oid
        && let Some(first) = seen.object_ids.insert(o.clone(), line)
    {
        reasons.push(format!("entra_object_id repeats line {first}"));
    }
    match (username, email, display_name) {
        (Some(username), Some(email), Some(display_name)) if reasons.is_empty() => Ok(NewAccount {
            tenant_id: tenant_id.to_string(),
            username,
            email,
            display_name,
            entra_object_id: oid,
            upn,
            locale,
        }),
        _ => Err(reasons),
    }
}
