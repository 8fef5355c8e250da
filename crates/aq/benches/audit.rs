#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `aq audit` throughput: records audited per second from an evidence bundle, printed beside the
//! limit that bounds it, measured in the same run on the same records: raw Ed25519 signature
//! verifications per second (one at a time, and batched as the audit does).
//!
//! The bundle is built here as `aq log export` writes one (real PUF-derived devices with
//! certificate chains, a signed checkpoint, an inclusion proof per entry), then audited by the
//! `aq` binary as a user runs it. The end-to-end figure includes process start, reading and
//! parsing the JSON, every inclusion proof and the chain engine; the audit also reports the
//! rate of its record phase alone.

use aq_agent::device::{Firmware, SimDevice, Spec};
use aq_evidence::{Digest, Record, VerifyingKey};
use aq_identity::cert::{CaRole, CertificateAuthority, Period, Subject};
use aq_identity::keys::KeyAlgorithm;
use aq_tlog::MemoryTree;
use aq_tlog::checkpoint::Checkpoint;
use aq_tlog::note::Signer;
use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group};
use serde_json::json;
use std::hint::black_box;
use std::time::{Duration, Instant};

const DEVICES: usize = 40;
const PER_DEVICE: usize = 500;

struct Fixture {
    _dir: tempfile::TempDir,
    bundle: String,
    ca: String,
    log_vkey: String,
    /// (record, key) for the raw verification figures.
    signed: Vec<(Record, VerifyingKey)>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let now_s = 1_767_225_600u64;
    let ca = CertificateAuthority::create(
        CaRole::Manufacturer,
        &Subject {
            organization: "Bench".into(),
            unit: None,
            common_name: "Bench Manufacturer CA".into(),
            serial_number: None,
        },
        KeyAlgorithm::Ed25519,
        [9; 32],
        Period::starting(now_s - 86_400, 86_400 * 3650),
    )
    .unwrap();
    let spec = Spec {
        vendor: "Siemens".into(),
        product: "SIMATIC S7-1500".into(),
        model: "6ES7511-1AK02-0AB0".into(),
        hardware_version: "FS 02".into(),
        firmware: Firmware::from_image("fw", "V3.1.0", 3, b"6ES7511 V3.1.0"),
        logic: Digest::of(b"logic"),
        config: Digest::of(b"config"),
        sbom: None,
        algorithm: KeyAlgorithm::Ed25519,
    };
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let mut records = Vec::new();
    for d in 0..DEVICES {
        let mut seed = [0x5a; 32];
        seed[0] = d as u8;
        let mut sim = SimDevice::provision(&spec, &ca, seed, now_s).unwrap();
        let mut t = now_s * 1000;
        let boot = sim
            .boot(t, aq_identity::puf::Conditions::NOMINAL)
            .unwrap()
            .bytes;
        records.push(boot);
        for _ in 0..PER_DEVICE - 1 {
            t += 1000;
            records.push(sim.measure(t, 10).unwrap().bytes);
        }
    }
    for r in &records {
        let mut e = vec![aq_server::logentry::RECORD];
        e.extend_from_slice(r);
        entries.push(e);
    }
    let tree = MemoryTree::from_entries(entries.iter());
    let n = tree.size();
    let origin = "bench.aq/log";
    let log = Signer::ed25519_from_seed(origin, [4; 32]).unwrap();
    let cp = Checkpoint {
        origin: origin.into(),
        size: n,
        root: tree.root(),
        extensions: vec![],
    }
    .sign(&[&log])
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle = json!({
        "format": "aq-evidence-bundle/1",
        "origin": origin,
        "log_vkey": log.verifier().to_vkey(),
        "checkpoint": String::from_utf8(cp).unwrap(),
        "selection": {"device": null, "from": 0, "to": n},
        "entries": entries.iter().enumerate().map(|(i, e)| json!({
            "index": i,
            "data": b64.encode(e),
            "proof": tree.inclusion_proof(i as u64, n).unwrap().iter().map(|h| h.to_base64()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    let bpath = dir.path().join("bundle.json");
    std::fs::write(&bpath, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let capath = dir.path().join("ca.pem");
    std::fs::write(
        &capath,
        aq_identity::cert::certificate_pem(ca.certificate_der()),
    )
    .unwrap();
    // The keys the audit will find: each device's Alias key, from its boot record's chain.
    let mut signed = Vec::new();
    let mut key: Option<VerifyingKey> = None;
    for r in &records {
        let rec = Record::decode(r).unwrap();
        if let aq_evidence::Body::Boot(b) = &rec.payload.body {
            let vi = aq_identity::verify::verify_chain(
                &b.cert_chain[0],
                &b.cert_chain[1],
                &[ca.certificate_der()],
                &[],
                now_s,
            )
            .unwrap();
            key = Some(
                VerifyingKey::from_bytes(aq_evidence::Algorithm::EdDSA, &vi.alias_key.raw_bytes())
                    .unwrap(),
            );
        }
        signed.push((rec, key.clone().unwrap()));
    }
    Fixture {
        bundle: bpath.to_str().unwrap().to_string(),
        ca: capath.to_str().unwrap().to_string(),
        log_vkey: log.verifier().to_vkey(),
        signed,
        _dir: dir,
    }
}

/// Runs `aq audit --json`; returns the audit's own record-phase rate.
fn audit(f: &Fixture) -> f64 {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aq"))
        .args([
            "audit",
            &f.bundle,
            "--log-key",
            &f.log_vkey,
            "--ca",
            &f.ca,
            "--json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["exit"], 0, "{v:#}");
    assert_eq!(v["stats"]["records"], DEVICES * PER_DEVICE);
    v["stats"]["records_per_s"].as_f64().unwrap()
}

fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut t: Vec<Duration> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    t[runs / 2]
}

fn summary(f: &Fixture) {
    let n = f.signed.len() as f64;
    let per_s = |d: Duration| n / d.as_secs_f64();
    let single = per_s(median(5, || {
        for (r, k) in &f.signed {
            black_box(r.verify(k)).unwrap();
        }
    }));
    let items: Vec<(&Record, &VerifyingKey)> = f.signed.iter().map(|(r, k)| (r, k)).collect();
    let batched = per_s(median(5, || {
        for c in items.chunks(256) {
            black_box(aq_evidence::batch::verify_batch(c));
        }
    }));
    let mut phase = Vec::new();
    let e2e = per_s(median(5, || phase.push(audit(f))));
    phase.sort_by(f64::total_cmp);
    let phase = phase[phase.len() / 2];
    println!(
        "\n== aq audit summary (medians of 5 runs, {} Ed25519 records of {DEVICES} devices, one core) ==",
        f.signed.len()
    );
    println!("raw Ed25519 verify, one at a time   {single:9.0} /s   (a limit)");
    println!(
        "raw Ed25519 verify, batches of 256  {batched:9.0} /s   (the limit: the audit batches)"
    );
    println!(
        "aq audit, record phase (engine)     {phase:9.0} records/s  = {:.2} of batched verify",
        phase / batched
    );
    println!(
        "aq audit, end to end (process, JSON, inclusion proofs, chains)  {e2e:9.0} records/s  = {:.2} of batched verify",
        e2e / batched
    );
}

fn bench(c: &mut Criterion) {
    let f = fixture();
    summary(&f);
    let mut g = c.benchmark_group("audit");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(f.signed.len() as u64));
    g.bench_function("aq_audit_bundle", |b| b.iter(|| audit(&f)));
    g.bench_function("raw_ed25519_verify_batched", |b| {
        let items: Vec<(&Record, &VerifyingKey)> = f.signed.iter().map(|(r, k)| (r, k)).collect();
        b.iter(|| {
            for c in items.chunks(256) {
                black_box(aq_evidence::batch::verify_batch(c));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
