//! MQTT ingest (MQTT 5, e.g. Mosquitto).
//!
//! Topics under the configured prefix (default `aq/v1`):
//!
//! | topic | direction | payload |
//! |---|---|---|
//! | `devices/<ueid hex>/records` | device → aq | CBOR sequence of records |
//! | `devices/<ueid hex>/receipt` | aq → device | signed receipt (COSE_Sign1) |
//! | `devices/<ueid hex>/challenge` | aq → device | challenge nonce (raw bytes) |
//! | `epoch` (retained) | aq → devices | signed epoch marker (COSE_Sign1) |
//!
//! Collectors subscribe with the MQTT 5 shared subscription `$share/<group>/...`, so several
//! `aq serve` instances share one fleet. The broker is not trusted: records authenticate
//! themselves, and a record whose device differs from its topic is refused.

use crate::core::Core;
use crate::pipeline::{Job, Origin, Pipeline};
use aq_evidence::{DeviceId, Record, sequence};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, Incoming, MqttOptions};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// Queues a message for the broker (no-op when MQTT is not configured or not connected).
pub fn publish(core: &Core, suffix: &str, payload: Vec<u8>, retain: bool) {
    if let Some(tx) = core.mqtt_out.lock().as_ref() {
        let _ = tx.send((suffix.to_string(), payload, retain));
    }
}

/// Runs the MQTT bridge until `shutdown` fires: reconnects by itself when the broker restarts.
pub async fn run(
    core: Arc<Core>,
    pipeline: Pipeline,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let Some(cfg) = core.cfg.mqtt.clone() else {
        return;
    };
    let (host, port) = match cfg.broker.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>().unwrap_or(1883)),
        None => (cfg.broker.clone(), 1883),
    };
    let client_id = if cfg.client_id.is_empty() {
        format!("aq-serve-{}", std::process::id())
    } else {
        cfg.client_id.clone()
    };
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_keep_alive(Duration::from_secs(15));
    opts.set_max_packet_size(Some(core.cfg.limits.max_body_bytes as u32));
    let (client, mut events) = AsyncClient::new(opts, 1024);
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Vec<u8>, bool)>();
    *core.mqtt_out.lock() = Some(out_tx);
    let prefix = cfg.prefix.trim_end_matches('/').to_string();
    let filter = format!("$share/{}/{}/devices/+/records", cfg.share_group, prefix);
    // Publisher: receipts, challenges, epochs.
    let pub_client = client.clone();
    let pub_prefix = prefix.clone();
    let publisher = tokio::spawn(async move {
        while let Some((suffix, payload, retain)) = out_rx.recv().await {
            let _ = pub_client
                .publish(
                    format!("{pub_prefix}/{suffix}"),
                    QoS::AtLeastOnce,
                    retain,
                    payload,
                )
                .await;
        }
    });
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            ev = events.poll() => match ev {
                Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                    tracing::info!(filter = %filter, "MQTT connected");
                    let _ = client.subscribe(filter.clone(), QoS::AtLeastOnce).await;
                    if let Some((_, marker)) = core.epoch.read().clone() {
                        publish(&core, "epoch", marker, true);
                    }
                }
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    core.metrics.mqtt_messages.fetch_add(1, Relaxed);
                    handle(&core, &pipeline, &prefix, &p.topic, &p.payload);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "MQTT connection lost; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
    *core.mqtt_out.lock() = None;
    publisher.abort();
    let _ = client.disconnect().await;
}

fn device_of_topic(prefix: &str, topic: &[u8]) -> Option<DeviceId> {
    let t = std::str::from_utf8(topic).ok()?;
    let rest = t.strip_prefix(prefix)?.strip_prefix("/devices/")?;
    let id = rest.strip_suffix("/records")?;
    DeviceId::from_hex(id)
}

fn handle(core: &Arc<Core>, pipeline: &Pipeline, prefix: &str, topic: &[u8], payload: &[u8]) {
    let Some(device) = device_of_topic(prefix, topic) else {
        core.metrics.records_malformed.fetch_add(1, Relaxed);
        return;
    };
    if payload.len() > core.cfg.limits.max_body_bytes {
        core.metrics.refused_too_large.fetch_add(1, Relaxed);
        return;
    }
    let mut recs: Vec<Record> = Vec::new();
    for item in sequence::decode_sequence(payload)
        .into_iter()
        .take(core.cfg.limits.max_records_per_request)
    {
        match item.record {
            Ok(r) => recs.push(r),
            Err(_) => {
                core.metrics.records_malformed.fetch_add(1, Relaxed);
            }
        }
    }
    if recs.is_empty() {
        return;
    }
    let n = recs.len() as u64;
    let (tx, _rx) = tokio::sync::oneshot::channel();
    core.metrics.queue_records.fetch_add(n, Relaxed);
    let job = Job::Records {
        recs,
        origin: Origin::Topic(device),
        started: Instant::now(),
        reply: tx,
    };
    if pipeline.submit(job).is_err() {
        // The device keeps its spool and resends when no receipt arrives.
        core.metrics.queue_records.fetch_sub(n, Relaxed);
        core.metrics.refused_busy.fetch_add(1, Relaxed);
    }
}
