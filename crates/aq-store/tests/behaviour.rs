#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! One behavioural suite, run against every backend: SQLite always, PostgreSQL when
//! `AQ_TEST_PG_URL` is set (`.ci/run` sets it; elsewhere the test prints why it skips).

use aq_evidence::{DeviceId, Digest, Kind};
use aq_store::{
    Ack, AlertQuery, Batch, DeviceRow, DocWrite, NewAlert, NewRecord, Store, StoreError,
};
use aq_verify::{Alert, AlertKind};

fn dev(n: u8) -> DeviceId {
    let mut b = [n; 33];
    b[0] = 1;
    DeviceId::from_ueid33(b)
}

fn rec(d: DeviceId, seq: u64, log_index: u64) -> NewRecord {
    let bytes = format!("record {d} {seq}").into_bytes();
    NewRecord {
        log_index,
        device: d,
        seq,
        kind: if seq == 0 {
            Kind::Boot
        } else {
            Kind::Measurement
        },
        time_ms: 1000 + seq,
        received_ms: 2000 + seq,
        stale: false,
        hash: Digest::of(&bytes),
        prev: if seq == 0 {
            Digest::ZERO
        } else {
            Digest::of(format!("record {d} {}", seq - 1).as_bytes())
        },
        bytes,
    }
}

fn row(d: DeviceId, version: u64, next: u64) -> DeviceRow {
    DeviceRow {
        device: d,
        version,
        snapshot: vec![version as u8; 10],
        verdict: "trusted".into(),
        vendor: "Siemens".into(),
        product: "SIMATIC S7-1500".into(),
        model: "6ES7511-1AK02-0AB0".into(),
        firmware_version: "V3.1.0".into(),
        next_seq: next,
        last_seen_ms: 5000,
    }
}

fn suite(s: &dyn Store) {
    let (a, b) = (dev(1), dev(2));
    // Records and device rows in one batch.
    let mut batch = Batch {
        records: (0..5).map(|i| rec(a, i, i)).collect(),
        devices: vec![row(a, 0, 5)],
        log_high_water: Some(5),
        ..Batch::default()
    };
    s.commit(&batch).unwrap();
    assert_eq!(s.link(&a, 3).unwrap().unwrap().hash, rec(a, 3, 3).hash);
    assert!(s.link(&a, 9).unwrap().is_none());
    assert_eq!(s.records(&a, 2, 10).unwrap().len(), 3);
    assert_eq!(s.latest_of_kind(&a, Kind::Boot).unwrap().unwrap().seq, 0);
    assert_eq!(
        s.latest_of_kind(&a, Kind::Measurement)
            .unwrap()
            .unwrap()
            .seq,
        4
    );
    assert_eq!(s.record_at_log_index(2).unwrap().unwrap().seq, 2);
    assert_eq!(s.device(&a).unwrap().unwrap().version, 1);

    // Idempotent: the same records again are skipped (device row with the current version).
    batch.devices = vec![row(a, 1, 5)];
    s.commit(&batch).unwrap();
    assert_eq!(s.meta().unwrap().records, 5);

    // A different record under an existing (device, seq): refused, and nothing of the batch lands.
    let mut evil = rec(a, 2, 100);
    evil.hash = Digest::of(b"evil");
    let bad = Batch {
        records: vec![rec(b, 0, 50), evil],
        docs: vec![DocWrite {
            collection: "zones".into(),
            key: "z".into(),
            value: Some(b"x".to_vec()),
        }],
        ..Batch::default()
    };
    assert!(matches!(s.commit(&bad), Err(StoreError::Corrupt(_))));
    assert!(s.link(&b, 0).unwrap().is_none(), "batch was not atomic");
    assert!(s.get_doc("zones", "z").unwrap().is_none());

    // Compare-and-set on device state.
    assert!(matches!(
        s.commit(&Batch {
            devices: vec![row(a, 0, 6)],
            ..Batch::default()
        }),
        Err(StoreError::Conflict { .. })
    ));
    assert!(
        matches!(
            s.commit(&Batch {
                devices: vec![row(a, 1, 6)],
                records: vec![rec(a, 5, 5)],
                ..Batch::default()
            }),
            Err(StoreError::Conflict { .. })
        ),
        "stale version must lose"
    );
    assert!(
        s.link(&a, 5).unwrap().is_none(),
        "conflicting batch must not write records"
    );
    s.commit(&Batch {
        devices: vec![row(a, 2, 6)],
        records: vec![rec(a, 5, 5)],
        ..Batch::default()
    })
    .unwrap();
    assert_eq!(s.device(&a).unwrap().unwrap().version, 3);
    assert_eq!(s.device(&a).unwrap().unwrap().next_seq, 6);
    s.commit(&Batch {
        devices: vec![row(b, 0, 0)],
        ..Batch::default()
    })
    .unwrap();
    assert_eq!(s.devices().unwrap().len(), 2);

    // Alerts and acknowledgements.
    let alerts: Vec<NewAlert> = [AlertKind::Gap, AlertKind::Fork, AlertKind::Gap]
        .iter()
        .enumerate()
        .map(|(i, k)| NewAlert {
            log_index: 10 + i as u64,
            alert: Alert::new(
                *k,
                Some(if i == 1 { b } else { a }),
                9000 + i as u64,
                format!("alert {i}"),
            )
            .seqs([i as u64]),
        })
        .collect();
    s.commit(&Batch {
        alerts: alerts.clone(),
        log_high_water: Some(13),
        ..Batch::default()
    })
    .unwrap();
    // The same alerts again (replay of the log tail after a crash) are not duplicated.
    s.commit(&Batch {
        alerts,
        ..Batch::default()
    })
    .unwrap();
    let all = s
        .alerts(&AlertQuery {
            limit: 10,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].alert.explanation, "alert 2", "newest first");
    let gaps = s
        .alerts(&AlertQuery {
            kinds: vec!["gap".into()],
            limit: 10,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(gaps.len(), 2);
    let of_b = s
        .alerts(&AlertQuery {
            device: Some(b),
            limit: 10,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(of_b.len(), 1);
    assert_eq!(of_b[0].alert.kind, AlertKind::Fork);
    s.commit(&Batch {
        acks: vec![Ack {
            alert_id: of_b[0].id,
            operator: "alice".into(),
            at_ms: 9999,
            log_index: 14,
        }],
        ..Batch::default()
    })
    .unwrap();
    let open = s
        .alerts(&AlertQuery {
            open_only: true,
            limit: 10,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(open.len(), 2);
    let acked = s
        .alerts(&AlertQuery {
            device: Some(b),
            limit: 10,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(acked[0].acked, Some(("alice".into(), 9999)));
    let page = s
        .alerts(&AlertQuery {
            after_id: Some(all[2].id),
            limit: 1,
            ..AlertQuery::default()
        })
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, all[1].id);

    // Documents.
    s.commit(&Batch {
        docs: vec![
            DocWrite {
                collection: "policies".into(),
                key: "0002".into(),
                value: Some(b"two".to_vec()),
            },
            DocWrite {
                collection: "policies".into(),
                key: "0001".into(),
                value: Some(b"one".to_vec()),
            },
            DocWrite {
                collection: "tokens".into(),
                key: "t".into(),
                value: Some(b"tok".to_vec()),
            },
        ],
        ..Batch::default()
    })
    .unwrap();
    assert_eq!(
        s.list_docs("policies").unwrap(),
        vec![
            ("0001".into(), b"one".to_vec()),
            ("0002".into(), b"two".to_vec())
        ]
    );
    s.commit(&Batch {
        docs: vec![DocWrite {
            collection: "tokens".into(),
            key: "t".into(),
            value: None,
        }],
        ..Batch::default()
    })
    .unwrap();
    assert!(s.get_doc("tokens", "t").unwrap().is_none());

    // Figures; the log high-water mark never goes back.
    s.commit(&Batch {
        log_high_water: Some(7),
        ..Batch::default()
    })
    .unwrap();
    let m = s.meta().unwrap();
    assert_eq!(
        (
            m.log_high_water,
            m.records,
            m.devices,
            m.alerts,
            m.open_alerts
        ),
        (13, 6, 2, 3, 2)
    );
}

#[test]
fn sqlite_behaves_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aq.db");
    {
        let s = aq_store::sqlite::SqliteStore::open(&path).unwrap();
        suite(&s);
    }
    let s = aq_store::sqlite::SqliteStore::open(&path).unwrap();
    assert_eq!(s.meta().unwrap().records, 6);
    assert_eq!(s.device(&dev(1)).unwrap().unwrap().version, 3);
}

#[test]
fn postgres_behaves_and_persists() {
    let Ok(url) = std::env::var("AQ_TEST_PG_URL") else {
        eprintln!(
            "SKIP postgres_behaves_and_persists: AQ_TEST_PG_URL is not set (e.g. host=127.0.0.1 user=postgres dbname=test)"
        );
        return;
    };
    let schema = format!("aq_store_test_{}", std::process::id());
    aq_store::postgres::PgStore::drop_schema(&url, &schema).unwrap();
    {
        let s = aq_store::postgres::PgStore::open(&url, &schema).unwrap();
        suite(&s);
    }
    let s = aq_store::postgres::PgStore::open(&url, &schema).unwrap();
    assert_eq!(s.meta().unwrap().records, 6);
    drop(s);
    aq_store::postgres::PgStore::drop_schema(&url, &schema).unwrap();
}
