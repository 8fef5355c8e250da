#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `aq demo --exit` end to end: a small plant, every attack of the design, no false alarm.

use std::process::Command;

#[test]
fn demo_catches_every_attack_without_false_alarms() {
    let out = Command::new(env!("CARGO_BIN_EXE_aq"))
        .args([
            "demo",
            "--exit",
            "--json",
            "--devices",
            "30",
            "--seconds",
            "35",
            "--seed",
            "3",
            "--api-addr",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("demo output is not JSON ({e}):\n{stdout}\n{stderr}"));
    let attacks = v["attacks"].as_array().unwrap();
    assert!(attacks.len() >= 15, "{v:#}");
    for a in attacks {
        assert_eq!(a["detected"], true, "undetected: {a:#}\n{stderr}");
    }
    assert_eq!(
        v["false_alarms"].as_array().unwrap().len(),
        0,
        "{:#}",
        v["false_alarms"]
    );
    assert_eq!(v["ok"], true);
    assert!(out.status.success());
}
