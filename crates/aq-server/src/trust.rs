//! Trust anchors over the API: an administrator adds (or replaces) a manufacturer or owner CA
//! certificate without a shell on the server, e.g. when a new vendor's devices are commissioned
//! or a fleet simulator brings its own manufacturer CAs.
//!
//! Invariants kept here:
//! * only a well-formed CA certificate (basicConstraints cA) is accepted; anything else is a 422
//!   naming what was wrong, and nothing is written;
//! * the anchor is written atomically into `<data_dir>/trust/` (where `aq serve` loads anchors
//!   at start) and becomes effective only through the same logged reload as
//!   `POST /v1/trust/reload`, so the log records both the anchor (name, subject, SHA-256
//!   fingerprint) and the reload, under the administrator's identity.

use crate::api::{Access, ApiError, ApiResult, AppState, Auth, Route, act, blocking};
use crate::auth::Role;
use crate::pipeline::Effect;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Routes of this module.
pub const ROUTES: &[Route] = &[
    (
        "GET",
        "/v1/trust/anchors",
        Access::Token(Role::Viewer),
        "Trust anchors in effect: file name, subject, SHA-256 fingerprint",
    ),
    (
        "PUT",
        "/v1/trust/anchors/{name}",
        Access::Token(Role::Admin),
        "Add or replace a CA certificate as a trust anchor: {pem}; then reload trust (logged)",
    ),
];

/// Largest certificate accepted.
const MAX_PEM: usize = 64 << 10;

/// The router.
pub fn router<S: Clone + Send + Sync + 'static>(st: AppState) -> Router<S> {
    Router::new()
        .route("/v1/trust/anchors", get(list))
        .route("/v1/trust/anchors/{name}", put(put_anchor))
        .with_state(st)
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_anchor", message)
}

/// A file name an administrator may choose: short, no path, no dot tricks.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn list(State(st): State<AppState>, _a: Auth) -> ApiResult<Json<Value>> {
    let anchors = st.core.trust.read().anchors.clone();
    let out: Vec<Value> = anchors
        .iter()
        .map(|der| {
            let fp = hex::encode(Sha256::digest(der));
            match aq_identity::verify::describe_certificate(der) {
                Ok(s) => json!({"subject": s.subject, "sha256": fp, "not_after": s.not_after, "is_ca": s.is_ca}),
                Err(e) => json!({"sha256": fp, "error": e.to_string()}),
            }
        })
        .collect();
    Ok(Json(json!({"anchors": out})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnchorBody {
    /// The CA certificate, PEM.
    pem: String,
}

async fn put_anchor(
    State(st): State<AppState>,
    a: Auth,
    Path(name): Path<String>,
    Json(body): Json<AnchorBody>,
) -> ApiResult<Json<Value>> {
    a.require(Role::Admin)?;
    if !valid_name(&name) {
        return Err(ApiError::bad(
            "anchor name: 1-64 characters of A-Z a-z 0-9 - _",
        ));
    }
    if body.pem.len() > MAX_PEM {
        return Err(unprocessable(format!(
            "certificate larger than {MAX_PEM} bytes"
        )));
    }
    let der = aq_identity::cert::pem_to_der(&body.pem, "CERTIFICATE")
        .ok_or_else(|| unprocessable("body has no PEM CERTIFICATE block"))?;
    let summary = aq_identity::verify::describe_certificate(&der)
        .map_err(|e| unprocessable(format!("certificate: {e}")))?;
    if !summary.is_ca {
        return Err(unprocessable(format!(
            "{} is not a CA certificate (basicConstraints cA is not set)",
            summary.subject
        )));
    }
    let fingerprint = hex::encode(Sha256::digest(&der));
    let dir = st.core.cfg.path("trust");
    let pem = aq_identity::cert::certificate_pem(&der);
    let file = format!("{name}.pem");
    let f2 = file.clone();
    blocking(move || {
        std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
        let tmp = dir.join(format!(".{f2}.tmp"));
        std::fs::write(&tmp, pem.as_bytes()).map_err(ApiError::internal)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(ApiError::internal)?;
        std::fs::rename(&tmp, dir.join(&f2)).map_err(ApiError::internal)?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(ApiError::internal)?;
        Ok(())
    })
    .await?;
    let idx = act(
        &st,
        &a,
        "trust.anchor.put",
        json!({"file": file, "subject": summary.subject, "sha256": fingerprint, "not_after": summary.not_after}),
        vec![],
        vec![],
        Effect::None,
    )
    .await?;
    let Json(reloaded) = crate::api::reload_trust(State(st), a).await?;
    Ok(Json(json!({
        "file": file,
        "subject": summary.subject,
        "sha256": fingerprint,
        "log_index": idx,
        "reload": reloaded,
    })))
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_cannot_escape_the_trust_directory() {
        assert!(valid_name("siemens-ca_2"));
        for bad in ["", "../x", "a/b", ".hidden", "x.pem", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
