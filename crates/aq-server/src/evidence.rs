//! A device's current evidence, rebuilt from stored records: what the dry run of a candidate
//! policy and policy activation appraise, and what golden capture copies.

use aq_evidence::{Body, DeviceId, Kind, Record};
use aq_store::Store;
use aq_verify::{DeviceSnapshot, Evidence};
use std::collections::BTreeMap;

/// Builds the evidence of one device from its latest boot, runtime measurement and configuration
/// records, or `None` if it never booted.
pub fn of_device(
    store: &dyn Store,
    device: &DeviceId,
) -> Result<Option<Evidence>, aq_store::StoreError> {
    let Some(boot) = store.latest_of_kind(device, Kind::Boot)? else {
        return Ok(None);
    };
    let Ok(boot) = Record::decode(&boot.bytes) else {
        return Ok(None);
    };
    let Body::Boot(b) = &boot.payload.body else {
        return Ok(None);
    };
    let boot_map: BTreeMap<String, aq_evidence::Digest> = b
        .event_log
        .iter()
        .map(|e| (e.name.clone(), e.digest))
        .collect();
    let mut runtime = BTreeMap::new();
    let mut latest_runtime_seq = boot.payload.seq;
    for kind in [Kind::Measurement, Kind::ChallengeResponse] {
        if let Some(r) = store.latest_of_kind(device, kind)?
            && r.seq > boot.payload.seq
            && let Ok(rec) = Record::decode(&r.bytes)
        {
            let ms = match &rec.payload.body {
                Body::Measurement(m) => m.measurements.clone(),
                Body::ChallengeResponse(c) => c.measurements.clone(),
                _ => Vec::new(),
            };
            if r.seq >= latest_runtime_seq {
                latest_runtime_seq = r.seq;
                runtime = ms.into_iter().map(|m| (m.name, m.digest)).collect();
            }
        }
    }
    let mut config = Some(b.config_digest);
    if let Some(r) = store.latest_of_kind(device, Kind::Config)?
        && r.seq > boot.payload.seq
        && let Ok(rec) = Record::decode(&r.bytes)
        && let Body::Config(c) = &rec.payload.body
    {
        config = Some(c.digest);
    }
    // Runtime measurements of the configuration are the freshest view of it.
    if let Some(d) = runtime.get("config") {
        config = Some(*d);
    }
    let snap: Option<DeviceSnapshot> = store
        .device(device)?
        .and_then(|row| serde_json::from_slice(&row.snapshot).ok());
    Ok(Some(Evidence {
        device: *device,
        vendor: b.vendor.clone(),
        model: b.model.clone(),
        firmware_version: b.firmware_version.clone(),
        svn: b.svn,
        fwid: b.fwid,
        boot: boot_map,
        runtime,
        config,
        fresh_as_of_ms: snap.as_ref().map(|s| s.last_epoch_ms).filter(|t| *t > 0),
        condemned: snap.and_then(|s| s.condemned),
    }))
}

/// Evidence of every device that has booted.
pub fn of_fleet(store: &dyn Store) -> Result<Vec<Evidence>, aq_store::StoreError> {
    let mut out = Vec::new();
    for row in store.devices()? {
        if let Some(e) = of_device(store, &row.device)? {
            out.push(e);
        }
    }
    Ok(out)
}
