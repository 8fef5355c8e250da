//! Attested SBOMs, advisories and "which devices does today's advisory hit" (DESIGN §6).
//!
//! * Devices upload the SBOM whose SHA-256 they attested (`PUT /v1/device/sbom`, mutual TLS);
//!   operators may upload it for them (`POST /v1/devices/{id}/sbom`). A document is accepted only
//!   if its digest equals a digest the device attested in its latest boot or `sbom` record in the
//!   store; it is stored once per digest and linked to every device that attested it, each with
//!   the record (device, seq, log index) that proves it.
//! * Advisories (CSAF 2.0, OSV) and VEX (CycloneDX, CSAF, OpenVEX) are imported by operators;
//!   each import is an operator action in the transparency log. A malformed document is refused
//!   with 422 naming the JSON path, before anything is written.
//! * Queries: the affected population by zone (confidence, reason, product ids, proving record),
//!   components across the fleet, NIS2 / CRA report drafts.
//!
//! Invariants: a document the device did not attest is never stored or linked; zone-scoped tokens
//! see only devices of their zones; logged actions stay far below the log's entry size limit
//! (documents themselves are stored content-addressed, outside the log, and the log holds their
//! digests).

pub mod state;

use crate::api::{Access, ApiError, ApiResult, AppState, Auth, PeerDevice, Route, act, blocking};
use crate::auth::Role;
use crate::core::now_ms;
use crate::pipeline::{Effect, Job};
use aq_evidence::DeviceId;
use aq_sbom::advisory::Advisory;
use aq_sbom::finding::{DeviceFinding, Via};
use aq_sbom::report::{AffectedPopulation, IntegrityAlert, ReportContext, ReportKind};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use state::{
    ADVISORIES, ADVISORY_DOCS, AdvisoryMeta, AttestedSbom, Composition, Linked, SBOMS, SbomDoc,
    VEX_DOCS, VexMeta,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

pub use state::{SbomState, before_commit, load};

/// The routes of this module.
pub const ROUTES: &[Route] = &[
    (
        "PUT",
        "/v1/device/sbom",
        Access::Device,
        "Upload the SBOM document this device attested (accepted only if its SHA-256 matches)",
    ),
    (
        "GET",
        "/v1/device/sbom",
        Access::Device,
        "Which SBOM document the server holds for this device",
    ),
    (
        "POST",
        "/v1/devices/{id}/sbom",
        Access::Token(Role::Operator),
        "Upload a device's SBOM document (accepted only if the device attested its SHA-256; logged)",
    ),
    (
        "GET",
        "/v1/devices/{id}/sbom",
        Access::Token(Role::Viewer),
        "A device's attested composition: identity, SBOM, history, advisories hitting it",
    ),
    (
        "POST",
        "/v1/advisories",
        Access::Token(Role::Operator),
        "Import an advisory (CSAF 2.0 or OSV JSON; logged)",
    ),
    (
        "GET",
        "/v1/advisories",
        Access::Token(Role::Viewer),
        "Imported advisories with their affected counts",
    ),
    (
        "GET",
        "/v1/advisories/{id}",
        Access::Token(Role::Viewer),
        "One advisory as imported, with its VEX statements",
    ),
    (
        "GET",
        "/v1/advisories/{id}/affected",
        Access::Token(Role::Viewer),
        "Affected devices by zone, each with confidence, reason, product ids and the proving record",
    ),
    (
        "POST",
        "/v1/advisories/{id}/vex",
        Access::Token(Role::Operator),
        "Apply a VEX document (CycloneDX, CSAF or OpenVEX) to an advisory (logged)",
    ),
    (
        "GET",
        "/v1/advisories/{id}/report",
        Access::Token(Role::Viewer),
        "NIS2 Art. 23 / CRA Art. 14 report draft (?kind=&format=json|markdown)",
    ),
    (
        "GET",
        "/v1/sbom/query",
        Access::Token(Role::Viewer),
        "Components across the fleet (?purl=&name=&cpe=&version=)",
    ),
];

/// The operator routes of this module.
pub fn router<S: Clone + Send + Sync + 'static>(st: AppState) -> Router<S> {
    Router::new()
        .route(
            "/v1/devices/{id}/sbom",
            post(operator_upload).get(device_composition),
        )
        .route("/v1/advisories", post(import).get(list))
        .route("/v1/advisories/{id}", get(one))
        .route("/v1/advisories/{id}/affected", get(affected))
        .route("/v1/advisories/{id}/vex", post(vex))
        .route("/v1/advisories/{id}/report", get(report))
        .route("/v1/sbom/query", get(query))
        // SBOMs of large firmware images exceed the API's default 4 MiB.
        .layer(axum::extract::DefaultBodyLimit::max(32 << 20))
        .with_state(st)
}

/// Longest advisory id accepted (it becomes a store key and a URL segment).
const MAX_ID: usize = 200;
/// Longest title kept in logged actions.
const MAX_TITLE: usize = 300;
/// Most VEX documents per advisory.
const MAX_VEX_DOCS: usize = 100;

fn unprocessable(code: &'static str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string())
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// Reads an advisory: CSAF 2.0 (a `document` member) or OSV (an `id` member).
pub(crate) fn parse_advisory(bytes: &[u8]) -> aq_sbom::Result<Advisory> {
    let v = aq_sbom::json::parse_bounded("advisory", bytes, &aq_sbom::json::Limits::ADVISORY)?;
    match v.as_object() {
        Some(o) if o.contains_key("document") => aq_sbom::advisory::parse_csaf(bytes),
        Some(o) if o.contains_key("id") => aq_sbom::advisory::parse_osv(bytes),
        _ => Err(aq_sbom::Error::UnknownFormat {
            what: "advisory",
            msg: "neither CSAF 2.0 (no `document`) nor OSV (no `id`)".into(),
        }),
    }
}

/// Reads a VEX document (CycloneDX, CSAF or OpenVEX). A product `@id` (or bom-ref) of the form
/// `urn:aq:device:<device id>` names one device of this fleet: an operator's statement that a
/// particular device is not affected (a compensating control, a disabled service).
pub(crate) fn parse_vex(bytes: &[u8]) -> aq_sbom::Result<Vec<aq_sbom::vex::VexStatement>> {
    use aq_sbom::vex::ProductSelector;
    let mut st = aq_sbom::vex::parse_vex(bytes)?;
    for s in &mut st {
        for p in &mut s.products {
            if let ProductSelector::BomRef {
                serial: None,
                bom_ref,
            } = p
                && let Some(d) = bom_ref
                    .strip_prefix("urn:aq:device:")
                    .and_then(DeviceId::from_hex)
            {
                *p = ProductSelector::Device { device: d.to_hex() };
            }
        }
    }
    Ok(st)
}

// ---------------------------------------------------------------------------------------------
// SBOM intake
// ---------------------------------------------------------------------------------------------

/// What an upload did.
struct Uploaded {
    digest: String,
    format: String,
    components: usize,
    stored: bool,
    linked: Linked,
    attestation: AttestedSbom,
    also_linked: Vec<DeviceId>,
}

impl Uploaded {
    fn json(&self, device: &DeviceId, log_index: Option<u64>) -> Value {
        json!({
            "device": device.to_hex(),
            "digest": self.digest,
            "format": self.format,
            "components": self.components,
            "stored": self.stored,
            "linked": match self.linked {
                Linked::Current => "current",
                Linked::HistoryOnly => "history",
                Linked::Unchanged => "unchanged",
            },
            "attestation": self.attestation.attestation,
            "also_linked": self.also_linked.iter().map(DeviceId::to_hex).collect::<Vec<_>>(),
            "log_index": log_index,
        })
    }

    fn details(&self, device: &DeviceId) -> Value {
        json!({
            "device": device.to_hex(),
            "digest": self.digest,
            "format": self.format,
            "components": self.components,
            "attested_by": self.attestation.attestation,
            "also_linked": self.also_linked.len(),
        })
    }
}

/// Checks `body` against the device's attestations, stores it once, links it.
async fn accept_sbom(
    st: &AppState,
    d: DeviceId,
    body: axum::body::Bytes,
    by: String,
) -> ApiResult<Uploaded> {
    if body.is_empty() {
        return Err(ApiError::bad("empty body: send the SBOM document"));
    }
    let core = st.core.clone();
    let (att, doc, stored) = blocking(move || {
        let digest = aq_sbom::sbom::document_digest(&body);
        if core.store.device(&d)?.is_none() {
            return Err(ApiError::not_found("unknown device"));
        }
        let attested = state::attested_in_store(core.store.as_ref(), &d)?;
        let Some(att) = attested.iter().find(|a| a.digest == digest).cloned() else {
            let said = if attested.is_empty() {
                "the device has attested no SBOM digest".to_string()
            } else {
                attested
                    .iter()
                    .map(|a| {
                        format!(
                            "{} (its {} record seq {})",
                            a.digest, a.attestation.kind, a.attestation.seq
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "sbom_not_attested",
                format!("document SHA-256 {digest} is not an SBOM digest the device attested; attested: {said}"),
            ));
        };
        let known = core.sbom.comp.lock().docs.get(&digest).cloned();
        if let Some(doc) = known {
            return Ok((att, doc, false));
        }
        let parsed = aq_sbom::sbom::parse_sbom(&body).map_err(|e| unprocessable("invalid_sbom", e))?;
        // Content-addressed and written before anything refers to it.
        core.store.commit(&aq_store::Batch {
            docs: vec![aq_store::DocWrite {
                collection: SBOMS.into(),
                key: digest.clone(),
                value: Some(body.to_vec()),
            }],
            ..aq_store::Batch::default()
        })?;
        let doc = Arc::new(SbomDoc::from_sbom(parsed));
        core.sbom.comp.lock().docs.insert(digest, doc.clone());
        Ok((att, doc, true))
    })
    .await?;
    let now = now_ms();
    let sb = &st.core.sbom;
    let mut comp = sb.comp.lock();
    let linked = comp.link(d, &att, &by, now);
    let mut also = Vec::new();
    for (other, a) in comp.awaiting(&att.digest) {
        if comp.link(other, &a, "stored", now) == Linked::Current {
            also.push(other);
        }
    }
    let mut changed = also.clone();
    if linked == Linked::Current {
        changed.push(d);
    }
    sb.queue(&comp, changed);
    drop(comp);
    Ok(Uploaded {
        digest: att.digest.clone(),
        format: doc.format.clone(),
        components: doc.components.len(),
        stored,
        linked,
        attestation: att,
        also_linked: also,
    })
}

/// Logs an action of a non-operator principal (a device) and waits until it is durable.
async fn log_device_action(
    st: &AppState,
    d: &DeviceId,
    what: &str,
    details: Value,
) -> ApiResult<u64> {
    let action = crate::pipeline::action(
        &format!("device:{}", d.to_hex()),
        "device",
        what,
        details,
        vec![],
    );
    let (tx, rx) = tokio::sync::oneshot::channel();
    st.pipeline
        .submit(Job::Action {
            action: Box::new(action),
            acks: vec![],
            effect: Effect::None,
            reply: tx,
        })
        .map_err(ApiError::submit)?;
    rx.await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// `PUT /v1/device/sbom`: a device uploads the SBOM it attested.
pub async fn device_upload(
    State(st): State<AppState>,
    axum::Extension(PeerDevice(peer)): axum::Extension<PeerDevice>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    let up = accept_sbom(&st, peer, body, "device".into()).await?;
    // Linking is logged (the changed composition is stored in the same commit); a repeat upload
    // of an already linked document changes nothing and is not logged again.
    let idx = if up.linked == Linked::Unchanged && up.also_linked.is_empty() && !up.stored {
        None
    } else {
        Some(log_device_action(&st, &peer, "sbom.link", up.details(&peer)).await?)
    };
    Ok(Json(up.json(&peer, idx)))
}

/// `GET /v1/device/sbom`: the SBOM the server holds for this device.
pub async fn device_status(
    State(st): State<AppState>,
    axum::Extension(PeerDevice(peer)): axum::Extension<PeerDevice>,
) -> Json<Value> {
    let comp = st.core.sbom.comp.lock();
    let c = comp.devices.get(&peer);
    Json(json!({
        "device": peer.to_hex(),
        "digest": c.and_then(|c| c.current.as_ref()).map(|l| &l.digest),
        "attested": c.and_then(|c| c.attested.as_ref()).map(|a| &a.digest),
    }))
}

async fn operator_upload(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    a.require(Role::Operator)?;
    let d = crate::api::device_param(&id)?;
    crate::api::check_zone(&st, &a, &d)?;
    let up = accept_sbom(&st, d, body, format!("operator:{}", a.0.name)).await?;
    let idx = act(
        &st,
        &a,
        "sbom.upload",
        up.details(&d),
        vec![],
        vec![],
        Effect::None,
    )
    .await?;
    Ok(Json(up.json(&d, Some(idx))))
}

async fn device_composition(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let d = crate::api::device_param(&id)?;
    crate::api::check_zone(&st, &a, &d)?;
    let sb = &st.core.sbom;
    let (c, components) = {
        let comp = sb.comp.lock();
        let c = comp
            .devices
            .get(&d)
            .cloned()
            .ok_or_else(|| ApiError::not_found("no attested identity for this device"))?;
        let components = c
            .current
            .as_ref()
            .and_then(|l| comp.docs.get(&l.digest))
            .map(|doc| serde_json::to_value(&doc.components).unwrap_or(Value::Null));
        (c, components)
    };
    let hex = d.to_hex();
    let mut advisories = Vec::new();
    {
        let ix = sb.read();
        for (adv_id, f) in ix.fleet.check_device(&hex, &ix.advisories) {
            let mut rep = aq_sbom::finding::AffectedReport {
                advisory: adv_id.clone(),
                title: String::new(),
                devices: vec![f],
                cleared_devices: Vec::new(),
                unparsed: Vec::new(),
            };
            if let Some(stmts) = ix.vex.get(&adv_id) {
                aq_sbom::vex::apply_vex(&mut rep, stmts, &ix.fleet);
            }
            if let Some(f) = rep.devices.first() {
                let title = ix.meta.get(&adv_id).map(|m| m.title.clone());
                advisories.push(json!({
                    "advisory": adv_id, "title": title, "verdict": f.verdict,
                    "confidence": f.confidence(), "product_ids": f.product_ids(),
                    "vulnerabilities": f.vulnerabilities.iter().map(|v| &*v.vulnerability).collect::<Vec<_>>(),
                }));
            }
        }
    }
    Ok(Json(json!({
        "device": hex,
        "zone": crate::api::zone_of(&st, &d),
        "identity": c.identity,
        "attested": c.attested,
        "current": c.current,
        "history": c.history,
        "components": components,
        "advisories": advisories,
    })))
}

// ---------------------------------------------------------------------------------------------
// Advisories
// ---------------------------------------------------------------------------------------------

fn counts(st: &AppState, a: &Auth, id: &str) -> Value {
    let Some(rep) = st.core.sbom.affected(id) else {
        return Value::Null;
    };
    let zones = st.core.zones_of.read();
    let mut by_zone: BTreeMap<String, u64> = BTreeMap::new();
    let (mut affected, mut review) = (0u64, 0u64);
    for f in &rep.devices {
        let z = DeviceId::from_hex(&f.device).and_then(|d| zones.get(&d).cloned());
        if !a.0.sees_zone(z.as_deref()) {
            continue;
        }
        match f.verdict {
            Some(aq_sbom::finding::Verdict::Affected) => affected += 1,
            _ => review += 1,
        }
        *by_zone
            .entry(z.unwrap_or_else(|| "(unassigned)".into()))
            .or_default() += 1;
    }
    json!({"affected": affected, "needs_review": review, "by_zone": by_zone})
}

async fn import(
    State(st): State<AppState>,
    a: Auth,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    a.require(Role::Operator)?;
    let bytes = body.to_vec();
    let (adv, bytes) = blocking(move || {
        let adv = parse_advisory(&bytes).map_err(|e| unprocessable("invalid_advisory", e))?;
        Ok((adv, bytes))
    })
    .await?;
    if adv.id.is_empty() || adv.id.len() > MAX_ID || adv.id.chars().any(char::is_control) {
        return Err(unprocessable(
            "invalid_advisory",
            format!("advisory id must be 1-{MAX_ID} printable characters"),
        ));
    }
    let id = adv.id.clone();
    let previous = st.core.sbom.read().meta.get(&id).cloned();
    if let Some(p) = &previous
        && p.digest == adv.digest
    {
        return Ok(Json(json!({
            "id": id, "title": adv.title, "digest": adv.digest, "unchanged": true, "log_index": Value::Null,
            "counts": counts(&st, &a, &id),
        })));
    }
    let core = st.core.clone();
    let digest = adv.digest.clone();
    blocking(move || {
        core.store.commit(&aq_store::Batch {
            docs: vec![aq_store::DocWrite {
                collection: ADVISORY_DOCS.into(),
                key: digest,
                value: Some(bytes),
            }],
            ..aq_store::Batch::default()
        })?;
        Ok(())
    })
    .await?;
    let now = now_ms();
    let format = match adv.format {
        aq_sbom::advisory::AdvisoryFormat::Csaf => "csaf",
        aq_sbom::advisory::AdvisoryFormat::Osv => "osv",
    };
    // A new revision of an advisory keeps its awareness time and its VEX.
    let meta = AdvisoryMeta {
        id: id.clone(),
        title: clip(&adv.title, MAX_TITLE),
        format: format.into(),
        digest: adv.digest.clone(),
        imported_ms: previous.as_ref().map_or(now, |p| p.imported_ms),
        imported_by: previous
            .as_ref()
            .map_or_else(|| a.0.name.clone(), |p| p.imported_by.clone()),
        vex: previous.as_ref().map(|p| p.vex.clone()).unwrap_or_default(),
    };
    let vulns: Vec<&str> = adv
        .vulnerabilities
        .iter()
        .take(50)
        .map(|v| v.id.as_str())
        .collect();
    let details = json!({
        "id": id, "title": meta.title, "format": format, "digest": adv.digest,
        "products": adv.products.len(), "vulnerabilities": vulns,
        "vulnerability_count": adv.vulnerabilities.len(), "warnings": adv.warnings.len(),
        "replaces": previous.as_ref().map(|p| &p.digest),
    });
    let meta_bytes = serde_json::to_vec(&meta).map_err(ApiError::internal)?;
    let idx = act(
        &st,
        &a,
        "advisory.import",
        details,
        vec![(ADVISORIES.into(), id.clone(), Some(meta_bytes))],
        vec![],
        Effect::None,
    )
    .await?;
    let summary = json!({
        "id": id, "title": adv.title, "format": format, "digest": adv.digest,
        "products": adv.products.len(),
        "vulnerabilities": adv.vulnerabilities.iter().map(|v| &v.id).collect::<Vec<_>>(),
        "warnings": adv.warnings,
        "unparsed_versions": adv.products.iter().filter(|p| p.versions.as_ref().is_some_and(|v| v.is_unparsed())).count(),
        "replaced": previous.is_some(),
        "log_index": idx,
    });
    st.core.sbom.write(|ix| {
        ix.advisories.insert(adv);
        ix.meta.insert(id.clone(), meta);
    });
    let mut out = summary;
    out["counts"] = counts(&st, &a, &id);
    Ok(Json(out))
}

async fn list(State(st): State<AppState>, a: Auth) -> ApiResult<Json<Value>> {
    let metas: Vec<AdvisoryMeta> = st.core.sbom.read().meta.values().cloned().collect();
    let mut out = Vec::new();
    for m in metas {
        let (vulns, products, publisher, released, updated) = {
            let ix = st.core.sbom.read();
            match ix.advisories.get(&m.id) {
                Some(p) => (
                    p.advisory
                        .vulnerabilities
                        .iter()
                        .map(|v| v.id.clone())
                        .collect::<Vec<_>>(),
                    p.advisory.products.len(),
                    p.advisory.publisher.clone(),
                    p.advisory.released.clone(),
                    p.advisory.updated.clone(),
                ),
                None => continue,
            }
        };
        out.push(json!({
            "id": m.id, "title": m.title, "format": m.format, "publisher": publisher,
            "released": released, "updated": updated, "digest": m.digest,
            "imported_ms": m.imported_ms, "imported_by": m.imported_by,
            "products": products, "vulnerabilities": vulns, "vex_documents": m.vex.len(),
            "counts": counts(&st, &a, &m.id),
        }));
    }
    Ok(Json(json!({"advisories": out})))
}

async fn one(
    State(st): State<AppState>,
    _a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ix = st.core.sbom.read();
    let p = ix
        .advisories
        .get(&id)
        .ok_or_else(|| ApiError::not_found("no such advisory"))?;
    Ok(Json(json!({
        "meta": ix.meta.get(&id),
        "advisory": &*p.advisory,
        "vex": ix.vex.get(&id).map(Vec::as_slice).unwrap_or_default(),
    })))
}

/// The proving record for a finding reached through `via`.
fn proof(via: &Via, c: Option<&Composition>) -> Value {
    let Some(c) = c else { return Value::Null };
    match via {
        Via::Identity => c.identity.as_ref().map_or(Value::Null, |i| {
            json!({
                "proves": "identity", "device": i.attestation.device, "kind": i.attestation.kind,
                "seq": i.attestation.seq, "log_index": i.attestation.log_index, "time_ms": i.attestation.time_ms,
            })
        }),
        Via::Component { .. } => c.current.as_ref().map_or(Value::Null, |l| {
            json!({
                "proves": "composition", "device": l.attestation.device, "kind": l.attestation.kind,
                "seq": l.attestation.seq, "log_index": l.attestation.log_index, "time_ms": l.attestation.time_ms,
                "sbom_digest": l.digest,
            })
        }),
    }
}

fn device_json(f: &DeviceFinding, zone: Option<&str>, c: Option<&Composition>) -> Value {
    let top = f
        .vulnerabilities
        .iter()
        .max_by_key(|v| (v.verdict, v.confidence));
    let vulns: Vec<Value> = f
        .vulnerabilities
        .iter()
        .map(|v| {
            json!({
                "id": v.vulnerability, "verdict": v.verdict, "confidence": v.confidence,
                "reason": v.reason, "product_ids": v.product_ids, "via": v.via, "cvss": v.cvss,
                "attestation": proof(&v.via, c),
            })
        })
        .collect();
    let identity = c.and_then(|c| c.identity.as_ref()).map(|i| {
        json!({"vendor": i.vendor, "product": i.product, "model": i.model,
               "firmware_version": i.firmware_version, "hardware_version": i.hardware_version})
    });
    json!({
        "device": f.device,
        "zone": zone,
        "verdict": f.verdict,
        "confidence": f.confidence(),
        "reason": top.map(|v| &*v.reason),
        "product_ids": f.product_ids(),
        "identity": identity,
        "sbom_digest": c.and_then(|c| c.current.as_ref()).map(|l| &l.digest),
        "attestation": top.map_or(Value::Null, |v| proof(&v.via, c)),
        "vulnerabilities": vulns,
        "remediations": f.remediations,
        "cleared": f.cleared,
    })
}

#[derive(Deserialize)]
struct AffectedQ {
    zone: Option<String>,
}

/// A finding with the device's zone.
type Zoned = (DeviceFinding, Option<String>);

/// The affected and cleared devices the principal may see, with zones filled in.
fn visible(
    st: &AppState,
    a: &Auth,
    rep: &aq_sbom::finding::AffectedReport,
    only_zone: Option<&str>,
) -> (Vec<Zoned>, Vec<Zoned>) {
    let zones = st.core.zones_of.read();
    let pick = |list: &[DeviceFinding]| -> Vec<Zoned> {
        list.iter()
            .filter_map(|f| {
                let z = DeviceId::from_hex(&f.device).and_then(|d| zones.get(&d).cloned());
                (a.0.sees_zone(z.as_deref()) && only_zone.is_none_or(|q| z.as_deref() == Some(q)))
                    .then(|| {
                        let mut g = f.clone();
                        g.zone.clone_from(&z);
                        (g, z)
                    })
            })
            .collect()
    };
    (pick(&rep.devices), pick(&rep.cleared_devices))
}

async fn affected(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    Query(q): Query<AffectedQ>,
) -> ApiResult<Json<Value>> {
    let started = Instant::now();
    let rep = st
        .core
        .sbom
        .affected(&id)
        .ok_or_else(|| ApiError::not_found("no such advisory"))?;
    let (devs, cleared) = visible(&st, &a, &rep, q.zone.as_deref());
    let wanted: BTreeSet<DeviceId> = devs
        .iter()
        .chain(&cleared)
        .filter_map(|(f, _)| DeviceId::from_hex(&f.device))
        .collect();
    let comps: HashMap<DeviceId, Composition> = {
        let comp = st.core.sbom.comp.lock();
        wanted
            .iter()
            .filter_map(|d| comp.devices.get(d).map(|c| (*d, c.clone())))
            .collect()
    };
    let comp_of = |f: &DeviceFinding| DeviceId::from_hex(&f.device).and_then(|d| comps.get(&d));
    let mut zones: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let (mut n_aff, mut n_rev) = (0, 0);
    for (f, z) in &devs {
        if f.verdict == Some(aq_sbom::finding::Verdict::Affected) {
            n_aff += 1;
        } else {
            n_rev += 1;
        }
        zones
            .entry(z.clone().unwrap_or_else(|| "(unassigned)".into()))
            .or_default()
            .push(device_json(f, z.as_deref(), comp_of(f)));
    }
    let cleared_json: Vec<Value> = cleared
        .iter()
        .map(|(f, z)| device_json(f, z.as_deref(), comp_of(f)))
        .collect();
    let (meta, vex_n) = {
        let ix = st.core.sbom.read();
        (
            ix.meta.get(&id).cloned(),
            ix.vex.get(&id).map_or(0, Vec::len),
        )
    };
    Ok(Json(json!({
        "advisory": rep.advisory,
        "title": rep.title,
        "detected_at": meta.as_ref().map(|m| aq_sbom::report::rfc3339((m.imported_ms / 1000) as i64)),
        "affected": n_aff,
        "needs_review": n_rev,
        "zones": zones,
        "cleared": cleared_json,
        "unparsed": rep.unparsed,
        "vex_statements": vex_n,
        "elapsed_us": started.elapsed().as_micros() as u64,
    })))
}

async fn vex(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    a.require(Role::Operator)?;
    if !a.0.zones.is_empty() {
        return Err(ApiError::forbidden(
            "VEX applies to every zone; a zone-scoped token cannot apply it",
        ));
    }
    let previous = st
        .core
        .sbom
        .read()
        .meta
        .get(&id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("no such advisory"))?;
    let bytes = body.to_vec();
    let (statements, bytes) = blocking(move || {
        let s = parse_vex(&bytes).map_err(|e| unprocessable("invalid_vex", e))?;
        Ok((s, bytes))
    })
    .await?;
    if statements.is_empty() {
        return Err(unprocessable(
            "invalid_vex",
            "the document holds no VEX statement",
        ));
    }
    let digest = aq_sbom::sbom::document_digest(&bytes);
    if previous.vex.iter().any(|v| v.digest == digest) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "vex_already_applied",
            format!("VEX document {digest} is already applied to {id}"),
        ));
    }
    if previous.vex.len() >= MAX_VEX_DOCS {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_vex",
            format!("at most {MAX_VEX_DOCS} VEX documents per advisory"),
        ));
    }
    let before = st.core.sbom.affected(&id).map(|r| r.devices.len());
    let core = st.core.clone();
    let d2 = digest.clone();
    blocking(move || {
        core.store.commit(&aq_store::Batch {
            docs: vec![aq_store::DocWrite {
                collection: VEX_DOCS.into(),
                key: d2,
                value: Some(bytes),
            }],
            ..aq_store::Batch::default()
        })?;
        Ok(())
    })
    .await?;
    let mut meta = previous;
    meta.vex.push(VexMeta {
        digest: digest.clone(),
        statements: statements.len(),
        imported_ms: now_ms(),
        imported_by: a.0.name.clone(),
    });
    let sample: Vec<Value> = statements
        .iter()
        .take(10)
        .map(|s| {
            json!({"vulnerability": clip(&s.vulnerability, 80), "status": s.status,
                   "justification": s.justification.as_deref().map(|j| clip(j, 120)), "products": s.products.len()})
        })
        .collect();
    let meta_bytes = serde_json::to_vec(&meta).map_err(ApiError::internal)?;
    let idx = act(
        &st,
        &a,
        "advisory.vex",
        json!({"advisory": id, "digest": digest, "statements": statements.len(), "first": sample}),
        vec![(ADVISORIES.into(), id.clone(), Some(meta_bytes))],
        vec![],
        Effect::None,
    )
    .await?;
    let n = statements.len();
    st.core.sbom.write(|ix| {
        ix.vex.entry(id.clone()).or_default().extend(statements);
        ix.meta.insert(id.clone(), meta);
    });
    let rep = st.core.sbom.affected(&id);
    let after = rep.as_ref().map(|r| r.devices.len());
    let (_, cleared) = match &rep {
        Some(r) => visible(&st, &a, r, None),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Json(json!({
        "advisory": id, "digest": digest, "statements": n, "log_index": idx,
        "affected_before": before, "affected_after": after,
        "cleared": cleared.iter().map(|(f, z)| json!({
            "device": f.device, "zone": z,
            "cleared": f.cleared,
        })).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct ReportQ {
    kind: Option<String>,
    format: Option<String>,
    detected_at: Option<i64>,
    organisation: Option<String>,
    contact: Option<String>,
    recipient: Option<String>,
    actively_exploited: Option<bool>,
    suspected_malicious: Option<bool>,
    cross_border: Option<bool>,
}

/// Parses a report kind as the CLI and the API name it.
pub fn report_kind(s: &str) -> Option<ReportKind> {
    Some(match s {
        "nis2-early-warning" => ReportKind::Nis2EarlyWarning,
        "nis2-notification" => ReportKind::Nis2Notification,
        "cra-24h" => ReportKind::CraEarlyWarning,
        "cra-72h" => ReportKind::CraNotification,
        "cra-final" => ReportKind::CraFinal,
        _ => return None,
    })
}

/// Alert kinds that speak to a device's integrity (reports list them as possible exploitation).
const INTEGRITY_KINDS: &[&str] = &[
    "forgery",
    "fork",
    "gap",
    "truncation",
    "replay",
    "integrity",
    "rollback",
    "revoked",
    "device-event",
];

async fn report(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    Query(q): Query<ReportQ>,
) -> ApiResult<Response> {
    let kind_s = q.kind.as_deref().unwrap_or("nis2-early-warning");
    let kind = report_kind(kind_s).ok_or_else(|| {
        ApiError::bad("kind: nis2-early-warning, nis2-notification, cra-24h, cra-72h or cra-final")
    })?;
    let markdown = match q.format.as_deref().unwrap_or("json") {
        "json" => false,
        "markdown" | "md" => true,
        _ => return Err(ApiError::bad("format: json or markdown")),
    };
    let rep = st
        .core
        .sbom
        .affected(&id)
        .ok_or_else(|| ApiError::not_found("no such advisory"))?;
    let (advisory, meta) = {
        let ix = st.core.sbom.read();
        (
            ix.advisories.get(&id).map(|p| p.advisory.clone()),
            ix.meta.get(&id).cloned(),
        )
    };
    let advisory = advisory.ok_or_else(|| ApiError::not_found("no such advisory"))?;
    let (devs, _) = visible(&st, &a, &rep, None);
    let scoped = aq_sbom::finding::AffectedReport {
        advisory: rep.advisory.clone(),
        title: rep.title.clone(),
        devices: devs.into_iter().map(|(f, _)| f).collect(),
        cleared_devices: Vec::new(),
        unparsed: rep.unparsed.clone(),
    };
    let detected_at = q
        .detected_at
        .unwrap_or_else(|| meta.map_or(now_ms() / 1000, |m| m.imported_ms / 1000) as i64);
    let pop = AffectedPopulation::from_report(&scoped, &advisory, detected_at);
    let core = st.core.clone();
    let zones = st.core.zones_of.read().clone();
    let a2 = a.clone();
    let alerts = blocking(move || {
        let list = core.store.alerts(&aq_store::AlertQuery {
            open_only: true,
            kinds: INTEGRITY_KINDS.iter().map(|k| (*k).to_string()).collect(),
            limit: 1000,
            ..aq_store::AlertQuery::default()
        })?;
        Ok(list
            .into_iter()
            .filter_map(|s| {
                let d = s.alert.device?;
                let z = zones.get(&d).cloned();
                a2.0.sees_zone(z.as_deref()).then(|| IntegrityAlert {
                    device: d.to_hex(),
                    zone: z,
                    kind: s.alert.kind.name().to_string(),
                    raised_at: (s.alert.detected_ms / 1000) as i64,
                    detail: clip(&s.alert.explanation, 300),
                })
            })
            .collect::<Vec<_>>())
    })
    .await?;
    let todo = || aq_sbom::report::TO_COMPLETE.to_string();
    let ctx = ReportContext {
        organisation: q.organisation.unwrap_or_else(todo),
        contact: q.contact.unwrap_or_else(todo),
        recipient: q.recipient.unwrap_or_else(todo),
        actively_exploited: q.actively_exploited,
        suspected_malicious: q.suspected_malicious,
        cross_border: q.cross_border,
    };
    let draft = aq_sbom::report::draft(kind, &pop, &alerts, &ctx);
    if markdown {
        Ok((
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            draft.to_markdown(),
        )
            .into_response())
    } else {
        Ok(Json(draft.to_json()).into_response())
    }
}

// ---------------------------------------------------------------------------------------------
// Component query
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct QueryQ {
    purl: Option<String>,
    name: Option<String>,
    cpe: Option<String>,
    version: Option<String>,
    limit: Option<usize>,
}

/// A component filter from query parameters.
struct Filter {
    purl: Option<aq_sbom::normalize::Purl>,
    name: Option<String>,
    cpe: Option<aq_sbom::normalize::Cpe>,
    range: Option<aq_sbom::range::VersionRange>,
}

impl Filter {
    fn new(q: &QueryQ) -> ApiResult<Filter> {
        let purl = match q.purl.as_deref() {
            Some(p) => Some(
                aq_sbom::normalize::Purl::parse(p)
                    .ok_or_else(|| ApiError::bad(format!("not a package URL: {p}")))?,
            ),
            None => None,
        };
        let cpe = match q.cpe.as_deref() {
            Some(c) => Some(
                aq_sbom::normalize::Cpe::parse(c)
                    .ok_or_else(|| ApiError::bad(format!("not a CPE name: {c}")))?,
            ),
            None => None,
        };
        let name = q.name.as_deref().map(|n| n.trim().to_lowercase());
        if purl.is_none() && cpe.is_none() && name.is_none() {
            return Err(ApiError::bad("give at least one of purl, name, cpe"));
        }
        let range = match q.version.as_deref() {
            Some(v) => {
                let t = v.trim();
                let r = if t.starts_with("vers:") || t.contains(['<', '>', '=']) {
                    aq_sbom::range::VersionRange::parse_text(t)
                } else {
                    aq_sbom::range::VersionRange::parse_product_version(t)
                };
                if r.is_unparsed() {
                    return Err(ApiError::bad(format!(
                        "version range {v:?} not understood: {}",
                        r.notes.join("; ")
                    )));
                }
                Some(r)
            }
            None => None,
        };
        Ok(Filter {
            purl,
            name,
            cpe,
            range,
        })
    }

    fn matches(&self, c: &aq_sbom::model::Component) -> bool {
        if let Some(q) = &self.purl {
            let Some(p) = c.purl.as_deref().and_then(aq_sbom::normalize::Purl::parse) else {
                return false;
            };
            if p.key() != q.key()
                || q.version
                    .as_ref()
                    .is_some_and(|v| Some(v) != p.version.as_ref())
            {
                return false;
            }
        }
        if let Some(n) = &self.name
            && c.name.to_lowercase() != *n
        {
            return false;
        }
        if let Some(q) = &self.cpe {
            let hit = c
                .cpes
                .iter()
                .filter_map(|s| aq_sbom::normalize::Cpe::parse(s))
                .any(|p| {
                    p.product == q.product
                        && (q.vendor == "*" || p.vendor == q.vendor)
                        && (matches!(q.version.as_str(), "*" | "-") || p.version == q.version)
                });
            if !hit {
                return false;
            }
        }
        if let Some(r) = &self.range {
            let Some(v) = c.version.as_deref() else {
                return false;
            };
            if r.contains(&aq_sbom::version::Version::parse(v))
                != aq_sbom::range::Containment::Inside
            {
                return false;
            }
        }
        true
    }
}

async fn query(
    State(st): State<AppState>,
    a: Auth,
    Query(q): Query<QueryQ>,
) -> ApiResult<Json<Value>> {
    let filter = Filter::new(&q)?;
    let limit = q.limit.unwrap_or(1000).min(10_000);
    let zones = st.core.zones_of.read().clone();
    // (name, version, purl) → devices holding it, with the record proving their composition.
    type Found = (Value, usize, Vec<Value>);
    let mut found: BTreeMap<(String, Option<String>, Option<String>), Found> = BTreeMap::new();
    let mut devices = BTreeSet::new();
    {
        let comp = st.core.sbom.comp.lock();
        let mut holders: HashMap<&str, Vec<(&DeviceId, &state::Link)>> = HashMap::new();
        for (d, c) in &comp.devices {
            if let Some(l) = &c.current
                && a.0.sees_zone(zones.get(d).map(String::as_str))
            {
                holders.entry(l.digest.as_str()).or_default().push((d, l));
            }
        }
        for (digest, hs) in holders {
            let Some(doc) = comp.docs.get(digest) else {
                continue;
            };
            for c in doc.components.iter().filter(|c| filter.matches(c)) {
                let e = found
                    .entry((c.name.clone(), c.version.clone(), c.purl.clone()))
                    .or_insert_with(|| {
                        (
                            serde_json::to_value(c).unwrap_or(Value::Null),
                            0,
                            Vec::new(),
                        )
                    });
                for (d, l) in &hs {
                    devices.insert(**d);
                    e.1 += 1;
                    if e.2.len() < limit {
                        e.2.push(json!({
                            "device": d.to_hex(), "zone": zones.get(d),
                            "sbom_digest": l.digest, "attestation": l.attestation,
                        }));
                    }
                }
            }
        }
    }
    let matches: Vec<Value> = found
        .into_values()
        .map(|(c, n, mut ds)| {
            ds.sort_by(|x, y| x["device"].as_str().cmp(&y["device"].as_str()));
            json!({"component": c, "device_count": n, "devices": ds})
        })
        .collect();
    Ok(Json(json!({"devices": devices.len(), "matches": matches})))
}
