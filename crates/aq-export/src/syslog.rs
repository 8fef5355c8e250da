//! RFC 5424 syslog messages with aq's structured data, and RFC 6587 octet-counting framing
//! for TCP and TLS (RFC 5425) transport.
//!
//! Invariants kept for every input:
//! * header fields are printable US-ASCII of at most their RFC length (anything else becomes
//!   `_`; empty becomes the NILVALUE `-`);
//! * SD-PARAM values escape `"`, `\` and `]` as RFC 5424 §6.3.3 requires;
//! * control characters never reach the wire (they become spaces), so a receiver that splits
//!   on newlines despite octet counting still sees one event per line;
//! * MSG starts with a UTF-8 BOM exactly when it is not pure ASCII (§6.4);
//! * lists (seqs, record hashes) are cut at [`SyslogOptions::max_list`] with a count parameter
//!   saying how many there were, and the message at [`SyslogOptions::max_msg`] bytes, so one
//!   event stays under the receiver's maximum message size.

use crate::event::{ExportEvent, rfc3339_ms};
use crate::text::{clean, truncate_utf8};
use std::fmt::Write as _;

/// The SD-ID used when none is configured. 32473 is the Private Enterprise Number reserved for
/// documentation (RFC 5612); operators with their own PEN configure `name@<PEN>`.
pub const DEFAULT_SD_ID: &str = "aq@32473";

/// Header and size options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogOptions {
    /// Facility 0..=23 (default 13, "log audit").
    pub facility: u8,
    /// HOSTNAME field (the aq server's name).
    pub hostname: String,
    /// APP-NAME field.
    pub app_name: String,
    /// SD-ID of aq's structured-data element.
    pub sd_id: String,
    /// Longest list carried in one SD-PARAM.
    pub max_list: usize,
    /// Longest MSG text in bytes.
    pub max_msg: usize,
}

impl Default for SyslogOptions {
    fn default() -> Self {
        SyslogOptions {
            facility: 13,
            hostname: "-".into(),
            app_name: "aq".into(),
            sd_id: DEFAULT_SD_ID.into(),
            max_list: 32,
            max_msg: 2048,
        }
    }
}

/// What goes after the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// aq's structured data and the human message.
    Native,
    /// No structured data; MSG is this text (CEF, OCSF or JSON carried over syslog).
    Text(&'a str),
}

/// Header field: printable US-ASCII without spaces, at most `max` octets, NILVALUE if empty.
fn header_field(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { c } else { '_' })
        .take(max)
        .collect();
    if out.is_empty() {
        out.push('-');
    }
    out
}

/// SD-NAME: 1..=32 printable US-ASCII except `=`, space, `]`, `"`.
fn sd_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if ('!'..='~').contains(&c) && !matches!(c, '=' | ']' | '"') {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// PARAM-VALUE escaping (RFC 5424 §6.3.3), after removing control characters.
fn sd_value(out: &mut String, v: &str) {
    for c in clean(v).chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
}

fn param(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    sd_value(out, value);
    out.push('"');
}

fn list<T: ToString>(out: &mut String, name: &str, count_name: &str, items: &[T], max: usize) {
    if items.is_empty() {
        return;
    }
    let shown: Vec<String> = items.iter().take(max).map(ToString::to_string).collect();
    param(out, name, &shown.join(","));
    if items.len() > max {
        param(out, count_name, &items.len().to_string());
    }
}

/// aq's SD-ELEMENT for an event.
pub fn structured_data(ev: &ExportEvent, o: &SyslogOptions) -> String {
    let mut sd = String::with_capacity(256);
    sd.push('[');
    sd.push_str(&sd_name(&o.sd_id));
    param(&mut sd, "id", &ev.id);
    param(&mut sd, "type", ev.event_type.name());
    param(
        &mut sd,
        "severity",
        &format!("{:?}", ev.severity).to_lowercase(),
    );
    if let Some(d) = &ev.device {
        param(&mut sd, "device", d);
    }
    if let Some(z) = &ev.zone {
        param(&mut sd, "zone", z);
    }
    if let Some(k) = ev.alert_kind {
        param(&mut sd, "kind", k.name());
    }
    if let Some(t) = ev.verdict {
        param(&mut sd, "verdictFrom", t.from.name());
        param(&mut sd, "verdictTo", t.to.name());
    }
    if let Some(a) = &ev.actor {
        param(&mut sd, "actor", a);
    }
    if let Some(a) = &ev.action {
        param(&mut sd, "action", a);
    }
    if let Some(t) = &ev.target {
        param(&mut sd, "target", t);
    }
    if let Some(k) = &ev.record_kind {
        param(&mut sd, "recordKind", k);
    }
    list(&mut sd, "seq", "seqCount", &ev.seqs, o.max_list);
    list(&mut sd, "rec", "recCount", &ev.records, o.max_list);
    if let Some(i) = ev.log_index {
        param(&mut sd, "logIndex", &i.to_string());
    }
    if let Some(c) = &ev.checkpoint {
        param(&mut sd, "cpSize", &c.size.to_string());
        param(&mut sd, "cpRoot", &c.root);
    }
    sd.push(']');
    sd
}

/// One RFC 5424 message (without framing).
pub fn rfc5424(ev: &ExportEvent, o: &SyslogOptions, body: Body<'_>) -> Vec<u8> {
    let pri = u16::from(o.facility.min(23)) * 8 + u16::from(ev.severity.syslog());
    let mut s = String::with_capacity(512);
    let _ = write!(
        s,
        "<{pri}>1 {} {} {} - {} ",
        rfc3339_ms(ev.time_ms),
        header_field(&o.hostname, 255),
        header_field(&o.app_name, 48),
        header_field(ev.event_type.name(), 32),
    );
    let msg = match body {
        Body::Native => {
            s.push_str(&structured_data(ev, o));
            clean(truncate_utf8(&ev.message, o.max_msg))
        }
        Body::Text(t) => {
            s.push('-');
            clean(t)
        }
    };
    if !msg.is_empty() {
        s.push(' ');
        if !msg.is_ascii() {
            s.push('\u{feff}');
        }
        s.push_str(&msg);
    }
    s.into_bytes()
}

/// Appends `msg` framed by octet counting (RFC 6587 §3.4.1): `MSG-LEN SP SYSLOG-MSG`.
pub fn octet_frame(msg: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(msg.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg);
}

/// One parsed frame: the message and the bytes after it.
pub type Frame<'a> = (&'a [u8], &'a [u8]);

/// Undoes [`octet_frame`] for one frame at the start of `buf`: returns the message and the rest.
/// For tests and receivers; refuses lengths over `max` and malformed counts.
pub fn parse_octet_frame(buf: &[u8], max: usize) -> Result<Option<Frame<'_>>, FrameError> {
    let Some(sp) = buf.iter().take(11).position(|b| *b == b' ') else {
        return if buf.len() > 10 || buf.iter().any(|b| !b.is_ascii_digit()) {
            Err(FrameError::BadLength)
        } else {
            Ok(None)
        };
    };
    let digits = buf.get(..sp).ok_or(FrameError::BadLength)?;
    if digits.is_empty() || digits.first() == Some(&b'0') || !digits.iter().all(u8::is_ascii_digit)
    {
        return Err(FrameError::BadLength);
    }
    let n: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(FrameError::BadLength)?;
    if n > max {
        return Err(FrameError::TooLong { len: n, max });
    }
    let rest = buf.get(sp + 1..).ok_or(FrameError::BadLength)?;
    if rest.len() < n {
        return Ok(None);
    }
    Ok(Some(rest.split_at(n)))
}

/// Errors of [`parse_octet_frame`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The MSG-LEN is not a positive decimal number without leading zeros.
    #[error("octet-counting frame: malformed length")]
    BadLength,
    /// The MSG-LEN exceeds the limit.
    #[error("octet-counting frame: length {len} exceeds limit {max}")]
    TooLong {
        /// Announced length.
        len: usize,
        /// Limit.
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Checkpoint, EventType};
    use aq_verify::{AlertKind, Severity};

    fn ev() -> ExportEvent {
        let mut e = ExportEvent::new(
            EventType::Alert,
            1_700_000_000_123,
            Severity::Critical,
            "fork at seq 7",
        );
        e.device = Some("01020304050607".into());
        e.alert_kind = Some(AlertKind::Fork);
        e.seqs = vec![7, 8];
        e.records = vec!["ab".repeat(32)];
        e.with_zone("cell-1")
            .with_log(99, Some(Checkpoint::new(100, &[1; 32])))
    }

    #[test]
    fn native_message_layout() {
        let o = SyslogOptions {
            hostname: "aq-server".into(),
            ..SyslogOptions::default()
        };
        let m = String::from_utf8(rfc5424(&ev(), &o, Body::Native)).unwrap();
        // facility 13 * 8 + critical (2) = 106
        let expect = format!(
            "<106>1 2023-11-14T22:13:20.123Z aq-server aq - alert [aq@32473 id=\"log:99\" \
             type=\"alert\" severity=\"critical\" device=\"01020304050607\" zone=\"cell-1\" \
             kind=\"fork\" seq=\"7,8\" rec=\"{}\" logIndex=\"99\" cpSize=\"100\" cpRoot=\"{}\"] \
             fork at seq 7",
            "ab".repeat(32),
            "01".repeat(32)
        );
        assert_eq!(m, expect);
    }

    #[test]
    fn sd_values_are_escaped() {
        let mut e = ev();
        e.zone = Some("a\"b\\c]d\ne".into());
        let m = String::from_utf8(rfc5424(&e, &SyslogOptions::default(), Body::Native)).unwrap();
        assert!(m.contains(r#"zone="a\"b\\c\]d e""#), "{m}");
        assert!(!m.contains('\n'));
    }

    #[test]
    fn bom_only_for_non_ascii() {
        let mut e = ev();
        let o = SyslogOptions::default();
        let ascii = rfc5424(&e, &o, Body::Native);
        assert!(!String::from_utf8(ascii).unwrap().contains('\u{feff}'));
        e.message = "Störung".into();
        let m = String::from_utf8(rfc5424(&e, &o, Body::Native)).unwrap();
        assert!(m.ends_with("] \u{feff}Störung"), "{m}");
    }

    #[test]
    fn header_fields_are_sanitised() {
        let o = SyslogOptions {
            hostname: "bad host\u{7f}".into(),
            app_name: "x".repeat(60),
            ..SyslogOptions::default()
        };
        let m = String::from_utf8(rfc5424(&ev(), &o, Body::Native)).unwrap();
        let fields: Vec<&str> = m.splitn(7, ' ').collect();
        assert_eq!(fields[2], "bad_host_");
        assert_eq!(fields[3].len(), 48);
    }

    #[test]
    fn long_lists_are_cut_with_a_count() {
        let mut e = ev();
        e.seqs = (0..100).collect();
        let o = SyslogOptions {
            max_list: 3,
            ..SyslogOptions::default()
        };
        let m = String::from_utf8(rfc5424(&e, &o, Body::Native)).unwrap();
        assert!(m.contains(r#"seq="0,1,2" seqCount="100""#), "{m}");
    }

    #[test]
    fn text_body_has_nil_sd() {
        let m = String::from_utf8(rfc5424(
            &ev(),
            &SyslogOptions::default(),
            Body::Text("CEF:0|x"),
        ))
        .unwrap();
        assert!(m.ends_with(" alert - CEF:0|x"), "{m}");
    }

    #[test]
    fn framing_round_trip() {
        let mut buf = Vec::new();
        octet_frame(b"hello world", &mut buf);
        octet_frame(b"x", &mut buf);
        assert_eq!(&buf[..3], b"11 ");
        let (a, rest) = parse_octet_frame(&buf, 100).unwrap().unwrap();
        assert_eq!(a, b"hello world");
        let (b, rest) = parse_octet_frame(rest, 100).unwrap().unwrap();
        assert_eq!((b, rest), (&b"x"[..], &b""[..]));
        assert_eq!(parse_octet_frame(b"5 ab", 100), Ok(None));
        assert_eq!(
            parse_octet_frame(b"05 abcde", 100),
            Err(FrameError::BadLength)
        );
        assert_eq!(
            parse_octet_frame(b"x5 abcde", 100),
            Err(FrameError::BadLength)
        );
        assert_eq!(
            parse_octet_frame(b"500 a", 100),
            Err(FrameError::TooLong { len: 500, max: 100 })
        );
        assert_eq!(
            parse_octet_frame(b"99999999999999", 100),
            Err(FrameError::BadLength)
        );
    }
}
