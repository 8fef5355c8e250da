//! OCSF 1.5.0 JSON events.
//!
//! | aq event | OCSF class | category | activity |
//! |---|---|---|---|
//! | alert | Detection Finding (2004) | Findings (2) | Create (1) |
//! | test | Detection Finding (2004), informational, `is_alert: false` | Findings (2) | Create (1) |
//! | verdict change | Device Inventory Info (5001), `device.is_trusted` | Discovery (5) | Log (1) |
//! | telemetry summary | Device Inventory Info (5001) | Discovery (5) | Collect (2) |
//! | operator action | Entity Management (3004) | Identity & Access Management (3) | by verb, else Other (99) |
//!
//! Invariants: `type_uid = class_uid * 100 + activity_id`; every `*_id` enum has its matching
//! caption (`severity`, `activity_name`, `class_name`, `category_name`, `type_name`);
//! `metadata.uid` and `finding_info.uid` carry the idempotency key; `metadata.sequence` the
//! transparency-log index; aq specifics without an OCSF attribute (record hashes, sequence
//! numbers, checkpoint) sit under `unmapped.aq`. Devices are `type_id` 99 (Other) with
//! `type` "ICS Device": OCSF has no industrial-controller device type.

use crate::event::{EventType, ExportEvent};
use aq_verify::{Severity, Verdict};
use serde_json::{Map, Value, json};

/// The OCSF schema version the events claim (and are validated against in tests).
pub const OCSF_VERSION: &str = "1.5.0";

/// OCSF `severity_id` and its caption.
pub fn severity(s: Severity) -> (u8, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// The class an event maps to: (class_uid, class_name, category_uid, category_name).
pub fn class_of(t: EventType) -> (u32, &'static str, u32, &'static str) {
    match t {
        EventType::Alert | EventType::Test => (2004, "Detection Finding", 2, "Findings"),
        EventType::Verdict | EventType::Telemetry => {
            (5001, "Device Inventory Info", 5, "Discovery")
        }
        EventType::Operator => (3004, "Entity Management", 3, "Identity & Access Management"),
    }
}

/// Entity Management activity for an operator verb.
fn operator_activity(action: &str) -> (u32, String) {
    let verb = action.split(['-', '_', ' ']).next().unwrap_or("");
    let (id, name) = match verb {
        "create" | "add" => (1, "Create"),
        "read" | "export" | "view" => (2, "Read"),
        "update" | "set" | "approve" | "change" | "edit" => (3, "Update"),
        "delete" | "remove" => (4, "Delete"),
        "enroll" | "provision" => (6, "Enroll"),
        "unenroll" | "decommission" => (7, "Unenroll"),
        "enable" | "unrevoke" => (8, "Enable"),
        "disable" | "revoke" => (9, "Disable"),
        _ => return (99, action.to_string()),
    };
    (id, name.to_string())
}

fn device(ev: &ExportEvent, trusted: Option<bool>) -> Option<Value> {
    let uid = ev.device.as_ref()?;
    let mut d = Map::new();
    d.insert("uid".into(), json!(uid));
    d.insert("type_id".into(), json!(99));
    d.insert("type".into(), json!("ICS Device"));
    if let Some(z) = &ev.zone {
        d.insert(
            "groups".into(),
            json!([{ "name": z, "type": "IEC 62443 zone" }]),
        );
    }
    if let Some(t) = trusted {
        d.insert("is_trusted".into(), json!(t));
    }
    Some(Value::Object(d))
}

fn unmapped(ev: &ExportEvent) -> Value {
    let mut aq = Map::new();
    aq.insert("event_type".into(), json!(ev.event_type.name()));
    if let Some(z) = &ev.zone {
        aq.insert("zone".into(), json!(z));
    }
    if let Some(k) = ev.alert_kind {
        aq.insert("alert_kind".into(), json!(k.name()));
    }
    if let Some(v) = ev.verdict {
        aq.insert("verdict_from".into(), json!(v.from.name()));
        aq.insert("verdict_to".into(), json!(v.to.name()));
    }
    if let Some(k) = &ev.record_kind {
        aq.insert("record_kind".into(), json!(k));
    }
    if !ev.seqs.is_empty() {
        aq.insert("seqs".into(), json!(ev.seqs));
    }
    if !ev.records.is_empty() {
        aq.insert("record_hashes".into(), json!(ev.records));
    }
    if let Some(i) = ev.log_index {
        aq.insert("log_index".into(), json!(i));
    }
    if let Some(c) = &ev.checkpoint {
        aq.insert(
            "checkpoint".into(),
            json!({ "size": c.size, "root": c.root }),
        );
    }
    json!({ "aq": aq })
}

/// The OCSF event for `ev`.
pub fn event(ev: &ExportEvent) -> Value {
    let (class_uid, class_name, category_uid, category_name) = class_of(ev.event_type);
    let (activity_id, activity_name) = match ev.event_type {
        EventType::Alert | EventType::Test => (1, "Create".to_string()),
        EventType::Verdict => (1, "Log".to_string()),
        EventType::Telemetry => (2, "Collect".to_string()),
        EventType::Operator => operator_activity(ev.action.as_deref().unwrap_or("")),
    };
    let (severity_id, severity_name) = severity(ev.severity);
    let type_name = format!("{class_name}: {activity_name}");
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "uid": ev.id,
        "log_name": "aq",
        "product": {
            "name": "aq",
            "vendor_name": "aq",
            "version": env!("CARGO_PKG_VERSION"),
        },
    });
    if let (Some(i), Some(m)) = (ev.log_index, metadata.as_object_mut()) {
        m.insert("sequence".into(), json!(i));
    }
    let mut o = Map::new();
    o.insert("activity_id".into(), json!(activity_id));
    o.insert("activity_name".into(), json!(activity_name));
    o.insert("category_uid".into(), json!(category_uid));
    o.insert("category_name".into(), json!(category_name));
    o.insert("class_uid".into(), json!(class_uid));
    o.insert("class_name".into(), json!(class_name));
    o.insert(
        "type_uid".into(),
        json!(u64::from(class_uid) * 100 + u64::from(activity_id)),
    );
    o.insert("type_name".into(), json!(type_name));
    o.insert("severity_id".into(), json!(severity_id));
    o.insert("severity".into(), json!(severity_name));
    o.insert("time".into(), json!(ev.time_ms));
    o.insert("message".into(), json!(ev.message));
    o.insert("metadata".into(), metadata);
    match ev.event_type {
        EventType::Alert | EventType::Test => {
            let alert = ev.event_type == EventType::Alert;
            let kind = ev.alert_kind.map(|k| k.name()).unwrap_or("test");
            o.insert("is_alert".into(), json!(alert));
            o.insert("status_id".into(), json!(1));
            o.insert("status".into(), json!("New"));
            o.insert(
                "finding_info".into(),
                json!({
                    "uid": ev.id,
                    "title": if alert { format!("aq alert: {kind}") } else { "aq export test".into() },
                    "desc": ev.message,
                    "types": [kind],
                    "created_time": ev.time_ms,
                }),
            );
            if let Some(d) = device(ev, None) {
                o.insert("device".into(), d);
            }
        }
        EventType::Verdict | EventType::Telemetry => {
            let trusted = ev.verdict.and_then(|v| match v.to {
                Verdict::Trusted => Some(true),
                Verdict::Untrusted => Some(false),
                Verdict::Stale | Verdict::Unknown => None,
            });
            // Device Inventory Info requires a device; an event without one names the unknown.
            let d =
                device(ev, trusted).unwrap_or_else(|| json!({ "type_id": 0, "type": "Unknown" }));
            o.insert("device".into(), d);
        }
        EventType::Operator => {
            if let Some(a) = &ev.actor {
                o.insert("actor".into(), json!({ "user": { "name": a } }));
            }
            let mut entity = Map::new();
            match (&ev.target, &ev.device) {
                (Some(t), _) => {
                    entity.insert("name".into(), json!(t));
                }
                (None, Some(d)) => {
                    entity.insert("uid".into(), json!(d));
                }
                (None, None) => {
                    entity.insert("name".into(), json!(ev.action.as_deref().unwrap_or("aq")));
                }
            }
            if let Some(d) = device(ev, None) {
                entity.insert("device".into(), d);
            }
            o.insert("entity".into(), Value::Object(entity));
            o.insert("comment".into(), json!(ev.message));
        }
    }
    o.insert("unmapped".into(), unmapped(ev));
    Value::Object(o)
}

/// The OCSF event as compact JSON bytes.
pub fn to_json(ev: &ExportEvent) -> Vec<u8> {
    serde_json::to_vec(&event(ev)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Checkpoint, OperatorAction, Transition};
    use aq_verify::AlertKind;

    #[test]
    fn detection_finding_uids() {
        let mut e = ExportEvent::new(EventType::Alert, 7, Severity::Critical, "m");
        e.alert_kind = Some(AlertKind::Rollback);
        e.device = Some("aa".repeat(8));
        let e = e.with_log(3, Some(Checkpoint::new(4, &[0; 32])));
        let v = event(&e);
        assert_eq!(v["class_uid"], 2004);
        assert_eq!(v["category_uid"], 2);
        assert_eq!(v["type_uid"], 200_401);
        assert_eq!(v["severity_id"], 5);
        assert_eq!(v["finding_info"]["uid"], "log:3");
        assert_eq!(v["metadata"]["sequence"], 3);
        assert_eq!(v["metadata"]["product"]["name"], "aq");
        assert_eq!(v["unmapped"]["aq"]["checkpoint"]["size"], 4);
    }

    #[test]
    fn verdict_is_inventory_info() {
        let mut e = ExportEvent::new(EventType::Verdict, 7, Severity::High, "m");
        e.device = Some("bb".repeat(8));
        e.verdict = Some(Transition {
            from: Verdict::Trusted,
            to: Verdict::Untrusted,
        });
        let v = event(&e);
        assert_eq!(v["class_uid"], 5001);
        assert_eq!(v["type_uid"], 500_101);
        assert_eq!(v["device"]["is_trusted"], false);
    }

    #[test]
    fn operator_verbs() {
        let a = OperatorAction {
            actor: "alice".into(),
            action: "revoke-device".into(),
            target: Some("dev-1".into()),
            device: None,
            at_ms: 1,
            detail: "revoked".into(),
        };
        let v = event(&ExportEvent::operator(&a));
        assert_eq!(v["class_uid"], 3004);
        assert_eq!(v["activity_id"], 9);
        assert_eq!(v["type_uid"], 300_409);
        assert_eq!(operator_activity("frobnicate"), (99, "frobnicate".into()));
    }
}
