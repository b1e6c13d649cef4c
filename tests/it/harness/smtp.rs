//! A real SMTP server on 127.0.0.1:0 that keeps what it receives and behaves like a relay:
//! STARTTLS or implicit TLS with a certificate from a CA made for the test, AUTH PLAIN/LOGIN
//! required before MAIL when credentials are set, and on cue a 451 at MAIL, a 550 at RCPT, a 554
//! after DATA, a slow answer to DATA, or dropped connections. That is how the outbox's retries,
//! dead letters and TLS settings are tested.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU8, Ordering},
    },
    time::Duration,
};

use base64::Engine;
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    net::TcpListener,
};
use tokio_rustls::TlsAcceptor;

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

    /// The body of the `mime` part: of the mail itself when it has a single part of that type.
    fn part(&self, mime: &str) -> String {
        let parsed = self.parsed();
        if parsed.subparts.is_empty() && parsed.ctype.mimetype == mime {
            return parsed.get_body().expect("decodable body");
        }
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
const REFUSE_RCPT: u8 = 3;
const REFUSE_DATA: u8 = 4;
const SLOW_DATA: u8 = 5;
const HOLD: u8 = 6;

/// How the relay secures its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    /// STARTTLS offered (and required before AUTH, as Office 365 and Postfix relays do).
    StartTls,
    /// TLS from the first byte (smtps://, port 465).
    Implicit,
}

/// A CA made for one test and a certificate it signed for localhost and 127.0.0.1.
struct TestCa {
    acceptor: TlsAcceptor,
    /// The CA certificate as a PEM file, for the service's `mail.tls_ca_file`.
    pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "octopus-teams test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let mut leaf_params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "relay.localhost");
        leaf_params.use_authority_key_identifier_extension = true;
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
            )
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pem_file = dir.path().join("relay-ca.pem");
        std::fs::write(&pem_file, ca.pem()).unwrap();
        TestCa {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            pem_file,
            _dir: dir,
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A relay to start: `SmtpSink::builder().starttls().auth("relay", "pw").start()`.
#[derive(Default)]
pub struct SinkBuilder {
    security: Option<Security>,
    auth: Option<(String, String)>,
}

impl SinkBuilder {
    pub fn starttls(mut self) -> Self {
        self.security = Some(Security::StartTls);
        self
    }

    pub fn implicit_tls(mut self) -> Self {
        self.security = Some(Security::Implicit);
        self
    }

    /// AUTH required before MAIL, with these credentials.
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.into(), password.into()));
        self
    }

    pub async fn start(self) -> SmtpSink {
        let security = self.security.unwrap_or(Security::Plain);
        let ca = (security != Security::Plain).then(|| Arc::new(TestCa::new()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind smtp");
        let sink = SmtpSink {
            addr: listener.local_addr().expect("addr"),
            mails: Arc::default(),
            commands: Arc::default(),
            mode: Arc::new(AtomicU8::new(OK)),
            slow: Arc::new(Mutex::new(Duration::ZERO)),
            security,
            auth: self.auth.map(Arc::new),
            ca,
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
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    commands: Arc<Mutex<Vec<String>>>,
    mode: Arc<AtomicU8>,
    slow: Arc<Mutex<Duration>>,
    security: Security,
    auth: Option<Arc<(String, String)>>,
    ca: Option<Arc<TestCa>>,
}

impl SmtpSink {
    /// A plain local relay that takes anything (port 25 inside the network).
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn builder() -> SinkBuilder {
        SinkBuilder::default()
    }

    /// The service's `mail.transport` for this relay, credentials included.
    pub fn url(&self) -> String {
        let credentials = match &self.auth {
            Some(a) => format!("{}:{}@", a.0, a.1),
            None => String::new(),
        };
        match self.security {
            Security::Plain => format!("smtp://{credentials}{}", self.addr),
            Security::StartTls => format!("smtp://{credentials}{}?tls=required", self.addr),
            Security::Implicit => format!("smtps://{credentials}{}", self.addr),
        }
    }

    /// The CA that signed the relay's certificate, as a PEM file (TLS relays only).
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.ca.as_ref().map(|ca| ca.pem_file.clone())
    }

    /// Answer 451 to every MAIL FROM.
    pub fn refuse(&self) {
        self.mode.store(REFUSE, Ordering::SeqCst);
    }

    /// Answer 550 (no such user) to every RCPT TO: a permanent refusal.
    pub fn refuse_recipients(&self) {
        self.mode.store(REFUSE_RCPT, Ordering::SeqCst);
    }

    /// Answer 554 to the end of every DATA: the message itself is refused, permanently.
    pub fn refuse_messages(&self) {
        self.mode.store(REFUSE_DATA, Ordering::SeqCst);
    }

    /// Take the message, but answer the end of DATA only after `delay` (and keep it).
    pub fn slow_data(&self, delay: Duration) {
        *self.slow.lock().expect("lock") = delay;
        self.mode.store(SLOW_DATA, Ordering::SeqCst);
    }

    /// Keep every MAIL FROM unanswered (noting "HELD") until `accept()`: a sender caught
    /// mid-send, before the relay has any of its message.
    pub fn hold(&self) {
        self.mode.store(HOLD, Ordering::SeqCst);
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

    /// Every command received, in order, as "EHLO", "STARTTLS", "AUTH PLAIN", "MAIL" … (with
    /// "TLS" when a connection became encrypted): what a client said and in which state.
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().expect("lock").clone()
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

    fn note(&self, command: &str) {
        self.commands
            .lock()
            .expect("lock")
            .push(command.to_string());
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        if self.mode.load(Ordering::SeqCst) == DROP {
            return Ok(());
        }
        let mut tls = false;
        let stream: Box<dyn Io> = match (&self.ca, self.security) {
            (Some(ca), Security::Implicit) => {
                let s = ca.acceptor.accept(stream).await?;
                self.note("TLS");
                tls = true;
                Box::new(s)
            }
            _ => Box::new(stream),
        };
        let mut io = BufReader::new(stream);
        io.write_all(b"220 sink ESMTP ready\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut authenticated = false;
        let mut line = String::new();
        loop {
            line.clear();
            if io.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let upper = line.to_ascii_uppercase();
            let verb = upper
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            match verb.as_str() {
                "AUTH" => self.note(
                    &upper
                        .trim_end()
                        .split(' ')
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                _ => self.note(&verb),
            }
            // As real relays: AUTH only once encrypted, when the relay offers TLS at all.
            let auth_offered = self.auth.is_some() && (tls || self.security == Security::Plain);
            match verb.as_str() {
                "EHLO" | "HELO" => {
                    let mut answer = String::from("250-sink\r\n250-8BITMIME\r\n");
                    if self.security == Security::StartTls && !tls {
                        answer.push_str("250-STARTTLS\r\n");
                    }
                    if auth_offered {
                        answer.push_str("250-AUTH PLAIN LOGIN\r\n");
                    }
                    answer.push_str("250 SMTPUTF8\r\n");
                    io.write_all(answer.as_bytes()).await?;
                }
                "STARTTLS" if self.security == Security::StartTls && !tls => {
                    io.write_all(b"220 2.0.0 Ready to start TLS\r\n").await?;
                    let ca = self.ca.as_ref().expect("a TLS relay has its CA");
                    let plain = io.into_inner();
                    let encrypted: Box<dyn Io> = Box::new(ca.acceptor.accept(plain).await?);
                    io = BufReader::new(encrypted);
                    tls = true;
                    authenticated = false;
                    self.note("TLS");
                }
                "AUTH" if auth_offered => {
                    let ok = self.authenticate(&mut io, line.trim_end()).await?;
                    if ok {
                        authenticated = true;
                        io.write_all(b"235 2.7.0 Authentication successful\r\n")
                            .await?;
                    } else {
                        io.write_all(b"535 5.7.8 Authentication credentials invalid\r\n")
                            .await?;
                    }
                }
                "MAIL" => {
                    if self.auth.is_some() && !authenticated {
                        io.write_all(b"530 5.7.0 Authentication required\r\n")
                            .await?;
                        continue;
                    }
                    if self.mode.load(Ordering::SeqCst) == HOLD {
                        self.note("HELD");
                        while self.mode.load(Ordering::SeqCst) == HOLD {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                    if self.mode.load(Ordering::SeqCst) == REFUSE {
                        io.write_all(b"451 4.3.0 Temporary failure, try later\r\n")
                            .await?;
                        continue;
                    }
                    from = line[10.min(line.len())..].trim().to_string();
                    to.clear();
                    io.write_all(b"250 OK\r\n").await?;
                }
                "RCPT" => {
                    if self.mode.load(Ordering::SeqCst) == REFUSE_RCPT {
                        io.write_all(b"550 5.1.1 Recipient address rejected: user unknown\r\n")
                            .await?;
                        continue;
                    }
                    to.push(line[8.min(line.len())..].trim().to_string());
                    io.write_all(b"250 OK\r\n").await?;
                }
                "DATA" => {
                    io.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let mut data = Vec::new();
                    loop {
                        line.clear();
                        if io.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" || line == ".\n" {
                            break;
                        }
                        let l = line.strip_prefix('.').unwrap_or(&line);
                        data.extend_from_slice(l.as_bytes());
                    }
                    match self.mode.load(Ordering::SeqCst) {
                        REFUSE_DATA => {
                            io.write_all(b"554 5.6.0 Message refused by content policy\r\n")
                                .await?;
                            continue;
                        }
                        SLOW_DATA => {
                            // Kept before the answer, as a relay that queued it but answers late.
                            self.keep(&from, &to, data);
                            let delay = *self.slow.lock().expect("lock");
                            tokio::time::sleep(delay).await;
                            self.note("ANSWERED");
                        }
                        _ => self.keep(&from, &to, data),
                    }
                    io.write_all(b"250 OK queued\r\n").await?;
                }
                "QUIT" => {
                    io.write_all(b"221 Bye\r\n").await?;
                    return Ok(());
                }
                "RSET" | "NOOP" => io.write_all(b"250 OK\r\n").await?,
                _ => io.write_all(b"502 Command not implemented\r\n").await?,
            }
        }
    }

    fn keep(&self, from: &str, to: &[String], data: Vec<u8>) {
        self.mails.lock().expect("lock").push(ReceivedMail {
            from: from.to_string(),
            to: to.to_vec(),
            data,
        });
    }

    /// AUTH PLAIN (initial response or not) and AUTH LOGIN; true when the credentials match.
    async fn authenticate(
        &self,
        io: &mut BufReader<Box<dyn Io>>,
        command: &str,
    ) -> std::io::Result<bool> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let Some(expected) = self.auth.as_deref() else {
            return Ok(false);
        };
        let mut parts = command.split_whitespace().skip(1);
        let mechanism = parts.next().unwrap_or_default().to_ascii_uppercase();
        let initial = parts.next().map(str::to_string);
        let ask = async |io: &mut BufReader<Box<dyn Io>>, prompt: &[u8]| {
            io.write_all(prompt).await?;
            let mut answer = String::new();
            io.read_line(&mut answer).await?;
            std::io::Result::Ok(answer.trim_end().to_string())
        };
        let decode = |s: &str| b64.decode(s).unwrap_or_default();
        match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(r) => r,
                    None => ask(io, b"334 \r\n").await?,
                };
                let plain = decode(&response);
                let fields: Vec<&[u8]> = plain.split(|b| *b == 0).collect();
                Ok(fields.len() == 3
                    && fields[1] == expected.0.as_bytes()
                    && fields[2] == expected.1.as_bytes())
            }
            "LOGIN" => {
                let user = match initial {
                    Some(u) => u,
                    None => ask(io, b"334 VXNlcm5hbWU6\r\n").await?,
                };
                let password = ask(io, b"334 UGFzc3dvcmQ6\r\n").await?;
                Ok(decode(&user) == expected.0.as_bytes()
                    && decode(&password) == expected.1.as_bytes())
            }
            _ => Ok(false),
        }
    }
}
