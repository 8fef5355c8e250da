//! Zones, conduits and IEC 62443 compliance reports.
//!
//! The zone model (zones with target SL and consequence class, conduits with their allowed
//! flows, device assignments — IEC 62443-3-2) is an [`aq_compliance::ZoneModel`], changed only
//! through [`ZoneChange`]s. Every change an operator makes is, in this order:
//!
//! 1. decided and validated against a copy of the current model (a refused change answers
//!    400/404/409 with the model's typed reason and changes nothing);
//! 2. logged through [`api::act`]: the transparency-log action `zones.<op>` carries the change's
//!    canonical JSON in `details.change`, and its document writes — the same canonical bytes
//!    under `zone_changes/<sequence>`, and `device_zone/<device>` for assignments — are stored
//!    with the log entry (so the log alone replays them);
//! 3. applied to the live model, and `core.zones_of` (used by zone-scoped tokens and listings) is
//!    updated.
//!
//! Changes are serialised by one writer lock, so sequence numbers are dense and the stored order
//! is the log order. At startup the model is rebuilt by replaying `zone_changes` in sequence
//! order (each must be in canonical form and apply cleanly), and `core.zones_of` is reset from
//! it (a data directory with assignments but no zone changes, from before the zone model, keeps
//! its assignments and a warning is logged). If the replay fails, the zone routes answer 503 naming the broken change instead of
//! serving a model that differs from the log. (Several `aq serve` instances sharing one
//! PostgreSQL store would each hold their own copy: zone changes must go to one instance.)
//!
//! Reports (`/v1/reports/zones/{id}`, `/v1/reports/site`) compute facts from live data (see
//! [`facts`] for every derivation), evaluate them with [`aq_compliance::evaluate_zone`] /
//! [`aq_compliance::evaluate_site`] under the default [`EvaluationPolicy`], and return JSON or a
//! self-contained HTML page. A zone-scoped token sees only its zones, in listings and reports.

pub mod facts;

use crate::api::{self, Access, ApiError, ApiResult, AppState, Auth, Route};
use crate::auth::Role;
use crate::pipeline::Effect;
use aq_compliance::{
    Catalogue, ConduitId, EvaluationPolicy, Flow, SiteFacts, Window, ZoneChange, ZoneError,
    ZoneFacts, ZoneId, ZoneModel, evaluate_site, evaluate_zone,
};
use aq_evidence::DeviceId;
use aq_store::Store;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Document collection holding the zone changes, keyed by zero-padded sequence number.
pub const CHANGES: &str = "zone_changes";
/// Document collection mapping a device (hex) to its zone id.
pub const DEVICE_ZONE: &str = "device_zone";
/// Default report window.
pub const DEFAULT_WINDOW_MS: u64 = 24 * 3_600_000;
/// Longest report window.
pub const MAX_WINDOW_MS: u64 = 400 * 24 * 3_600_000;

/// The routes of this module.
pub const ROUTES: &[Route] = &[
    (
        "GET",
        "/v1/zones",
        Access::Token(Role::Viewer),
        "Zones (62443-3-2) with SL-T vector, consequence class, device count and conduits; zone-scoped tokens see their zones",
    ),
    (
        "GET",
        "/v1/zones/{id}",
        Access::Token(Role::Viewer),
        "One zone with its devices and conduits",
    ),
    (
        "PUT",
        "/v1/zones/{id}",
        Access::Token(Role::Admin),
        "Create or replace a zone: {name, target_sl 1-4, consequence safety|environmental|operational, sl_t?: [7 levels], description?} (logged)",
    ),
    (
        "DELETE",
        "/v1/zones/{id}",
        Access::Token(Role::Admin),
        "Delete a zone that has no devices and no conduits (logged)",
    ),
    (
        "PUT",
        "/v1/devices/{id}/zone",
        Access::Token(Role::Operator),
        "Assign a device to a zone: {zone} (logged)",
    ),
    (
        "DELETE",
        "/v1/devices/{id}/zone",
        Access::Token(Role::Operator),
        "Take a device out of its zone (logged)",
    ),
    (
        "GET",
        "/v1/conduits",
        Access::Token(Role::Viewer),
        "Conduits between zones with their allowed flows",
    ),
    (
        "PUT",
        "/v1/conduits/{id}",
        Access::Token(Role::Admin),
        "Create or replace a conduit: {from, to, flows: [\"proto[:ports][:from-to|to-from|both]\" or {protocol, ports?, direction}], description?} (logged)",
    ),
    (
        "DELETE",
        "/v1/conduits/{id}",
        Access::Token(Role::Admin),
        "Delete a conduit (logged)",
    ),
    (
        "GET",
        "/v1/reports/zones/{id}",
        Access::Token(Role::Viewer),
        "IEC 62443 evidence for one zone from live data (?format=json|html&window=24h or &from=&to= in ms)",
    ),
    (
        "GET",
        "/v1/reports/site",
        Access::Token(Role::Viewer),
        "IEC 62443 evidence for every zone the token sees (?format=json|html&window=24h or &from=&to=)",
    ),
];

/// The zone model and what reports remember between calls.
#[derive(Debug)]
pub struct Zones {
    model: parking_lot::RwLock<ZoneModel>,
    /// Serialises changes; holds the next change's sequence number.
    writer: tokio::sync::Mutex<u64>,
    /// Why the stored changes could not be replayed, if they could not.
    broken: Option<String>,
    /// The checkpoint the previous report saw (for its consistency proof).
    observed: parking_lot::Mutex<facts::Observed>,
    started_ms: u64,
}

/// The key of change number `n`.
pub fn change_key(n: u64) -> String {
    format!("{n:012}")
}

/// Rebuilds the zone model from the stored changes, in sequence order; returns the model and the
/// number of changes, or which change could not be replayed and why.
pub fn replay(store: &dyn Store) -> Result<(ZoneModel, u64), String> {
    let docs = store
        .list_docs(CHANGES)
        .map_err(|e| format!("reading zone changes: {e}"))?;
    let mut m = ZoneModel::new();
    for (i, (k, v)) in docs.iter().enumerate() {
        if *k != change_key(i as u64) {
            return Err(format!(
                "zone change `{k}` is out of sequence (expected {})",
                change_key(i as u64)
            ));
        }
        let c = ZoneChange::from_canonical_json(v).map_err(|e| format!("zone change {k}: {e}"))?;
        m.apply(&c)
            .map_err(|e| format!("zone change {k} ({}): {e}", c.op()))?;
    }
    Ok((m, docs.len() as u64))
}

impl Zones {
    fn open(core: &crate::core::Core) -> Zones {
        let (model, next, broken) = match replay(core.store.as_ref()) {
            Ok((m, n)) => (m, n, None),
            Err(e) => {
                tracing::error!(error = %e, "the zone model could not be rebuilt; zone routes answer 503");
                (ZoneModel::new(), 0, Some(e))
            }
        };
        if broken.is_none() && next > 0 {
            *core.zones_of.write() = model
                .assignments()
                .map(|(d, z)| (*d, z.to_string()))
                .collect();
        } else if broken.is_none() && !core.zones_of.read().is_empty() {
            // A data directory from before the zone model: keep its assignments visible to
            // zone-scoped tokens until the zones are created again through the API.
            tracing::warn!(
                "device assignments exist without a zone model; re-create the zones (aq zone create) and assign the devices again"
            );
        }
        Zones {
            model: parking_lot::RwLock::new(model),
            writer: tokio::sync::Mutex::new(next),
            broken,
            observed: parking_lot::Mutex::new(None),
            started_ms: crate::core::now_ms(),
        }
    }

    fn usable(&self) -> ApiResult<()> {
        match &self.broken {
            None => Ok(()),
            Some(e) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "zone_model_broken",
                format!("the zone model could not be rebuilt from the store: {e}"),
            )),
        }
    }

    /// A copy of the current model.
    pub fn snapshot(&self) -> ZoneModel {
        self.model.read().clone()
    }
}

/// The router of this module.
pub fn router<S: Clone + Send + Sync + 'static>(st: AppState) -> Router<S> {
    let zones = Arc::new(Zones::open(&st.core));
    Router::new()
        .route("/v1/zones", get(list_zones))
        .route(
            "/v1/zones/{id}",
            get(get_zone).put(put_zone).delete(delete_zone),
        )
        .route(
            "/v1/devices/{id}/zone",
            axum::routing::put(assign).delete(unassign),
        )
        .route("/v1/conduits", get(list_conduits))
        .route(
            "/v1/conduits/{id}",
            axum::routing::put(put_conduit).delete(delete_conduit),
        )
        .route("/v1/reports/zones/{id}", get(zone_report))
        .route("/v1/reports/site", get(site_report))
        .layer(Extension(zones))
        .with_state(st)
}

fn zone_error(e: ZoneError) -> ApiError {
    match e {
        ZoneError::UnknownZone(_)
        | ZoneError::UnknownConduit(_)
        | ZoneError::DeviceNotAssigned(_) => ApiError::not_found(e.to_string()),
        ZoneError::DuplicateZone(_)
        | ZoneError::DuplicateConduit(_)
        | ZoneError::ZoneInUse { .. }
        | ZoneError::TooMany { .. } => {
            ApiError::new(StatusCode::CONFLICT, "conflict", e.to_string())
        }
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_zone_change",
            e.to_string(),
        ),
    }
}

fn object(body: &[u8]) -> ApiResult<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad(format!("the body is not JSON: {e}"))),
    }
}

/// Validates `make`'s change on a copy of the model, logs and stores it, then applies it.
async fn commit(
    st: &AppState,
    a: &Auth,
    z: &Zones,
    make: impl FnOnce(&ZoneModel) -> ApiResult<ZoneChange>,
) -> ApiResult<Json<Value>> {
    z.usable()?;
    let mut next = z.writer.lock().await;
    let (change, trial) = {
        let m = z.model.read();
        let change = make(&m)?;
        let mut trial = m.clone();
        trial.apply(&change).map_err(zone_error)?;
        if trial == *m {
            return Ok(Json(json!({"op": change.op(), "unchanged": true})));
        }
        (change, trial)
    };
    let canonical = change.to_canonical_json().map_err(ApiError::internal)?;
    let seq = *next;
    let mut docs = vec![(
        CHANGES.to_string(),
        change_key(seq),
        Some(canonical.clone().into_bytes()),
    )];
    match &change {
        ZoneChange::AssignDevice { device, zone } => docs.push((
            DEVICE_ZONE.into(),
            device.to_hex(),
            Some(zone.to_string().into_bytes()),
        )),
        ZoneChange::UnassignDevice { device } => {
            docs.push((DEVICE_ZONE.into(), device.to_hex(), None));
        }
        _ => {}
    }
    let idx = api::act(
        st,
        a,
        &format!("zones.{}", change.op()),
        json!({"op": change.op(), "sequence": seq, "change": canonical}),
        docs,
        vec![],
        Effect::None,
    )
    .await?;
    *z.model.write() = trial;
    *next = seq + 1;
    match &change {
        ZoneChange::AssignDevice { device, zone } => {
            st.core.zones_of.write().insert(*device, zone.to_string());
        }
        ZoneChange::UnassignDevice { device } => {
            st.core.zones_of.write().remove(device);
        }
        _ => {}
    }
    let change_json: Value = serde_json::from_str(&canonical).map_err(ApiError::internal)?;
    Ok(Json(json!({
        "op": change.op(),
        "log_index": idx,
        "sequence": seq,
        "change": change_json,
    })))
}

fn zone_json(m: &ZoneModel, z: &aq_compliance::Zone, with_devices: bool) -> Value {
    let devices: Vec<String> = m.devices_in(&z.id).map(|d| d.to_hex()).collect();
    let mut v = json!({
        "id": z.id.as_str(),
        "name": z.name,
        "target_sl": z.target_sl.get(),
        "sl_t": z.sl_t_vector().0.iter().map(|l| l.get()).collect::<Vec<_>>(),
        "sl_t_explicit": z.sl_t.is_some(),
        "consequence": z.consequence.name(),
        "description": z.description,
        "device_count": devices.len(),
        "conduits": m.conduits_of(&z.id).map(|c| c.id.as_str().to_string()).collect::<Vec<_>>(),
    });
    if with_devices {
        v["devices"] = json!(devices);
    }
    v
}

fn conduit_json(c: &aq_compliance::Conduit) -> Value {
    json!({
        "id": c.id.as_str(),
        "from": c.from.as_str(),
        "to": c.to.as_str(),
        "flows": c.flows,
        "flows_text": c.flows.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "description": c.description,
    })
}

fn model_digest(m: &ZoneModel) -> Option<String> {
    m.to_canonical_json()
        .ok()
        .map(|j| aq_evidence::Digest::of(j.as_bytes()).to_hex())
}

async fn list_zones(Extension(z): Extension<Arc<Zones>>, a: Auth) -> ApiResult<Json<Value>> {
    z.usable()?;
    let m = z.model.read();
    let zones: Vec<Value> = m
        .zones()
        .filter(|x| a.0.sees_zone(Some(x.id.as_str())))
        .map(|x| zone_json(&m, x, false))
        .collect();
    let mut out = json!({"zones": zones});
    if a.0.zones.is_empty() {
        // The digest of the canonical model lets an auditor compare it with a replay of the log.
        out["model_sha256"] = json!(model_digest(&m));
    }
    Ok(Json(out))
}

async fn get_zone(
    Extension(z): Extension<Arc<Zones>>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    z.usable()?;
    if !a.0.sees_zone(Some(&id)) {
        return Err(ApiError::forbidden("zone is outside the token's zones"));
    }
    let m = z.model.read();
    let zone = m
        .zone_by_str(&id)
        .ok_or_else(|| ApiError::not_found(format!("no zone `{id}`")))?;
    let mut v = zone_json(&m, zone, true);
    v["conduit_details"] = m.conduits_of(&zone.id).map(conduit_json).collect();
    Ok(Json(v))
}

async fn put_zone(
    State(st): State<AppState>,
    Extension(z): Extension<Arc<Zones>>,
    a: Auth,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    if !a.0.sees_zone(Some(&id)) {
        return Err(ApiError::forbidden("zone is outside the token's zones"));
    }
    let mut obj = object(&body)?;
    if obj
        .get("id")
        .is_some_and(|v| v.as_str() != Some(id.as_str()))
    {
        return Err(ApiError::bad("`id` in the body differs from the path"));
    }
    obj.insert("id".into(), Value::String(id.clone()));
    commit(&st, &a, &z, |m| {
        let op = if m.zone_by_str(&id).is_some() {
            "update-zone"
        } else {
            "create-zone"
        };
        let text =
            serde_json::to_vec(&json!({"op": op, "zone": obj})).map_err(ApiError::internal)?;
        ZoneChange::from_json(&text).map_err(zone_error)
    })
    .await
}

async fn delete_zone(
    State(st): State<AppState>,
    Extension(z): Extension<Arc<Zones>>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    if !a.0.sees_zone(Some(&id)) {
        return Err(ApiError::forbidden("zone is outside the token's zones"));
    }
    let zid = ZoneId::new(&id).map_err(zone_error)?;
    commit(&st, &a, &z, |_| Ok(ZoneChange::DeleteZone { id: zid })).await
}

async fn assign(
    State(st): State<AppState>,
    Extension(z): Extension<Arc<Zones>>,
    a: Auth,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    a.require(Role::Operator)?;
    let d = api::device_param(&id)?;
    api::check_zone(&st, &a, &d)?;
    let obj = object(&body)?;
    if let Some(k) = obj.keys().find(|k| *k != "zone") {
        return Err(ApiError::bad(format!(
            "unknown field `{k}` (expected `zone`)"
        )));
    }
    let zone = obj
        .get("zone")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad("`zone` (a zone id) is required"))?;
    if !a.0.sees_zone(Some(zone)) {
        return Err(ApiError::forbidden(
            "target zone is outside the token's zones",
        ));
    }
    let zone = ZoneId::new(zone).map_err(zone_error)?;
    commit(&st, &a, &z, |_| {
        Ok(ZoneChange::AssignDevice { device: d, zone })
    })
    .await
}

async fn unassign(
    State(st): State<AppState>,
    Extension(z): Extension<Arc<Zones>>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Operator)?;
    let d = api::device_param(&id)?;
    api::check_zone(&st, &a, &d)?;
    commit(&st, &a, &z, |_| {
        Ok(ZoneChange::UnassignDevice { device: d })
    })
    .await
}

fn sees_conduit(a: &Auth, c: &aq_compliance::Conduit) -> bool {
    a.0.sees_zone(Some(c.from.as_str())) || a.0.sees_zone(Some(c.to.as_str()))
}

fn may_change_conduit(a: &Auth, c: &aq_compliance::Conduit) -> bool {
    a.0.sees_zone(Some(c.from.as_str())) && a.0.sees_zone(Some(c.to.as_str()))
}

async fn list_conduits(Extension(z): Extension<Arc<Zones>>, a: Auth) -> ApiResult<Json<Value>> {
    z.usable()?;
    let m = z.model.read();
    let list: Vec<Value> = m
        .conduits()
        .filter(|c| sees_conduit(&a, c))
        .map(conduit_json)
        .collect();
    Ok(Json(json!({"conduits": list})))
}

/// Accepts flows as objects or as the command-line form `proto[:ports][:direction]`.
fn normalise_flows(obj: &mut Map<String, Value>) -> ApiResult<()> {
    let Some(Value::Array(flows)) = obj.get_mut("flows") else {
        return Ok(());
    };
    for f in flows.iter_mut() {
        if let Value::String(s) = f {
            let parsed = Flow::parse(s).map_err(zone_error)?;
            *f = serde_json::to_value(&parsed).map_err(ApiError::internal)?;
        }
    }
    Ok(())
}

async fn put_conduit(
    State(st): State<AppState>,
    Extension(z): Extension<Arc<Zones>>,
    a: Auth,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    let mut obj = object(&body)?;
    if obj
        .get("id")
        .is_some_and(|v| v.as_str() != Some(id.as_str()))
    {
        return Err(ApiError::bad("`id` in the body differs from the path"));
    }
    obj.insert("id".into(), Value::String(id.clone()));
    normalise_flows(&mut obj)?;
    commit(&st, &a, &z, |m| {
        let existing = ConduitId::new(&id)
            .ok()
            .and_then(|c| m.conduit(&c).cloned());
        if existing
            .as_ref()
            .is_some_and(|c| !may_change_conduit(&a, c))
        {
            return Err(ApiError::forbidden(
                "the conduit joins a zone outside the token's zones",
            ));
        }
        let op = if existing.is_some() {
            "update-conduit"
        } else {
            "create-conduit"
        };
        let text =
            serde_json::to_vec(&json!({"op": op, "conduit": obj})).map_err(ApiError::internal)?;
        let change = ZoneChange::from_json(&text).map_err(zone_error)?;
        if let ZoneChange::CreateConduit { conduit } | ZoneChange::UpdateConduit { conduit } =
            &change
            && !may_change_conduit(&a, conduit)
        {
            return Err(ApiError::forbidden(
                "the conduit joins a zone outside the token's zones",
            ));
        }
        Ok(change)
    })
    .await
}

async fn delete_conduit(
    State(st): State<AppState>,
    Extension(z): Extension<Arc<Zones>>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    let cid = ConduitId::new(&id).map_err(zone_error)?;
    commit(&st, &a, &z, |m| {
        if m.conduit(&cid).is_some_and(|c| !may_change_conduit(&a, c)) {
            return Err(ApiError::forbidden(
                "the conduit joins a zone outside the token's zones",
            ));
        }
        Ok(ZoneChange::DeleteConduit { id: cid })
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------

/// Query of the report routes.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    /// `json` (default) or `html`.
    pub format: Option<String>,
    /// Length of the window ending now (or at `to`): `30m`, `24h`, `7d`...
    pub window: Option<String>,
    /// Window start (ms since the Unix epoch).
    pub from: Option<u64>,
    /// Window end, "as of" (ms); default now.
    pub to: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Html,
}

fn format_of(q: &ReportQuery) -> ApiResult<Format> {
    match q.format.as_deref().unwrap_or("json") {
        "json" => Ok(Format::Json),
        "html" => Ok(Format::Html),
        other => Err(ApiError::bad(format!(
            "format `{}` is not json or html",
            other.chars().take(16).collect::<String>()
        ))),
    }
}

/// Parses `90s`, `15m`, `24h`, `7d`, `2w` or `500ms` into milliseconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    if n.is_empty() || n.len() > 12 {
        return None;
    }
    let n: u64 = n.parse().ok()?;
    let mul = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// The report window from the query, with `now` as the default end.
pub fn window_of(q: &ReportQuery, now: u64) -> ApiResult<Window> {
    let end = match q.to {
        Some(t) if t > now.saturating_add(60_000) => {
            return Err(ApiError::bad("`to` is in the future"));
        }
        Some(t) => t.min(now),
        None => now,
    };
    let start = match (q.from, q.window.as_deref()) {
        (Some(_), Some(_)) => return Err(ApiError::bad("give `from` or `window`, not both")),
        (Some(f), None) => f,
        (None, w) => {
            let len = match w {
                None => DEFAULT_WINDOW_MS,
                Some(w) => parse_duration(w).ok_or_else(|| {
                    ApiError::bad("`window` is a duration such as 30m, 24h or 7d")
                })?,
            };
            end.saturating_sub(len)
        }
    };
    if start >= end {
        return Err(ApiError::bad(
            "the window is empty (from must be before to)",
        ));
    }
    if end - start > MAX_WINDOW_MS {
        return Err(ApiError::bad("the window is longer than 400 days"));
    }
    Ok(Window {
        start_ms: start,
        end_ms: end,
    })
}

fn eval_error(e: aq_compliance::EvalError) -> ApiError {
    match e {
        aq_compliance::EvalError::UnknownZone(z) => ApiError::not_found(format!("no zone `{z}`")),
        aq_compliance::EvalError::BadWindow { .. } => ApiError::bad(e.to_string()),
        other => ApiError::internal(other),
    }
}

fn render(
    fmt: Format,
    json: Result<String, aq_compliance::canonical::CanonicalError>,
    html: impl FnOnce() -> String,
) -> ApiResult<Response> {
    Ok(match fmt {
        Format::Json => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json.map_err(ApiError::internal)?,
        )
            .into_response(),
        Format::Html => {
            let mut r = (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                )],
                html(),
            )
                .into_response();
            // The page is self-contained: nothing to fetch, nothing to run.
            r.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            );
            r
        }
    })
}

async fn zone_report(
    State(st): State<AppState>,
    Extension(z): Extension<Arc<Zones>>,
    a: Auth,
    Path(id): Path<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let fmt = format_of(&q)?;
    let window = window_of(&q, crate::core::now_ms())?;
    if !a.0.sees_zone(Some(&id)) {
        return Err(ApiError::forbidden("zone is outside the token's zones"));
    }
    z.usable()?;
    let model = z.snapshot();
    let zid = model
        .zone_by_str(&id)
        .map(|x| x.id.clone())
        .ok_or_else(|| ApiError::not_found(format!("no zone `{id}`")))?;
    let core = st.core.clone();
    let zs = z.clone();
    let report = api::blocking(move || {
        let catalogue = Catalogue::builtin().map_err(ApiError::internal)?;
        let ids: Vec<DeviceId> = model.devices_in(&zid).collect();
        let mut g = facts::Gatherer::new(&core, window, zs.started_ms)?;
        let devices = g.devices(&ids)?;
        let log = g.log(&zs.observed);
        let f = ZoneFacts {
            zone: zid,
            window,
            log,
            devices,
        };
        let mut r = evaluate_zone(catalogue, &model, &f, &EvaluationPolicy::default())
            .map_err(eval_error)?;
        r.warnings.extend(g.warnings());
        Ok(r)
    })
    .await?;
    render(fmt, report.to_json_pretty(), || report.to_html())
}

async fn site_report(
    State(st): State<AppState>,
    Extension(z): Extension<Arc<Zones>>,
    a: Auth,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let fmt = format_of(&q)?;
    let window = window_of(&q, crate::core::now_ms())?;
    z.usable()?;
    let model = z.snapshot();
    let core = st.core.clone();
    let zs = z.clone();
    let scope = a.0.zones.clone();
    let report = api::blocking(move || {
        let catalogue = Catalogue::builtin().map_err(ApiError::internal)?;
        let sees = |zone: &str| scope.is_empty() || scope.iter().any(|s| s == zone);
        // A zone-scoped token gets facts only for the devices of its zones.
        let ids: Vec<DeviceId> = if scope.is_empty() {
            let mut ids: Vec<DeviceId> = core
                .store
                .devices()?
                .into_iter()
                .map(|r| r.device)
                .collect();
            ids.sort();
            ids
        } else {
            model
                .assignments()
                .filter(|(_, z)| sees(z.as_str()))
                .map(|(d, _)| *d)
                .collect()
        };
        let mut g = facts::Gatherer::new(&core, window, zs.started_ms)?;
        let devices = g.devices(&ids)?;
        let log = g.log(&zs.observed);
        let f = SiteFacts {
            window,
            log,
            devices,
        };
        let mut r = evaluate_site(catalogue, &model, &f, &EvaluationPolicy::default())
            .map_err(eval_error)?;
        if !scope.is_empty() {
            r.zones.retain(|x| sees(&x.zone.id));
            r.conduits.retain(|c| sees(&c.from) || sees(&c.to));
            r.unassigned_devices.clear();
            r.warnings = vec![format!(
                "This report is limited to the zones of the token: {}.",
                scope.join(", ")
            )];
        }
        r.warnings.extend(g.warnings());
        Ok(r)
    })
    .await?;
    render(fmt, report.to_json_pretty(), || report.to_html())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_windows() {
        assert_eq!(parse_duration("500ms"), Some(500));
        assert_eq!(parse_duration("90s"), Some(90_000));
        assert_eq!(parse_duration("15m"), Some(900_000));
        assert_eq!(parse_duration("24h"), Some(86_400_000));
        assert_eq!(parse_duration("7d"), Some(7 * 86_400_000));
        for bad in ["", "h", "10", "10x", "-1h", "1.5h", "99999999999999h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let now = 10 * 86_400_000;
        let w = window_of(&ReportQuery::default(), now).unwrap();
        assert_eq!((w.start_ms, w.end_ms), (now - DEFAULT_WINDOW_MS, now));
        let q = ReportQuery {
            window: Some("1h".into()),
            to: Some(now - 1_000),
            ..ReportQuery::default()
        };
        let w = window_of(&q, now).unwrap();
        assert_eq!(
            (w.start_ms, w.end_ms),
            (now - 1_000 - 3_600_000, now - 1_000)
        );
        let q = ReportQuery {
            from: Some(5),
            to: Some(5),
            ..ReportQuery::default()
        };
        assert!(window_of(&q, now).is_err());
        let q = ReportQuery {
            to: Some(now + 3_600_000),
            ..ReportQuery::default()
        };
        assert!(window_of(&q, now).is_err());
        let q = ReportQuery {
            from: Some(1),
            window: Some("1h".into()),
            ..ReportQuery::default()
        };
        assert!(window_of(&q, now).is_err());
    }
}
