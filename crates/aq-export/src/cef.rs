//! ArcSight Common Event Format (CEF:0) lines.
//!
//! `CEF:0|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension`
//!
//! Escaping, per the CEF specification:
//! * header fields: `\` → `\\`, `|` → `\|`; line breaks and other control characters become
//!   spaces (the header cannot carry them);
//! * extension values: `\` → `\\`, `=` → `\=`, CR → `\r`, LF → `\n`; other control
//!   characters become spaces; `|` needs no escape there.
//!
//! Severity maps aq's five levels onto CEF's 0..=10 scale at the centre of each CEF band
//! (Low 0-3, Medium 4-6, High 7-8, Very-High 9-10): info 1, low 3, medium 5, high 8,
//! critical 10.
//!
//! Custom fields use fixed labels, so a SIEM parser can be written once:
//! `cs1` zone, `cs2` alertKind, `cs3` seqs, `cs4` recordHashes, `cs5` checkpointRoot,
//! `cs6` deviceId, `cn1` logIndex, `cn2` checkpointSize, `flexString1` verdict
//! (`from->to`), `flexString2` target.

use crate::event::ExportEvent;
use crate::text::truncate_utf8;
use aq_verify::Severity;

/// CEF severity of an aq severity.
pub fn severity(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
        Severity::Critical => 10,
    }
}

/// Escapes a header field.
pub fn escape_header(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes an extension value.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '=' => out.push_str("\\="),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Formatting options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CefOptions {
    /// Device Vendor.
    pub vendor: String,
    /// Device Product.
    pub product: String,
    /// Device Version.
    pub version: String,
    /// Longest list in one extension value.
    pub max_list: usize,
    /// Longest `msg` in bytes.
    pub max_msg: usize,
}

impl Default for CefOptions {
    fn default() -> Self {
        CefOptions {
            vendor: "aq".into(),
            product: "aq".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            max_list: 32,
            max_msg: 2048,
        }
    }
}

fn ext(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(key);
    out.push('=');
    out.push_str(&escape_value(value));
}

fn labelled(out: &mut String, key: &str, label: &str, value: &str) {
    ext(out, &format!("{key}Label"), label);
    ext(out, key, value);
}

fn joined<T: ToString>(items: &[T], max: usize) -> String {
    let mut s: Vec<String> = items.iter().take(max).map(ToString::to_string).collect();
    if items.len() > max {
        s.push(format!("...({} total)", items.len()));
    }
    s.join(",")
}

/// Signature ID: what kind of event, stable across releases.
pub fn signature_id(ev: &ExportEvent) -> String {
    let t = ev.event_type.name();
    match (&ev.alert_kind, &ev.verdict, &ev.action, &ev.record_kind) {
        (Some(k), _, _, _) => format!("{t}:{}", k.name()),
        (_, Some(v), _, _) => format!("{t}:{}", v.to.name()),
        (_, _, Some(a), _) => format!("{t}:{a}"),
        (_, _, _, Some(k)) => format!("{t}:{k}"),
        _ => t.to_string(),
    }
}

/// A short name for the event.
pub fn name(ev: &ExportEvent) -> String {
    match (&ev.alert_kind, &ev.verdict, &ev.action) {
        (Some(k), _, _) => format!("aq alert: {}", k.name()),
        (_, Some(v), _) => format!("aq verdict: {} -> {}", v.from.name(), v.to.name()),
        (_, _, Some(a)) => format!("aq operator action: {a}"),
        _ => format!("aq {}", ev.event_type.name()),
    }
}

/// One CEF line (no trailing newline).
pub fn format(ev: &ExportEvent, o: &CefOptions) -> String {
    let mut e = String::with_capacity(512);
    ext(&mut e, "rt", &ev.time_ms.to_string());
    ext(&mut e, "externalId", &ev.id);
    ext(&mut e, "cat", ev.event_type.name());
    if let Some(z) = &ev.zone {
        labelled(&mut e, "cs1", "zone", z);
    }
    if let Some(k) = ev.alert_kind {
        labelled(&mut e, "cs2", "alertKind", k.name());
    }
    if !ev.seqs.is_empty() {
        labelled(&mut e, "cs3", "seqs", &joined(&ev.seqs, o.max_list));
    }
    if !ev.records.is_empty() {
        labelled(
            &mut e,
            "cs4",
            "recordHashes",
            &joined(&ev.records, o.max_list),
        );
    }
    if let Some(c) = &ev.checkpoint {
        labelled(&mut e, "cs5", "checkpointRoot", &c.root);
        labelled(&mut e, "cn2", "checkpointSize", &c.size.to_string());
    }
    if let Some(d) = &ev.device {
        labelled(&mut e, "cs6", "deviceId", d);
    }
    if let Some(i) = ev.log_index {
        labelled(&mut e, "cn1", "logIndex", &i.to_string());
    }
    if let Some(v) = ev.verdict {
        labelled(
            &mut e,
            "flexString1",
            "verdict",
            &format!("{}->{}", v.from.name(), v.to.name()),
        );
    }
    if let Some(t) = &ev.target {
        labelled(&mut e, "flexString2", "target", t);
    }
    if let Some(a) = &ev.actor {
        ext(&mut e, "suser", a);
    }
    if let Some(a) = &ev.action {
        ext(&mut e, "act", a);
    }
    ext(&mut e, "msg", truncate_utf8(&ev.message, o.max_msg));
    format!(
        "CEF:0|{}|{}|{}|{}|{}|{}|{}",
        escape_header(&o.vendor),
        escape_header(&o.product),
        escape_header(&o.version),
        escape_header(&signature_id(ev)),
        escape_header(&name(ev)),
        severity(ev.severity),
        e
    )
}

/// Splits a CEF line into its 7 header fields and the extension, undoing header escapes.
/// A reference parser for tests and receivers; refuses lines longer than `max`.
pub fn parse(line: &str, max: usize) -> Option<(Vec<String>, String)> {
    if line.len() > max {
        return None;
    }
    let mut fields = Vec::with_capacity(7);
    let mut cur = String::new();
    let mut chars = line.chars();
    while fields.len() < 7 {
        let c = chars.next()?;
        match c {
            '\\' => cur.push(chars.next()?),
            '|' => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    Some((fields, chars.collect()))
}

/// Parses a CEF extension into key/value pairs, undoing value escapes.
pub fn parse_extension(ext: &str) -> Option<Vec<(String, String)>> {
    // Keys are alphanumeric and directly followed by an unescaped '='; a value runs until the
    // last space before the next key.
    let b: Vec<char> = ext.chars().collect();
    let mut eqs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b.get(i) {
            Some('\\') => i += 2,
            Some('=') => {
                eqs.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    let mut out = Vec::new();
    let mut key_start = 0;
    for (n, &eq) in eqs.iter().enumerate() {
        let key: String = b.get(key_start..eq)?.iter().collect();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            return None;
        }
        let value_end = match eqs.get(n + 1) {
            Some(&next) => {
                let mut j = next;
                while j > eq && b.get(j - 1) != Some(&' ') {
                    j -= 1;
                }
                if j <= eq + 1 {
                    return None;
                }
                key_start = j;
                j - 1
            }
            None => b.len(),
        };
        let raw = b.get(eq + 1..value_end)?;
        let mut v = String::new();
        let mut k = 0;
        while k < raw.len() {
            match (raw.get(k), raw.get(k + 1)) {
                (Some('\\'), Some('n')) => {
                    v.push('\n');
                    k += 2;
                }
                (Some('\\'), Some('r')) => {
                    v.push('\r');
                    k += 2;
                }
                (Some('\\'), Some(c)) => {
                    v.push(*c);
                    k += 2;
                }
                (Some(c), _) => {
                    v.push(*c);
                    k += 1;
                }
                (None, _) => break,
            }
        }
        out.push((key, v));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Checkpoint, EventType};
    use aq_verify::AlertKind;

    fn ev(msg: &str) -> ExportEvent {
        let mut e = ExportEvent::new(EventType::Alert, 1_700_000_000_123, Severity::High, msg);
        e.device = Some("0102030405060708".into());
        e.alert_kind = Some(AlertKind::Integrity);
        e.seqs = vec![3];
        e.with_zone("zone|a=b")
            .with_log(5, Some(Checkpoint::new(6, &[2; 32])))
    }

    #[test]
    fn escapes_round_trip_through_reference_parser() {
        let nasty = "x|y\\z=w\r\nnext=line";
        let mut e = ev(nasty);
        e.action = Some("a|b".into());
        let line = format(&e, &CefOptions::default());
        assert!(!line.contains('\n') && !line.contains('\r'));
        let (h, extension) = parse(&line, 1 << 16).unwrap();
        assert_eq!(h[0], "CEF:0");
        assert_eq!(h[1], "aq");
        assert_eq!(h[4], "alert:integrity");
        assert_eq!(h[6], "8");
        let kv = parse_extension(&extension).unwrap();
        let get = |k: &str| kv.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("msg"), Some(nasty));
        assert_eq!(get("cs1"), Some("zone|a=b"));
        assert_eq!(get("cs1Label"), Some("zone"));
        assert_eq!(get("externalId"), Some("log:5"));
        assert_eq!(get("cn1"), Some("5"));
        assert_eq!(get("act"), Some("a|b"));
        assert_eq!(get("rt"), Some("1700000000123"));
    }

    #[test]
    fn header_escaping() {
        assert_eq!(escape_header("a|b\\c\nd"), "a\\|b\\\\c d");
        assert_eq!(escape_value("a=b\\c\nd\re|f"), "a\\=b\\\\c\\nd\\re|f");
        let o = CefOptions {
            product: "p|q".into(),
            ..CefOptions::default()
        };
        let (h, _) = parse(&format(&ev("m"), &o), 1 << 16).unwrap();
        assert_eq!(h[2], "p|q");
    }

    #[test]
    fn severity_bands() {
        assert_eq!(
            [
                Severity::Info,
                Severity::Low,
                Severity::Medium,
                Severity::High,
                Severity::Critical
            ]
            .map(severity),
            [1, 3, 5, 8, 10]
        );
    }
}
