//! A real SMTP server on 127.0.0.1:0 that keeps what it receives and can be told to refuse
//! (451) or to drop connections, which is how outbox retries are tested.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl ReceivedMail {
    pub fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.data).expect("received mail parses as MIME")
    }

    pub fn subject(&self) -> String {
        use mailparse::MailHeaderMap;
        self.parsed()
            .headers
            .get_first_value("Subject")
            .unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        use mailparse::MailHeaderMap;
        self.parsed().headers.get_first_value(name)
    }

    fn part(&self, mime: &str) -> String {
        let parsed = self.parsed();
        let found = parsed
            .subparts
            .iter()
            .find(|p| p.ctype.mimetype == mime)
            .unwrap_or_else(|| panic!("no {mime} part in the mail"));
        found.get_body().expect("decodable body")
    }

    pub fn text(&self) -> String {
        self.part("text/plain")
    }

    pub fn html(&self) -> String {
        self.part("text/html")
    }

    /// The first link in the plain text that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        let text = self.text();
        let start = text
            .find(prefix)
            .unwrap_or_else(|| panic!("no link {prefix}… in:\n{text}"));
        text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect()
    }
}

const OK: u8 = 0;
const REFUSE: u8 = 1;
const DROP: u8 = 2;

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    mode: Arc<AtomicU8>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let sink = Self {
            addr: listener.local_addr().expect("addr"),
            mails: Arc::default(),
            mode: Arc::new(AtomicU8::new(OK)),
        };
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Answer 451 to every MAIL FROM.
    pub fn refuse(&self) {
        self.mode.store(REFUSE, Ordering::SeqCst);
    }

    /// Close every connection right after accepting it.
    pub fn drop_connections(&self) {
        self.mode.store(DROP, Ordering::SeqCst);
    }

    pub fn accept(&self) {
        self.mode.store(OK, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.mails.lock().expect("lock").clone()
    }

    /// Waits until `n` mails have arrived, failing with what did arrive.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            if tokio::time::Instant::now() > deadline {
                let subjects: Vec<_> = got.iter().map(ReceivedMail::subject).collect();
                panic!(
                    "expected {n} mail(s) within {within:?}, got {}: {subjects:?}",
                    got.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        if self.mode.load(Ordering::SeqCst) == DROP {
            return Ok(());
        }
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 sink ESMTP ready\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                w.write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    .await?;
            } else if upper.starts_with("MAIL FROM:") {
                if self.mode.load(Ordering::SeqCst) == REFUSE {
                    w.write_all(b"451 4.3.0 Temporary failure, try later\r\n")
                        .await?;
                    continue;
                }
                from = line[10..].trim().to_string();
                to.clear();
                w.write_all(b"250 OK\r\n").await?;
            } else if upper.starts_with("RCPT TO:") {
                to.push(line[8..].trim().to_string());
                w.write_all(b"250 OK\r\n").await?;
            } else if upper.starts_with("DATA") {
                w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let l = line.strip_prefix('.').unwrap_or(&line);
                    data.extend_from_slice(l.as_bytes());
                }
                self.mails.lock().expect("lock").push(ReceivedMail {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
                w.write_all(b"250 OK queued\r\n").await?;
            } else if upper.starts_with("QUIT") {
                w.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            } else if upper.starts_with("RSET") || upper.starts_with("NOOP") {
                w.write_all(b"250 OK\r\n").await?;
            } else {
                w.write_all(b"502 Command not implemented\r\n").await?;
            }
        }
    }
}
