//! HTTP endpoints.
//!
//! Two routers: the **device plane** (mutual TLS; the device id comes from the client
//! certificate) and the **API** for operators, auditors and the dashboard (bearer tokens with
//! roles; log endpoints are public so that anyone can audit). Every route, its method and the
//! least role it needs are listed once in a route table ([`ROUTES`] here, and one per feature
//! module, all gathered by [`all_routes`]); the authorization middleware, the OpenAPI description
//! and the authorization tests are driven by that table, so they cannot drift from the code.
//!
//! A feature module (advisories, compliance, dashboard, ...) contributes `pub const ROUTES` and
//! `pub fn router(AppState) -> Router`; [`all_routes`] and [`api_router`] list each module once.

use crate::auth::{self, Principal, Role, TokenRecord};
use crate::core::{Core, now_ms, policy_key};
use crate::pipeline::{Effect, Job, Origin, Pipeline, SubmitError};
use aq_evidence::{DeviceId, sequence};
use aq_store::AlertQuery;
use aq_verify::Policy;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (auditors, health checks).
    Public,
    /// A device authenticated by mutual TLS (device plane only).
    Device,
    /// A bearer token with at least this role.
    Token(Role),
}

/// One route: (method, path, access, summary).
pub type Route = (&'static str, &'static str, Access, &'static str);

/// Every route of every module.
pub fn all_routes() -> impl Iterator<Item = &'static Route> {
    ROUTES
        .iter()
        .chain(crate::witnessing::ROUTES)
        .chain(crate::advisory::ROUTES)
        .chain(crate::compliance::ROUTES)
        .chain(crate::trust::ROUTES)
}

/// The core routes: (method, path, access, summary).
pub const ROUTES: &[Route] = &[
    (
        "POST",
        "/v1/records",
        Access::Device,
        "Submit a CBOR sequence of evidence records; returns per-record results and a signed receipt",
    ),
    (
        "GET",
        "/v1/device/epoch",
        Access::Device,
        "The current signed epoch marker",
    ),
    (
        "GET",
        "/v1/device/challenge",
        Access::Device,
        "A pending challenge nonce for this device (204 if none)",
    ),
    (
        "GET",
        "/v1/device/receipt",
        Access::Device,
        "The latest signed receipt for this device",
    ),
    (
        "GET",
        "/healthz",
        Access::Public,
        "Liveness and whether ingest is stopped",
    ),
    (
        "GET",
        "/openapi.json",
        Access::Public,
        "This API description",
    ),
    (
        "GET",
        "/v1/epoch",
        Access::Public,
        "The current signed epoch marker (COSE_Sign1)",
    ),
    (
        "GET",
        "/v1/keys",
        Access::Public,
        "The verifier key (epochs, receipts) and the log's note key",
    ),
    (
        "GET",
        "/checkpoint",
        Access::Public,
        "The latest signed checkpoint (C2SP tlog-checkpoint)",
    ),
    (
        "GET",
        "/tile/{*path}",
        Access::Public,
        "C2SP tlog-tiles hash tiles and entry bundles",
    ),
    (
        "GET",
        "/v1/log/entries/{index}",
        Access::Public,
        "One log entry (type byte + body)",
    ),
    (
        "GET",
        "/v1/log/proof/inclusion",
        Access::Public,
        "Inclusion proof: ?index=&size=",
    ),
    (
        "GET",
        "/v1/log/proof/consistency",
        Access::Public,
        "Consistency proof: ?old=&new=",
    ),
    (
        "GET",
        "/metrics",
        Access::Token(Role::Viewer),
        "Prometheus metrics (public if metrics_public)",
    ),
    (
        "GET",
        "/v1/summary",
        Access::Token(Role::Viewer),
        "Fleet summary: devices by verdict and zone, alerts, log",
    ),
    (
        "GET",
        "/v1/devices",
        Access::Token(Role::Viewer),
        "Devices (?zone=&verdict=&offset=&limit=)",
    ),
    (
        "GET",
        "/v1/devices/{id}",
        Access::Token(Role::Viewer),
        "One device: identity, verdict, chain state, evidence",
    ),
    (
        "GET",
        "/v1/devices/{id}/records",
        Access::Token(Role::Viewer),
        "A device's records (?from=&limit=)",
    ),
    (
        "POST",
        "/v1/devices/{id}/challenge",
        Access::Token(Role::Operator),
        "Send a challenge nonce to a device",
    ),
    (
        "POST",
        "/v1/devices/{id}/revoke",
        Access::Token(Role::Admin),
        "Revoke a device identity",
    ),
    (
        "POST",
        "/v1/devices/{id}/reinstate",
        Access::Token(Role::Admin),
        "Lift a condemnation after investigation",
    ),
    (
        "GET",
        "/v1/alerts",
        Access::Token(Role::Viewer),
        "Alerts (?device=&kind=&open=&after=&limit=)",
    ),
    (
        "POST",
        "/v1/alerts/{id}/ack",
        Access::Token(Role::Operator),
        "Acknowledge an alert (logged)",
    ),
    (
        "GET",
        "/v1/policies",
        Access::Token(Role::Viewer),
        "Policy versions",
    ),
    (
        "GET",
        "/v1/policies/{version}",
        Access::Token(Role::Viewer),
        "One policy version",
    ),
    (
        "POST",
        "/v1/policies/manifests",
        Access::Token(Role::Operator),
        "Import a signed vendor manifest (DSSE) into a new candidate version",
    ),
    (
        "POST",
        "/v1/policies/golden",
        Access::Token(Role::Operator),
        "Capture a golden device's state into a new candidate version",
    ),
    (
        "POST",
        "/v1/policies/{version}/dry-run",
        Access::Token(Role::Viewer),
        "Which verdicts a version would change, against stored evidence",
    ),
    (
        "POST",
        "/v1/policies/{version}/activate",
        Access::Token(Role::Admin),
        "Activate a policy version (logged)",
    ),
    (
        "POST",
        "/v1/trust/reload",
        Access::Token(Role::Admin),
        "Reload trust anchors and CRLs from the data directory; revoke devices whose certificates are now revoked (logged)",
    ),
    (
        "GET",
        "/v1/vendor-keys",
        Access::Token(Role::Viewer),
        "Keys trusted to sign vendor manifests",
    ),
    (
        "PUT",
        "/v1/vendor-keys/{vendor}",
        Access::Token(Role::Admin),
        "Trust a key for a vendor's manifests (logged)",
    ),
    (
        "GET",
        "/v1/tokens",
        Access::Token(Role::Admin),
        "API tokens (no secrets)",
    ),
    (
        "POST",
        "/v1/tokens",
        Access::Token(Role::Admin),
        "Create a token (the secret is shown once; logged)",
    ),
    (
        "DELETE",
        "/v1/tokens/{id}",
        Access::Token(Role::Admin),
        "Revoke a token (logged)",
    ),
];

/// Shared state of the handlers.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Core.
    pub core: Arc<Core>,
    /// Pipeline.
    pub pipeline: Pipeline,
    /// Per-device token buckets.
    pub buckets: Arc<Mutex<HashMap<DeviceId, (f64, Instant)>>>,
}

/// The authenticated device of a device-plane connection.
#[derive(Clone, Copy, Debug)]
pub struct PeerDevice(pub DeviceId);

/// An API error: status and JSON body `{"error": code, "message": text}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string())
    }
    pub(crate) fn submit(e: SubmitError) -> Self {
        match e {
            SubmitError::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "ingest queue full; retry later",
            ),
            SubmitError::Stopped => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopped",
                "ingest stopped after a storage failure",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(json!({"error": self.code, "message": self.message})),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE
            || self.status == StatusCode::TOO_MANY_REQUESTS
        {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

impl From<aq_store::StoreError> for ApiError {
    fn from(e: aq_store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// A bearer-token principal.
#[derive(Clone, Debug)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(a) = parts.extensions.get::<Auth>() {
            return Ok(a.clone());
        }
        let unauth = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid bearer token is required",
            )
        };
        let h = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(unauth)?;
        let token = h.strip_prefix("Bearer ").ok_or_else(unauth)?.trim();
        let (id, secret) = auth::parse(token).ok_or_else(unauth)?;
        let store = state.core.store.clone();
        let id_owned = id.to_string();
        let doc = tokio::task::spawn_blocking(move || store.get_doc("tokens", &id_owned))
            .await
            .map_err(ApiError::internal)??;
        let rec: TokenRecord = doc
            .and_then(|d| serde_json::from_slice(&d).ok())
            .ok_or_else(unauth)?;
        if !auth::check(&rec, secret) {
            return Err(unauth());
        }
        Ok(Auth(Principal {
            id: rec.id,
            name: rec.name,
            role: rec.role,
            zones: rec.zones,
        }))
    }
}

impl Auth {
    /// Fails with 403 unless the principal has at least `role`.
    pub(crate) fn require(&self, role: Role) -> ApiResult<()> {
        if self.0.role >= role {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "role {} required (token has {})",
                role.name(),
                self.0.role.name()
            )))
        }
    }
}

/// Runs blocking store/log work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

/// Submits an operator action and waits for it to be logged and stored.
pub(crate) async fn act(
    st: &AppState,
    a: &Auth,
    what: &str,
    details: Value,
    docs: Vec<(String, String, Option<Vec<u8>>)>,
    acks: Vec<u64>,
    effect: Effect,
) -> ApiResult<u64> {
    let action = crate::pipeline::action(&a.0.name, a.0.role.name(), what, details, docs);
    let (tx, rx) = tokio::sync::oneshot::channel();
    st.pipeline
        .submit(Job::Action {
            action: Box::new(action),
            acks: acks.into_iter().map(|id| (id, a.0.name.clone())).collect(),
            effect,
            reply: tx,
        })
        .map_err(ApiError::submit)?;
    rx.await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Parses a device id path parameter.
pub(crate) fn device_param(id: &str) -> ApiResult<DeviceId> {
    DeviceId::from_hex(id).ok_or_else(|| ApiError::bad("device id must be a UEID in hex"))
}

/// The zone a device is assigned to.
pub(crate) fn zone_of(st: &AppState, d: &DeviceId) -> Option<String> {
    st.core.zones_of.read().get(d).cloned()
}

/// Fails with 403 unless the principal may see the device's zone.
pub(crate) fn check_zone(st: &AppState, a: &Auth, d: &DeviceId) -> ApiResult<()> {
    if a.0.sees_zone(zone_of(st, d).as_deref()) {
        Ok(())
    } else {
        Err(ApiError::forbidden("device is outside the token's zones"))
    }
}

// ---------------------------------------------------------------------------------------------
// Device plane
// ---------------------------------------------------------------------------------------------

/// The device-plane router.
pub fn device_router(st: AppState) -> Router {
    let limit = st.core.cfg.limits.max_body_bytes;
    Router::new()
        .route("/v1/records", post(submit_records))
        .route("/v1/device/epoch", get(epoch))
        .route("/v1/device/challenge", get(device_challenge))
        .route("/v1/device/receipt", get(device_receipt))
        .route(
            "/v1/device/sbom",
            get(crate::advisory::device_status).put(crate::advisory::device_upload),
        )
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(st)
}

fn take_tokens(st: &AppState, d: DeviceId, n: usize) -> bool {
    let rate = f64::from(st.core.cfg.limits.device_rate.max(1));
    let burst = f64::from(st.core.cfg.limits.device_burst.max(1));
    let mut b = st.buckets.lock();
    let now = Instant::now();
    let e = b.entry(d).or_insert((burst, now));
    e.0 = (e.0 + now.duration_since(e.1).as_secs_f64() * rate).min(burst);
    e.1 = now;
    if e.0 >= n as f64 {
        e.0 -= n as f64;
        true
    } else {
        false
    }
}

async fn submit_records(
    State(st): State<AppState>,
    axum::Extension(PeerDevice(peer)): axum::Extension<PeerDevice>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let started = Instant::now();
    let m = &st.core.metrics;
    let mut recs = Vec::new();
    let mut malformed = Vec::new();
    for item in sequence::decode_sequence(&body) {
        match item.record {
            Ok(r) => recs.push(r),
            Err(e) => {
                m.records_malformed.fetch_add(1, Relaxed);
                malformed.push(
                    json!({"offset": item.offset, "error": e.code(), "message": e.to_string()}),
                );
            }
        }
        if recs.len() > st.core.cfg.limits.max_records_per_request {
            m.refused_too_large.fetch_add(1, Relaxed);
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_many_records",
                format!(
                    "at most {} records per request",
                    st.core.cfg.limits.max_records_per_request
                ),
            ));
        }
    }
    if !malformed.is_empty() {
        // Bytes that fail strict decoding on an authenticated channel: damaged or tampered in
        // transit. The alert is logged through the pipeline like any other.
        let alert = aq_verify::Alert::new(
            aq_verify::AlertKind::Malformed,
            Some(peer),
            now_ms(),
            format!(
                "{} item(s) failed strict decoding, first: {}",
                malformed.len(),
                malformed[0]["message"].as_str().unwrap_or_default()
            ),
        );
        let _ = st.pipeline.submit(Job::Alert(Box::new(alert)));
    }
    if recs.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            json!({"malformed": malformed}).to_string(),
        ));
    }
    let all_foreign = recs.iter().all(|r| r.payload.device != peer);
    if !take_tokens(&st, peer, recs.len()) {
        m.refused_rate.fetch_add(1, Relaxed);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "device exceeded its record rate; retry later",
        ));
    }
    let n = recs.len() as u64;
    let (tx, rx) = tokio::sync::oneshot::channel();
    m.queue_records.fetch_add(n, Relaxed);
    if let Err(e) = st.pipeline.submit(Job::Records {
        recs,
        origin: Origin::Device(peer),
        started,
        reply: tx,
    }) {
        m.queue_records.fetch_sub(n, Relaxed);
        m.refused_busy.fetch_add(1, Relaxed);
        return Err(ApiError::submit(e));
    }
    let reply = rx
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "storage", e))?;
    if all_foreign {
        // Judged (and alerted on) by the pipeline, then refused as a whole.
        return Err(ApiError::forbidden(format!(
            "this connection is authenticated as device {peer}; it cannot submit records for another device"
        )));
    }
    let receipt = reply
        .receipts
        .iter()
        .find(|(d, _)| *d == peer)
        .map(|(_, b)| base64::engine::general_purpose::STANDARD.encode(b));
    Ok(Json(json!({
        "results": reply.results,
        "malformed": malformed,
        "receipt": receipt,
    }))
    .into_response())
}

fn cose(bytes: Vec<u8>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/cose; cose-type=\"cose-sign1\""),
        )],
        bytes,
    )
        .into_response()
}

async fn epoch(State(st): State<AppState>) -> ApiResult<Response> {
    let e = st.core.epoch.read().clone();
    match e {
        Some((_, marker)) => Ok(cose(marker)),
        None => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_epoch",
            "no epoch issued yet",
        )),
    }
}

async fn device_challenge(
    State(st): State<AppState>,
    axum::Extension(PeerDevice(peer)): axum::Extension<PeerDevice>,
) -> Response {
    // Delivered once: a device answers each challenge exactly once.
    let c = st.core.challenges.lock().remove(&peer);
    match c {
        Some((nonce, exp)) if exp > now_ms() => {
            Json(json!({"nonce": hex::encode(nonce), "expires_ms": exp})).into_response()
        }
        _ => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn device_receipt(
    State(st): State<AppState>,
    axum::Extension(PeerDevice(peer)): axum::Extension<PeerDevice>,
) -> Response {
    match st.core.receipts.lock().get(&peer).cloned() {
        Some(r) => cose(r),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// API
// ---------------------------------------------------------------------------------------------

/// The operator/auditor router.
pub fn api_router(st: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .route("/v1/epoch", get(epoch))
        .route("/v1/keys", get(keys))
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/v1/log/entries/{index}", get(log_entry))
        .route("/v1/log/proof/inclusion", get(inclusion))
        .route("/v1/log/proof/consistency", get(consistency))
        .route("/metrics", get(metrics))
        .route("/v1/summary", get(summary))
        .route("/v1/devices", get(devices))
        .route("/v1/devices/{id}", get(device))
        .route("/v1/devices/{id}/records", get(device_records))
        .route("/v1/devices/{id}/challenge", post(challenge))
        .route("/v1/devices/{id}/revoke", post(revoke))
        .route("/v1/devices/{id}/reinstate", post(reinstate))
        .route("/v1/alerts", get(alerts))
        .route("/v1/alerts/{id}/ack", post(ack))
        .route("/v1/policies", get(policies))
        .route("/v1/policies/manifests", post(import_manifest))
        .route("/v1/policies/golden", post(golden))
        .route("/v1/policies/{version}", get(policy))
        .route("/v1/policies/{version}/dry-run", post(dry_run))
        .route("/v1/policies/{version}/activate", post(activate))
        .route("/v1/trust/reload", post(reload_trust))
        .route("/v1/vendor-keys", get(vendor_keys))
        .route("/v1/vendor-keys/{vendor}", put(put_vendor_key))
        .route("/v1/tokens", get(tokens).post(create_token))
        .route("/v1/tokens/{id}", delete(delete_token))
        .merge(crate::witnessing::router(st.clone()))
        .merge(crate::advisory::router(st.clone()))
        .merge(crate::compliance::router(st.clone()))
        .merge(crate::trust::router(st.clone()))
        .route_layer(axum::middleware::from_fn_with_state(st.clone(), authorize))
        .layer(axum::extract::DefaultBodyLimit::max(4 << 20))
        .layer(axum::middleware::from_fn_with_state(
            st.clone(),
            count_status,
        ))
        .with_state(st)
}

/// Enforces the route table: finds the matched route's access rule and checks the bearer token and its
/// role before any handler (or body parsing) runs.
async fn authorize(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let method = req.method().as_str().to_string();
    let access = all_routes()
        .find(|(m, p, _, _)| *m == method && *p == path)
        .map(|r| r.2);
    let need = match access {
        Some(Access::Public) => return next.run(req).await,
        Some(Access::Token(_)) if path == "/metrics" && st.core.cfg.metrics_public => {
            return next.run(req).await;
        }
        Some(Access::Token(role)) => role,
        // Not in the table (or a device route on the API port): refuse rather than guess.
        _ => return ApiError::not_found("no such route").into_response(),
    };
    let (mut parts, body) = req.into_parts();
    let auth = match Auth::from_request_parts(&mut parts, &st).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = auth.require(need) {
        return e.into_response();
    }
    parts.extensions.insert(auth);
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

async fn count_status(
    State(st): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let r = next.run(req).await;
    let class = match r.status().as_u16() {
        200..=399 => 0,
        400..=499 => 1,
        _ => 2,
    };
    st.core.metrics.http[class].fetch_add(1, Relaxed);
    r
}

async fn healthz(State(st): State<AppState>) -> Json<Value> {
    Json(json!({
        "ok": !st.pipeline.poisoned.load(Relaxed),
        "ingest_stopped": st.pipeline.poisoned.load(Relaxed),
        "log_size": st.core.metrics.log_size.load(Relaxed),
        "devices": st.core.metrics.devices.load(Relaxed),
    }))
}

/// The OpenAPI 3.1 description, generated from [`all_routes`].
pub fn openapi_doc() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, access, summary) in all_routes() {
        let security = match access {
            Access::Public => json!([]),
            Access::Device => json!([{"mutualTLS": []}]),
            Access::Token(_) => json!([{"bearer": []}]),
        };
        let role = match access {
            Access::Token(r) => r.name(),
            Access::Device => "device",
            Access::Public => "public",
        };
        let oa_path = path.replace("{*path}", "{path}");
        let params: Vec<Value> = oa_path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|n| json!({"name": n, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let entry = paths.entry(oa_path.clone()).or_insert_with(|| json!({}));
        entry[method.to_lowercase()] = json!({
            "summary": summary,
            "x-aq-role": role,
            "security": security,
            "parameters": params,
            "responses": {"200": {"description": "OK"}, "401": {"description": "No or invalid token"}, "403": {"description": "Role or zone does not allow this"}}
        });
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "aq", "version": env!("CARGO_PKG_VERSION"), "description": "Hardware-rooted evidence for industrial control system fleets"},
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "aq1.<id>.<secret> token; roles viewer < operator < admin, optionally scoped to zones"},
            "mutualTLS": {"type": "mutualTLS", "description": "Device Alias certificate + IDevID/LDevID chain"}
        }},
        "paths": paths,
    })
}

async fn openapi() -> Json<Value> {
    Json(openapi_doc())
}

async fn keys(State(st): State<AppState>) -> Json<Value> {
    Json(json!({
        "verifier": st.core.verifier_key.verifying_key().to_text(),
        "log": st.core.log_vkey,
        "origin": st.core.cfg.log_origin,
    }))
}

async fn checkpoint(State(st): State<AppState>) -> ApiResult<Response> {
    if let Some(c) = crate::witnessing::served_checkpoint(&st.core) {
        return Ok(crate::witnessing::checkpoint_response(c));
    }
    let cp = st.core.log.lock().latest_checkpoint().map(<[u8]>::to_vec);
    match cp {
        Some(c) => Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], c).into_response()),
        None => Err(ApiError::not_found("no checkpoint yet")),
    }
}

async fn tile(State(st): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    let t = aq_tlog::tile::Tile::parse_path(&format!("tile/{path}"))
        .map_err(|e| ApiError::bad(format!("not a tile path: {e}")))?;
    let core = st.core.clone();
    let data = blocking(move || {
        use aq_tlog_store::LogBackend;
        core.log
            .lock()
            .backend()
            .read_tile(&t)
            .map_err(ApiError::internal)
    })
    .await?;
    match data {
        Some(d) => Ok(([(header::CONTENT_TYPE, "application/octet-stream")], d).into_response()),
        None => Err(ApiError::not_found("tile not published yet")),
    }
}

async fn log_entry(State(st): State<AppState>, Path(index): Path<u64>) -> ApiResult<Response> {
    let core = st.core.clone();
    let e = blocking(move || {
        let log = core.log.lock();
        if index >= log.size() {
            return Err(ApiError::not_found("no such entry"));
        }
        log.read_entry(index).map_err(ApiError::internal)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], e).into_response())
}

#[derive(Deserialize)]
struct InclusionQ {
    index: u64,
    size: Option<u64>,
}

async fn inclusion(
    State(st): State<AppState>,
    Query(q): Query<InclusionQ>,
) -> ApiResult<Json<Value>> {
    let core = st.core.clone();
    blocking(move || {
        let log = core.log.lock();
        let size = q.size.unwrap_or_else(|| log.checkpoint_size());
        if q.index >= size || size > log.size() {
            return Err(ApiError::bad("need index < size <= log size"));
        }
        let proof = log
            .inclusion_proof(q.index, size)
            .map_err(ApiError::internal)?;
        let root = log.root_at(size).map_err(ApiError::internal)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(Json(json!({
            "index": q.index, "size": size,
            "root": b64.encode(root),
            "proof": proof.iter().map(|h| b64.encode(h)).collect::<Vec<_>>(),
        })))
    })
    .await
}

#[derive(Deserialize)]
struct ConsistencyQ {
    old: u64,
    new: Option<u64>,
}

async fn consistency(
    State(st): State<AppState>,
    Query(q): Query<ConsistencyQ>,
) -> ApiResult<Json<Value>> {
    let core = st.core.clone();
    blocking(move || {
        let log = core.log.lock();
        let new = q.new.unwrap_or_else(|| log.checkpoint_size());
        if q.old > new || new > log.size() {
            return Err(ApiError::bad("need old <= new <= log size"));
        }
        let proof = log
            .consistency_proof(q.old, new)
            .map_err(ApiError::internal)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(Json(json!({
            "old": q.old, "new": new,
            "proof": proof.iter().map(|h| b64.encode(h)).collect::<Vec<_>>(),
        })))
    })
    .await
}

async fn metrics(State(st): State<AppState>) -> Response {
    let mut text = st.core.metrics.render(now_ms());
    if let Some(x) = &st.core.exporter {
        text.push_str(&x.render_prometheus());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn summary(State(st): State<AppState>, a: Auth) -> ApiResult<Json<Value>> {
    let core = st.core.clone();
    let zones = st.core.zones_of.read().clone();
    blocking(move || {
        let rows = core.store.devices()?;
        let mut by_verdict: HashMap<String, u64> = HashMap::new();
        let mut by_zone: HashMap<String, HashMap<String, u64>> = HashMap::new();
        let mut n = 0;
        for r in rows {
            let z = zones.get(&r.device).cloned();
            if !a.0.sees_zone(z.as_deref()) {
                continue;
            }
            n += 1;
            *by_verdict.entry(r.verdict.clone()).or_default() += 1;
            *by_zone
                .entry(z.unwrap_or_else(|| "(unassigned)".into()))
                .or_default()
                .entry(r.verdict)
                .or_default() += 1;
        }
        let meta = core.store.meta()?;
        let cp = core.metrics.checkpoint_ms.load(Relaxed);
        Ok(Json(json!({
            "devices": n,
            "by_verdict": by_verdict,
            "by_zone": by_zone,
            "alerts": meta.alerts,
            "open_alerts": meta.open_alerts,
            "records": meta.records,
            "log_size": core.metrics.log_size.load(Relaxed),
            "checkpoint_age_s": if cp == 0 { None } else { Some(now_ms().saturating_sub(cp) / 1000) },
            "records_accepted": core.metrics.records_accepted.load(Relaxed),
        })))
    })
    .await
}

#[derive(Deserialize)]
struct DevicesQ {
    zone: Option<String>,
    verdict: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn devices(
    State(st): State<AppState>,
    a: Auth,
    Query(q): Query<DevicesQ>,
) -> ApiResult<Json<Value>> {
    let core = st.core.clone();
    let zones = st.core.zones_of.read().clone();
    blocking(move || {
        let mut rows = core.store.devices()?;
        rows.sort_by_key(|x| x.device);
        let filtered: Vec<Value> = rows
            .into_iter()
            .filter(|r| {
                let z = zones.get(&r.device).map(String::as_str);
                a.0.sees_zone(z)
                    && q.zone.as_deref().is_none_or(|qz| z == Some(qz))
                    && q.verdict.as_deref().is_none_or(|v| r.verdict == v)
            })
            .map(|r| {
                json!({
                    "device": r.device.to_hex(), "zone": zones.get(&r.device), "verdict": r.verdict,
                    "vendor": r.vendor, "product": r.product, "model": r.model,
                    "firmware_version": r.firmware_version, "next_seq": r.next_seq, "last_seen_ms": r.last_seen_ms,
                })
            })
            .collect();
        let total = filtered.len();
        let offset = q.offset.unwrap_or(0);
        let limit = q.limit.unwrap_or(100).min(1000);
        let page: Vec<Value> = filtered.into_iter().skip(offset).take(limit).collect();
        Ok(Json(json!({"total": total, "offset": offset, "devices": page})))
    })
    .await
}

async fn device(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let d = device_param(&id)?;
    check_zone(&st, &a, &d)?;
    let zone = zone_of(&st, &d);
    let core = st.core.clone();
    blocking(move || {
        let row = core.store.device(&d)?.ok_or_else(|| ApiError::not_found("unknown device"))?;
        let snap: Value = serde_json::from_slice(&row.snapshot).unwrap_or(Value::Null);
        let evidence = crate::evidence::of_device(core.store.as_ref(), &d)?;
        let boot = core.store.latest_of_kind(&d, aq_evidence::Kind::Boot)?;
        let certs: Vec<Value> = boot
            .and_then(|b| aq_evidence::Record::decode(&b.bytes).ok())
            .map(|r| match &r.payload.body {
                aq_evidence::Body::Boot(b) => b
                    .cert_chain
                    .iter()
                    .filter_map(|c| aq_identity::verify::describe_certificate(c).ok())
                    .map(|s| serde_json::to_value(s).unwrap_or(Value::Null))
                    .collect(),
                _ => Vec::new(),
            })
            .unwrap_or_default();
        let alerts = core.store.alerts(&AlertQuery { device: Some(d), limit: 50, ..AlertQuery::default() })?;
        Ok(Json(json!({
            "device": d.to_hex(), "zone": zone, "verdict": row.verdict,
            "vendor": row.vendor, "product": row.product, "model": row.model, "firmware_version": row.firmware_version,
            "next_seq": row.next_seq, "last_seen_ms": row.last_seen_ms,
            "state": snap, "evidence": evidence, "certificates": certs,
            "alerts": alerts.iter().map(alert_json).collect::<Vec<_>>(),
        })))
    })
    .await
}

fn alert_json(a: &aq_store::StoredAlert) -> Value {
    json!({
        "id": a.id, "log_index": a.log_index, "alert": a.alert,
        "acked_by": a.acked.as_ref().map(|x| &x.0), "acked_ms": a.acked.as_ref().map(|x| x.1),
    })
}

#[derive(Deserialize)]
struct RecordsQ {
    from: Option<u64>,
    limit: Option<usize>,
}

async fn device_records(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
    Query(q): Query<RecordsQ>,
) -> ApiResult<Json<Value>> {
    let d = device_param(&id)?;
    check_zone(&st, &a, &d)?;
    let core = st.core.clone();
    blocking(move || {
        let recs = core.store.records(&d, q.from.unwrap_or(0), q.limit.unwrap_or(100).min(1000))?;
        let out: Vec<Value> = recs
            .iter()
            .map(|r| {
                let body = aq_evidence::Record::decode(&r.bytes)
                    .ok()
                    .and_then(|rec| serde_json::to_value(&rec.payload.body).ok());
                json!({
                    "seq": r.seq, "kind": r.kind.name(), "time_ms": r.time_ms, "received_ms": r.received_ms,
                    "log_index": r.log_index, "hash": r.hash.to_hex(), "stale": r.stale, "body": body,
                    "bytes": base64::engine::general_purpose::STANDARD.encode(&r.bytes),
                })
            })
            .collect();
        Ok(Json(json!({"device": d.to_hex(), "records": out})))
    })
    .await
}

async fn challenge(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Operator)?;
    let d = device_param(&id)?;
    check_zone(&st, &a, &d)?;
    let nonce = crate::keys::random32()[..16].to_vec();
    let expires_ms = now_ms() + st.core.cfg.challenge_ttl_ms;
    st.core
        .challenges
        .lock()
        .insert(d, (nonce.clone(), expires_ms));
    st.pipeline
        .submit(Job::Challenge {
            device: d,
            nonce: nonce.clone(),
            expires_ms,
        })
        .map_err(ApiError::submit)?;
    crate::mqtt::publish(
        &st.core,
        &format!("devices/{}/challenge", d.to_hex()),
        nonce.clone(),
        false,
    );
    let idx = act(
        &st,
        &a,
        "device.challenge",
        json!({"device": d.to_hex(), "nonce": hex::encode(&nonce)}),
        vec![],
        vec![],
        Effect::None,
    )
    .await?;
    Ok(Json(
        json!({"nonce": hex::encode(nonce), "expires_ms": expires_ms, "log_index": idx}),
    ))
}

async fn revoke(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    let d = device_param(&id)?;
    check_zone(&st, &a, &d)?;
    let idx = act(
        &st,
        &a,
        "device.revoke",
        json!({"device": d.to_hex()}),
        vec![],
        vec![],
        Effect::Revoke(d),
    )
    .await?;
    Ok(Json(json!({"log_index": idx})))
}

async fn reinstate(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    let d = device_param(&id)?;
    check_zone(&st, &a, &d)?;
    let idx = act(
        &st,
        &a,
        "device.reinstate",
        json!({"device": d.to_hex()}),
        vec![],
        vec![],
        Effect::Reinstate(d),
    )
    .await?;
    Ok(Json(json!({"log_index": idx})))
}

#[derive(Deserialize)]
struct AlertsQ {
    device: Option<String>,
    kind: Option<String>,
    open: Option<bool>,
    after: Option<u64>,
    limit: Option<usize>,
}

async fn alerts(
    State(st): State<AppState>,
    a: Auth,
    Query(q): Query<AlertsQ>,
) -> ApiResult<Json<Value>> {
    let device = q.device.as_deref().map(device_param).transpose()?;
    let core = st.core.clone();
    let zones = st.core.zones_of.read().clone();
    blocking(move || {
        let list = core.store.alerts(&AlertQuery {
            device,
            kinds: q
                .kind
                .map(|k| k.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
            open_only: q.open.unwrap_or(false),
            after_id: q.after,
            limit: q.limit.unwrap_or(100).min(1000),
        })?;
        let visible: Vec<Value> = list
            .iter()
            .filter(|x| {
                a.0.sees_zone(
                    x.alert
                        .device
                        .and_then(|d| zones.get(&d))
                        .map(String::as_str),
                )
            })
            .map(alert_json)
            .collect();
        Ok(Json(json!({"alerts": visible})))
    })
    .await
}

async fn ack(State(st): State<AppState>, a: Auth, Path(id): Path<u64>) -> ApiResult<Json<Value>> {
    a.require(Role::Operator)?;
    let core = st.core.clone();
    let found = blocking(move || {
        let all = core.store.alerts(&AlertQuery {
            after_id: Some(id.saturating_sub(1)),
            limit: 1,
            ..AlertQuery::default()
        })?;
        Ok(all.into_iter().find(|x| x.id == id))
    })
    .await?
    .ok_or_else(|| ApiError::not_found("no such alert"))?;
    if let Some(d) = found.alert.device {
        check_zone(&st, &a, &d)?;
    }
    if let Some((by, _)) = &found.acked {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_acked",
            format!("already acknowledged by {by}"),
        ));
    }
    let idx = act(
        &st,
        &a,
        "alert.ack",
        json!({"alert": id, "kind": found.alert.kind, "device": found.alert.device}),
        vec![],
        vec![id],
        Effect::None,
    )
    .await?;
    Ok(Json(json!({"log_index": idx})))
}

fn load_policy(core: &Core, version: u64) -> ApiResult<Policy> {
    let doc = core
        .store
        .get_doc("policies", &policy_key(version))?
        .ok_or_else(|| ApiError::not_found(format!("no policy version {version}")))?;
    serde_json::from_slice(&doc).map_err(ApiError::internal)
}

fn latest_policy(core: &Core) -> ApiResult<Policy> {
    match core.store.list_docs("policies")?.last() {
        Some((_, v)) => serde_json::from_slice(v).map_err(ApiError::internal),
        None => Ok(Policy::empty(60_000)),
    }
}

async fn policies(State(st): State<AppState>, _a: Auth) -> ApiResult<Json<Value>> {
    let core = st.core.clone();
    blocking(move || {
        let active = core.store.get_doc("policy", "active")?.map(|v| String::from_utf8_lossy(&v).to_string());
        let list: Vec<Value> = core
            .store
            .list_docs("policies")?
            .into_iter()
            .filter_map(|(k, v)| {
                let p: Policy = serde_json::from_slice(&v).ok()?;
                Some(json!({
                    "version": p.version, "created_ms": p.created_ms, "author": p.author, "comment": p.comment,
                    "firmware_references": p.firmware.len(), "baselines": p.baselines.len(), "min_svn_rules": p.min_svn.len(),
                    "active": active.as_deref() == Some(k.as_str()),
                }))
            })
            .collect();
        Ok(Json(json!({"policies": list})))
    })
    .await
}

async fn policy(
    State(st): State<AppState>,
    _a: Auth,
    Path(version): Path<u64>,
) -> ApiResult<Json<Value>> {
    let core = st.core.clone();
    blocking(move || {
        Ok(Json(
            serde_json::to_value(load_policy(&core, version)?).map_err(ApiError::internal)?,
        ))
    })
    .await
}

async fn store_candidate(
    st: &AppState,
    a: &Auth,
    what: &str,
    p: Policy,
    details: Value,
) -> ApiResult<Json<Value>> {
    let bytes = serde_json::to_vec(&p).map_err(ApiError::internal)?;
    let key = policy_key(p.version);
    let idx = act(
        st,
        a,
        what,
        details,
        vec![("policies".into(), key, Some(bytes))],
        vec![],
        Effect::None,
    )
    .await?;
    Ok(Json(
        json!({"version": p.version, "log_index": idx, "active": false}),
    ))
}

async fn import_manifest(
    State(st): State<AppState>,
    a: Auth,
    body: axum::body::Bytes,
) -> ApiResult<Json<Value>> {
    a.require(Role::Operator)?;
    let core = st.core.clone();
    let name = a.0.name.clone();
    let (p, details) = blocking(move || {
        let keys: Vec<aq_verify::policy::VendorKey> = core
            .store
            .list_docs("vendor_keys")?
            .into_iter()
            .filter_map(|(vendor, v)| {
                let k = aq_evidence::VerifyingKey::from_text(&String::from_utf8_lossy(&v)).ok()?;
                match k {
                    aq_evidence::VerifyingKey::Ed25519(key) => Some(aq_verify::policy::VendorKey { vendor, key }),
                    _ => None,
                }
            })
            .collect();
        let (fw, floor) = aq_verify::policy::import_manifest(&body, &keys)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "manifest_refused", e.to_string()))?;
        let base = latest_policy(&core)?;
        let details = json!({"vendor": fw.vendor, "model": fw.model, "version": fw.version, "svn": fw.svn, "source": fw.source});
        let p = base.next_version(now_ms(), &name, &format!("import manifest {} {} {}", fw.vendor, fw.model, fw.version), |p| {
            if let Some(f) = &floor {
                p.raise_min_svn(&f.vendor, &f.model, f.min_svn);
            }
            p.upsert_firmware(fw);
        });
        Ok((p, details))
    })
    .await?;
    store_candidate(&st, &a, "policy.import-manifest", p, details).await
}

#[derive(Deserialize)]
struct GoldenBody {
    device: String,
    #[serde(default)]
    model_wide: bool,
}

async fn golden(
    State(st): State<AppState>,
    a: Auth,
    Json(b): Json<GoldenBody>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Operator)?;
    let d = device_param(&b.device)?;
    check_zone(&st, &a, &d)?;
    let core = st.core.clone();
    let name = a.0.name.clone();
    let (p, details) = blocking(move || {
        let e = crate::evidence::of_device(core.store.as_ref(), &d)?
            .ok_or_else(|| ApiError::bad("device has no boot evidence yet"))?;
        if let Some(c) = &e.condemned {
            return Err(ApiError::new(StatusCode::CONFLICT, "condemned", format!("a condemned device cannot be golden: {c}")));
        }
        let (fw, bl) = aq_verify::policy::capture_golden(&e, b.model_wide, &name, now_ms());
        let base = latest_policy(&core)?;
        let details = json!({"device": d.to_hex(), "model_wide": b.model_wide, "firmware": fw.version, "baseline": bl.scope});
        let p = base.next_version(now_ms(), &name, &format!("golden capture from {}", d.to_hex()), |p| {
            if p.firmware_for(&fw.vendor, &fw.model, &fw.version).is_none() {
                p.upsert_firmware(fw);
            }
            p.upsert_baseline(bl);
        });
        Ok((p, details))
    })
    .await?;
    store_candidate(&st, &a, "policy.golden", p, details).await
}

async fn dry_run(
    State(st): State<AppState>,
    _a: Auth,
    Path(version): Path<u64>,
) -> ApiResult<Json<Value>> {
    let core = st.core.clone();
    blocking(move || {
        let candidate = load_policy(&core, version)?;
        let active =
            crate::core::active_policy(core.store.as_ref(), 60_000).map_err(ApiError::internal)?;
        let evidence = crate::evidence::of_fleet(core.store.as_ref())?;
        let changes = aq_verify::dry_run(&active, &candidate, &evidence, now_ms());
        Ok(Json(json!({
            "active_version": active.version, "candidate_version": candidate.version,
            "devices_appraised": evidence.len(), "changes": changes,
        })))
    })
    .await
}

async fn activate(
    State(st): State<AppState>,
    a: Auth,
    Path(version): Path<u64>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    let core = st.core.clone();
    let (p, evidence) = blocking(move || {
        let p = load_policy(&core, version)?;
        let evidence = crate::evidence::of_fleet(core.store.as_ref())?;
        Ok((p, evidence))
    })
    .await?;
    let idx = act(
        &st,
        &a,
        "policy.activate",
        json!({"version": version}),
        vec![(
            "policy".into(),
            "active".into(),
            Some(policy_key(version).into_bytes()),
        )],
        vec![],
        Effect::ActivatePolicy(Box::new(p), evidence),
    )
    .await?;
    Ok(Json(json!({"version": version, "log_index": idx})))
}

pub(crate) async fn reload_trust(State(st): State<AppState>, a: Auth) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    let core = st.core.clone();
    let (trust, revoked) = blocking(move || {
        let trust = crate::core::load_trust(&core.cfg.path("trust")).map_err(ApiError::internal)?;
        let anchors: Vec<&[u8]> = trust.anchors.iter().map(Vec::as_slice).collect();
        let crls: Vec<&[u8]> = trust.crls.iter().map(Vec::as_slice).collect();
        let now_s = now_ms() / 1000;
        // A device whose certificate chain is now refused as revoked or expired is revoked.
        let mut revoked = Vec::new();
        for row in core.store.devices()? {
            let Some(boot) = core
                .store
                .latest_of_kind(&row.device, aq_evidence::Kind::Boot)?
            else {
                continue;
            };
            let Ok(rec) = aq_evidence::Record::decode(&boot.bytes) else {
                continue;
            };
            if let aq_evidence::Body::Boot(b) = &rec.payload.body
                && b.cert_chain.len() >= 2
                && let Err(e) = aq_identity::verify::verify_chain(
                    &b.cert_chain[0],
                    &b.cert_chain[1],
                    &anchors,
                    &crls,
                    now_s,
                )
                && matches!(
                    e,
                    aq_identity::verify::ChainError::Revoked { .. }
                        | aq_identity::verify::ChainError::Expired { .. }
                )
            {
                revoked.push((row.device, e.to_string()));
            }
        }
        Ok((trust, revoked))
    })
    .await?;
    *st.core.trust.write() = trust.clone();
    let n = (trust.anchors.len(), trust.crls.len());
    let idx = act(&st, &a, "trust.reload", json!({"anchors": n.0, "crls": n.1, "revoked": revoked.iter().map(|(d, why)| json!({"device": d.to_hex(), "why": why})).collect::<Vec<_>>()}), vec![], vec![], Effect::SetTrust(trust)).await?;
    for (d, why) in &revoked {
        act(
            &st,
            &a,
            "device.revoke",
            json!({"device": d.to_hex(), "why": why}),
            vec![],
            vec![],
            Effect::Revoke(*d),
        )
        .await?;
    }
    Ok(Json(
        json!({"log_index": idx, "anchors": n.0, "crls": n.1, "revoked": revoked.iter().map(|(d, _)| d.to_hex()).collect::<Vec<_>>()}),
    ))
}

async fn vendor_keys(State(st): State<AppState>, _a: Auth) -> ApiResult<Json<Value>> {
    let core = st.core.clone();
    blocking(move || {
        let list: Vec<Value> = core
            .store
            .list_docs("vendor_keys")?
            .into_iter()
            .map(|(k, v)| json!({"vendor": k, "key": String::from_utf8_lossy(&v)}))
            .collect();
        Ok(Json(json!({"vendor_keys": list})))
    })
    .await
}

#[derive(Deserialize)]
struct VendorKeyBody {
    key: String,
}

async fn put_vendor_key(
    State(st): State<AppState>,
    a: Auth,
    Path(vendor): Path<String>,
    Json(b): Json<VendorKeyBody>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    let k =
        aq_evidence::VerifyingKey::from_text(&b.key).map_err(|e| ApiError::bad(e.to_string()))?;
    if k.algorithm() != aq_evidence::Algorithm::EdDSA {
        return Err(ApiError::bad("vendor manifest keys are Ed25519 (DSSE)"));
    }
    let idx = act(
        &st,
        &a,
        "vendor-key.put",
        json!({"vendor": vendor, "key": b.key}),
        vec![("vendor_keys".into(), vendor, Some(b.key.into_bytes()))],
        vec![],
        Effect::None,
    )
    .await?;
    Ok(Json(json!({"log_index": idx})))
}

async fn tokens(State(st): State<AppState>, a: Auth) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    let core = st.core.clone();
    blocking(move || {
        let list: Vec<Value> = core
            .store
            .list_docs("tokens")?
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice::<TokenRecord>(&v).ok())
            .map(|t| json!({"id": t.id, "name": t.name, "role": t.role, "zones": t.zones, "created_ms": t.created_ms}))
            .collect();
        Ok(Json(json!({"tokens": list})))
    })
    .await
}

#[derive(Deserialize)]
struct TokenBody {
    name: String,
    role: String,
    #[serde(default)]
    zones: Vec<String>,
}

async fn create_token(
    State(st): State<AppState>,
    a: Auth,
    Json(b): Json<TokenBody>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    let role = Role::parse(&b.role)
        .ok_or_else(|| ApiError::bad("role must be viewer, operator or admin"))?;
    if b.name.is_empty() || b.name.len() > 64 {
        return Err(ApiError::bad("name: 1-64 characters"));
    }
    // A zone-scoped admin cannot mint a token wider than itself.
    if !a.0.zones.is_empty()
        && (b.zones.is_empty() || b.zones.iter().any(|z| !a.0.zones.contains(z)))
    {
        return Err(ApiError::forbidden(
            "a zone-scoped token can only create tokens within its zones",
        ));
    }
    let (secret, rec) = auth::mint(&b.name, role, b.zones, now_ms());
    let bytes = serde_json::to_vec(&rec).map_err(ApiError::internal)?;
    let idx = act(
        &st,
        &a,
        "token.create",
        json!({"id": rec.id, "name": rec.name, "role": rec.role, "zones": rec.zones}),
        vec![("tokens".into(), rec.id.clone(), Some(bytes))],
        vec![],
        Effect::None,
    )
    .await?;
    Ok(Json(
        json!({"id": rec.id, "token": secret, "log_index": idx}),
    ))
}

async fn delete_token(
    State(st): State<AppState>,
    a: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    if id == a.0.id {
        return Err(ApiError::bad("a token cannot revoke itself"));
    }
    let idx = act(
        &st,
        &a,
        "token.delete",
        json!({"id": id}),
        vec![("tokens".into(), id, None)],
        vec![],
        Effect::None,
    )
    .await?;
    Ok(Json(json!({"log_index": idx})))
}
