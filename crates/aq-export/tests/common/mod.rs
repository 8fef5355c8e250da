//! Shared helpers of the end-to-end tests: a test PKI made with rcgen, an rsyslogd started on a
//! free loopback port with a generated configuration, and event factories.
#![allow(dead_code)]

use aq_export::{Checkpoint, EventType, ExportEvent};
use aq_verify::{AlertKind, Severity};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether peers must be present (CI sets it): then a missing peer fails the test.
pub fn require_interop() -> bool {
    std::env::var("AQ_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// `rsyslogd`'s path, or None after printing why the test is skipped.
pub fn rsyslogd() -> Option<PathBuf> {
    for p in [
        "/usr/sbin/rsyslogd",
        "/sbin/rsyslogd",
        "/usr/local/sbin/rsyslogd",
    ] {
        if Path::new(p).exists() {
            return Some(p.into());
        }
    }
    let msg = "rsyslogd not installed (Debian packages rsyslog, rsyslog-gnutls)";
    if require_interop() {
        panic!("AQ_REQUIRE_INTEROP=1 but {msg}");
    }
    println!("SKIPPED: {msg}");
    None
}

/// A free loopback port (bound then released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// PEM files of a test PKI in `dir`: ca.pem, server.pem/.key (127.0.0.1, localhost),
/// client.pem/.key, and other-ca.pem (an unrelated CA).
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub other_ca: PathBuf,
}

pub fn make_pki(dir: &Path) -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let ca = |cn: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, cn);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
    };
    let issuer = ca("aq export test CA");
    let other = ca("unrelated CA");
    let leaf = |cn: &str, server: bool| {
        let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        p.subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        p.distinguished_name.push(DnType::CommonName, cn);
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let k = KeyPair::generate().unwrap();
        let c = p.signed_by(&k, &issuer).unwrap();
        (c.pem(), k.serialize_pem())
    };
    let (scert, skey) = leaf("localhost", true);
    let (ccert, ckey) = leaf("aq-exporter", false);
    let w = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Pki {
        ca: w("ca.pem", &issuer.pem()),
        server_cert: w("server.pem", &scert),
        server_key: w("server.key", &skey),
        client_cert: w("client.pem", &ccert),
        client_key: w("client.key", &ckey),
        other_ca: w("other-ca.pem", &other.pem()),
    }
}

/// TLS mode of a test rsyslogd.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    None,
    /// Server certificate only (`anon` client authentication).
    ServerOnly,
    /// Client certificates required and verified against the CA (`x509/certvalid`).
    Mutual,
}

/// One rsyslogd writing what it receives to `out` as `MSGID|STRUCTURED-DATA|MSG` lines.
pub struct Rsyslog {
    pub port: u16,
    pub out: PathBuf,
    conf: PathBuf,
    pidfile: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
}

impl Rsyslog {
    pub fn write_config(dir: &Path, port: u16, tls: Tls, pki: Option<&Pki>) -> PathBuf {
        let work = dir.join("rsyslog-work");
        std::fs::create_dir_all(&work).unwrap();
        let out = dir.join("received.log");
        let mut c = format!(
            "global(workDirectory=\"{}\" maxMessageSize=\"64k\" net.enableDNS=\"off\"",
            work.display()
        );
        if let (Tls::ServerOnly | Tls::Mutual, Some(p)) = (tls, pki) {
            c.push_str(&format!(
                " defaultNetstreamDriverCAFile=\"{}\" defaultNetstreamDriverCertFile=\"{}\" defaultNetstreamDriverKeyFile=\"{}\"",
                p.ca.display(),
                p.server_cert.display(),
                p.server_key.display()
            ));
        }
        c.push_str(")\n");
        match tls {
            Tls::None => c.push_str("module(load=\"imtcp\")\n"),
            Tls::ServerOnly => c.push_str(
                "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")\n",
            ),
            Tls::Mutual => c.push_str(
                "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"x509/certvalid\")\n",
            ),
        }
        c.push_str(&format!(
            "input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\" SupportOctetCountedFraming=\"on\")\n\
             template(name=\"aqfmt\" type=\"string\" string=\"%msgid%|%structured-data%|%msg%\\n\")\n\
             if $app-name == \"aq\" then {{\n  action(type=\"omfile\" file=\"{}\" template=\"aqfmt\")\n}}\n",
            out.display()
        ));
        let conf = dir.join("rsyslog.conf");
        std::fs::write(&conf, c).unwrap();
        conf
    }

    pub fn start(bin: &Path, dir: &Path, tls: Tls, pki: Option<&Pki>) -> Rsyslog {
        let port = free_port();
        let conf = Self::write_config(dir, port, tls, pki);
        let mut r = Rsyslog {
            port,
            out: dir.join("received.log"),
            conf,
            pidfile: dir.join("rsyslogd.pid"),
            bin: bin.to_path_buf(),
            child: None,
        };
        r.restart();
        r
    }

    /// (Re)starts rsyslogd on the same port and waits until it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let _ = std::fs::remove_file(&self.pidfile);
        let child = Command::new(&self.bin)
            .arg("-n")
            .arg("-f")
            .arg(&self.conf)
            .arg("-i")
            .arg(&self.pidfile)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // rsyslogd's own complaints (e.g. about the handshakes tests break on purpose).
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.conf.with_file_name("rsyslogd.stderr"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .unwrap();
        self.child = Some(child);
        let t0 = Instant::now();
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("rsyslogd exited at start: {st}");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "rsyslogd did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The running rsyslogd's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap()
    }

    /// Stops rsyslogd with SIGTERM (it writes out what it has read) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let t0 = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if t0.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("rsyslogd ignored SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Lines received so far: (msgid, structured data, msg).
    pub fn lines(&self) -> Vec<(String, String, String)> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .map(|l| {
                let mut it = l.splitn(3, '|');
                (
                    it.next().unwrap_or("").to_string(),
                    it.next().unwrap_or("").to_string(),
                    it.next().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The value of `name="..."` in an RFC 5424 structured-data string (unescaping `\"`, `\\`, `\]`).
pub fn sd_param(sd: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = sd.find(&key)? + key.len();
    let mut out = String::new();
    let mut chars = sd[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// The i-th test event: an alert with a log index, zone, seqs and a record hash.
pub fn event(i: u64) -> ExportEvent {
    let kinds = [
        AlertKind::Fork,
        AlertKind::Gap,
        AlertKind::Integrity,
        AlertKind::Rollback,
    ];
    let mut e = ExportEvent::new(
        EventType::Alert,
        1_700_000_000_000 + i,
        Severity::High,
        format!("test alert {i}: \"quoted\" [bracketed] back\\slash"),
    );
    e.alert_kind = Some(kinds[(i % 4) as usize]);
    e.device = Some(format!("{:016x}", 0xd00d_0000_0000_0000u64 + i % 7));
    e.seqs = vec![i, i + 1];
    e.records = vec![format!("{:064x}", i)];
    e.with_zone(format!("cell-{}", i % 3))
        .with_log(i, Some(Checkpoint::new(i + 1, &[(i % 251) as u8; 32])))
}

/// Waits until `cond` holds or `limit` passes.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    cond()
}

/// Checks that `ids` (in arrival order) contain every `log:0..n` and that first arrivals are in
/// order; returns the number of duplicates.
pub fn check_complete_in_order(ids: &[String], n: u64) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut firsts = Vec::new();
    for id in ids {
        if seen.insert(id.clone()) {
            firsts.push(id.clone());
        }
    }
    let want: Vec<String> = (0..n).map(|i| format!("log:{i}")).collect();
    if firsts != want {
        let missing: Vec<&String> = want
            .iter()
            .filter(|w| !seen.contains(*w))
            .take(10)
            .collect();
        panic!(
            "received {} distinct of {n}; first missing {missing:?}; first arrivals not in order: {}",
            firsts.len(),
            firsts.windows(2).any(|w| {
                let a: u64 = w[0][4..].parse().unwrap_or(0);
                let b: u64 = w[1][4..].parse().unwrap_or(0);
                b < a
            })
        );
    }
    ids.len() - firsts.len()
}
