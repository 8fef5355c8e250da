//! Fleet-scale figures, each printed beside a physical reference measured in the same run:
//!
//! 1. new advisory → affected devices, 100,000 devices × 300 components (target p95 ≤ 100 ms),
//!    over all 40 CISA advisories; reference: `HashMap<String, _>` lookups/s;
//! 2. re-check one updated device (upsert + check against all 40 advisories) (≤ 10 ms);
//!    reference: the same lookups;
//! 3. ingest of a 10,000-component CycloneDX SBOM (parse + digest + upsert) (≤ 1 s);
//!    reference: `serde_json::Value` parse and SHA-256 of the same bytes;
//! 4. import of all 40 advisories (parse + index) (≤ 1 s); reference: `serde_json::Value`
//!    parse of the same bytes.
//!
//! The fleet draws on the real products of the 40 test advisories (vendor, name, model
//! numbers, versions near the advisories' bounds) plus firmware SBOM profiles mixing
//! common open-source components with ICS components the advisories name.
//! `AQ_SBOM_BENCH_DEVICES` overrides the fleet size (default 100,000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aq_sbom::advisory::{Advisory, parse_csaf};
use aq_sbom::fleet::{AdvisoryIndex, FleetIndex};
use aq_sbom::matching::PreparedAdvisory;
use aq_sbom::model::{Component, ComponentType, DeviceIdentity, DeviceRecord};
use aq_sbom::range::RangeKind;
use aq_sbom::sbom::parse_sbom;
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::Digest as _;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn advisory_bytes() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/csaf");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().to_string(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Device identity templates from the advisories' own products.
fn identities(advs: &[Advisory]) -> Vec<DeviceIdentity> {
    let mut out = Vec::new();
    for a in advs {
        for p in &a.products {
            let (Some(vendor), Some(name)) = (&p.vendor, &p.name) else {
                continue;
            };
            if p.composite.is_some() {
                continue;
            }
            let fw = match p.versions.as_ref().map(|v| &v.kind) {
                Some(RangeKind::Constraints(c)) => c.first().map(|c| c.version.raw().to_string()),
                Some(RangeKind::AnyOf(a)) => a.first().map(|v| v.raw().to_string()),
                _ => Some("1.0".to_string()),
            };
            out.push(DeviceIdentity {
                vendor: vendor.clone(),
                product: name.clone(),
                family: p.families.first().cloned(),
                model: p.model_numbers.first().cloned(),
                firmware_version: fw,
                ..Default::default()
            });
        }
    }
    out
}

const OSS: &[&str] = &[
    "openssl",
    "busybox",
    "linux",
    "zlib",
    "libxml2",
    "curl",
    "dropbear",
    "lighttpd",
    "sqlite",
    "libpng",
    "expat",
    "glibc",
    "uclibc",
    "mbedtls",
    "lwip",
    "freertos",
    "jansson",
    "libmodbus",
    "open62541",
    "protobuf-c",
    "libcurl",
    "ncurses",
    "readline",
    "pcre",
    "dbus",
    "openssh",
    "iptables",
    "ntp",
    "chrony",
    "avahi",
    "libusb",
    "u-boot",
    "e2fsprogs",
    "util-linux",
];
const ICS: &[(&str, &str, &str)] = &[
    ("Wind River", "VxWorks", "6.9.4.11"),
    ("Wibu-Systems AG", "CodeMeter", "7.00"),
    ("Treck Inc.", "Treck TCP/IP", "6.0.1.66"),
    ("CODESYS GmbH", "CODESYS Development System", "3.5.18.40"),
    ("Green Hills Software", "INTEGRITY RTOS", "11.4"),
];

fn profile(rng: &mut ChaCha8Rng, n: usize) -> Vec<Component> {
    let mut comps = Vec::with_capacity(n);
    for i in 0..n {
        let name = OSS[rng.gen_range(0..OSS.len())];
        let ver = format!(
            "{}.{}.{}",
            rng.gen_range(0..4),
            rng.gen_range(0..20),
            rng.gen_range(0..30)
        );
        comps.push(Component {
            bom_ref: Some(format!("c{i}")),
            name: format!("{name}-{}", i % 40),
            version: Some(ver.clone()),
            purl: Some(format!("pkg:generic/{name}-{}@{ver}", i % 40)),
            kind: ComponentType::Library,
            ..Default::default()
        });
    }
    if rng.gen_bool(0.4) {
        let (v, name, ver) = ICS[rng.gen_range(0..ICS.len())];
        if let Some(c) = comps.last_mut() {
            *c = Component {
                name: name.into(),
                vendor: Some(v.into()),
                version: Some(ver.into()),
                kind: ComponentType::OperatingSystem,
                ..Default::default()
            };
        }
    }
    comps
}

struct World {
    advs: Vec<Advisory>,
    prepared: Vec<PreparedAdvisory>,
    fleet: FleetIndex,
    index: AdvisoryIndex,
    profiles: Vec<Vec<Component>>,
    idents: Vec<DeviceIdentity>,
}

fn world() -> World {
    let n: usize = std::env::var("AQ_SBOM_BENCH_DEVICES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let advs: Vec<Advisory> = advisory_bytes()
        .iter()
        .map(|(_, b)| parse_csaf(b).unwrap())
        .collect();
    let idents = identities(&advs);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let profiles: Vec<Vec<Component>> = (0..200).map(|_| profile(&mut rng, 300)).collect();
    let mut fleet = FleetIndex::default();
    let t = Instant::now();
    for i in 0..n {
        let ident = idents[rng.gen_range(0..idents.len())].clone();
        fleet.upsert_device(DeviceRecord {
            id: format!("dev-{i:06}"),
            zone: Some(format!("zone-{}", i % 50)),
            identity: ident,
            components: profiles[rng.gen_range(0..profiles.len())].clone(),
            ..Default::default()
        });
    }
    let st = fleet.stats();
    println!(
        "fleet: {} devices, {} device-component pairs, {} distinct subjects, built in {:.1} s ({} identity templates from the advisories)",
        st.devices,
        st.device_components,
        st.distinct_subjects,
        t.elapsed().as_secs_f64(),
        idents.len()
    );
    let prepared = advs
        .iter()
        .map(|a| PreparedAdvisory::new(Arc::new(a.clone()), fleet.aliases()))
        .collect();
    let mut index = AdvisoryIndex::default();
    for a in &advs {
        index.insert(a.clone());
    }
    World {
        advs,
        prepared,
        fleet,
        index,
        profiles,
        idents,
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

/// Reference: string-keyed hash map lookups per second (the unit an inverted index pays).
fn hashmap_lookups_per_s() -> f64 {
    let keys: Vec<String> = (0..100_000).map(|i| format!("subject-key-{i}")).collect();
    let m: HashMap<&str, u32> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i as u32))
        .collect();
    let t = Instant::now();
    let mut s = 0u64;
    for _ in 0..10 {
        for k in &keys {
            s += u64::from(*m.get(k.as_str()).unwrap());
        }
    }
    black_box(s);
    1_000_000.0 / t.elapsed().as_secs_f64()
}

fn cyclonedx_10k() -> Vec<u8> {
    let comps: Vec<serde_json::Value> = (0..10_000)
        .map(|i| {
            serde_json::json!({"type":"library","bom-ref":format!("c{i}"),"name":format!("lib{i}"),
              "version":format!("1.{}.{}", i % 17, i % 5),"purl":format!("pkg:generic/lib{i}@1.{}.{}", i % 17, i % 5),
              "supplier":{"name":"Acme"},"hashes":[{"alg":"SHA-256","content":format!("{:064x}", i)}],
              "cpe":format!("cpe:2.3:a:acme:lib{i}:1.0:*:*:*:*:*:*:*")})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"bomFormat":"CycloneDX","specVersion":"1.6",
        "serialNumber":"urn:uuid:00000000-0000-0000-0000-000000000001","version":1,
        "metadata":{"component":{"type":"firmware","name":"plc-fw","version":"3.1.0"}},"components":comps}))
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let mut w = world();
    let lookups = hashmap_lookups_per_s();
    println!(
        "reference: HashMap<&str,_> lookups: {:.1} M/s",
        lookups / 1e6
    );

    // 1. advisory → affected devices, each advisory timed 5 times; p50/p95 over all runs.
    let mut times = Vec::new();
    let mut worst = (0.0, String::new());
    for p in &w.prepared {
        for _ in 0..5 {
            let t = Instant::now();
            let r = w.fleet.affected_by(p);
            let ms = t.elapsed().as_secs_f64() * 1e3;
            black_box(r.devices.len());
            if ms > worst.0 {
                worst = (
                    ms,
                    format!("{} ({} devices)", p.advisory.id, r.devices.len()),
                );
            }
            times.push(ms);
        }
    }
    let (p50, p95) = (pct(&mut times.clone(), 0.5), pct(&mut times, 0.95));
    println!(
        "advisory→affected @ {} devices: p50 {p50:.2} ms, p95 {p95:.2} ms (target ≤ 100 ms), worst {:.2} ms {}; in p95 time the reference does {:.0} hash lookups",
        w.fleet.len(),
        worst.0,
        worst.1,
        p95 / 1e3 * lookups
    );
    let mut g = c.benchmark_group("sbom");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    let big = w
        .prepared
        .iter()
        .find(|p| p.advisory.id.eq_ignore_ascii_case("icsa-22-167-14"))
        .unwrap()
        .clone();
    g.bench_function("advisory_affected/icsa-22-167-14 (386 products)", |b| {
        b.iter(|| black_box(w.fleet.affected_by(&big).devices.len()))
    });

    // 2. re-check one updated device: upsert (new firmware + 300 components) + check.
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut times = Vec::new();
    for i in 0..200 {
        let rec = DeviceRecord {
            id: format!("dev-{:06}", i * 37),
            zone: Some("zone-1".into()),
            identity: w.idents[rng.gen_range(0..w.idents.len())].clone(),
            components: w.profiles[rng.gen_range(0..w.profiles.len())].clone(),
            ..Default::default()
        };
        let t = Instant::now();
        w.fleet.upsert_device(rec);
        let f = w
            .fleet
            .check_device(&format!("dev-{:06}", i * 37), &w.index);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        black_box(f.len());
    }
    let (p50, p95) = (pct(&mut times.clone(), 0.5), pct(&mut times, 0.95));
    println!(
        "re-check one updated device (upsert + check vs {} advisories): p50 {p50:.3} ms, p95 {p95:.3} ms (target ≤ 10 ms); reference lookups in p50: {:.0}",
        w.index.len(),
        p50 / 1e3 * lookups
    );
    let (fleet, index, profiles, idents) = (&mut w.fleet, &w.index, &w.profiles, &w.idents);
    let mut k = 0usize;
    g.bench_function("recheck_updated_device", |b| {
        b.iter(|| {
            k += 1;
            let id = format!("dev-{:06}", (k * 7919) % 100_000);
            fleet.upsert_device(DeviceRecord {
                id: id.clone(),
                zone: None,
                identity: idents[k % idents.len()].clone(),
                components: profiles[k % profiles.len()].clone(),
                ..Default::default()
            });
            black_box(fleet.check_device(&id, index).len())
        })
    });

    // 3. ingest of a 10,000-component SBOM.
    let sbom = cyclonedx_10k();
    let t = Instant::now();
    let v: serde_json::Value = serde_json::from_slice(&sbom).unwrap();
    let raw_ms = t.elapsed().as_secs_f64() * 1e3;
    black_box(v);
    let t = Instant::now();
    black_box(sha2::Sha256::digest(&sbom));
    let sha_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let s = parse_sbom(&sbom).unwrap();
    let parse_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    fleet.upsert_device(DeviceRecord {
        id: "sbom-10k".into(),
        identity: idents[0].clone(),
        components: s.components,
        sbom_digest: Some(s.digest),
        ..Default::default()
    });
    let up_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "ingest 10,000-component SBOM ({:.1} MB): parse+digest {parse_ms:.1} ms + index {up_ms:.1} ms = {:.1} ms (target ≤ 1000 ms); reference serde_json::Value parse {raw_ms:.1} ms, SHA-256 {sha_ms:.2} ms",
        sbom.len() as f64 / 1e6,
        parse_ms + up_ms
    );
    g.bench_function("parse_cyclonedx_10k", |b| {
        b.iter(|| black_box(parse_sbom(&sbom).unwrap().components.len()))
    });
    g.bench_function("reference_serde_value_10k", |b| {
        b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(&sbom).unwrap()))
    });

    // 4. import of all 40 advisories.
    let files = advisory_bytes();
    let total: usize = files.iter().map(|(_, b)| b.len()).sum();
    let t = Instant::now();
    let mut idx = AdvisoryIndex::default();
    for (_, b) in &files {
        idx.insert(parse_csaf(b).unwrap());
    }
    let imp_ms = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    for (_, b) in &files {
        black_box(serde_json::from_slice::<serde_json::Value>(b).unwrap());
    }
    let raw_ms = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "import 40 advisories ({:.1} MB): {imp_ms:.1} ms (target ≤ 1000 ms); reference serde_json::Value parse {raw_ms:.1} ms ({:.1}x)",
        total as f64 / 1e6,
        imp_ms / raw_ms
    );
    g.bench_function("import_40_advisories", |b| {
        b.iter(|| {
            let mut idx = AdvisoryIndex::default();
            for (_, bytes) in &files {
                idx.insert(parse_csaf(bytes).unwrap());
            }
            black_box(idx.len())
        })
    });
    g.bench_function("reference_serde_value_40_advisories", |b| {
        b.iter(|| {
            for (_, bytes) in &files {
                black_box(serde_json::from_slice::<serde_json::Value>(bytes).unwrap());
            }
        })
    });
    g.finish();
    black_box(&w.advs);
}

criterion_group!(sbom_benches, benches);
criterion_main!(sbom_benches);
