//! `GET /readyz`: ready to serve sign-ins. `/healthz` (alive, `web::apps`) stays cheap;
//! this one checks what a request needs: the database answers a short query within a
//! timeout, and the master key opens the SP keys.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use crate::app::AppState;

/// How long each check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

fn check(name: &str, r: Result<String, String>) -> (bool, Value) {
    match r {
        Ok(detail) => (true, json!({"name": name, "ok": true, "detail": detail})),
        Err(e) => (false, json!({"name": name, "ok": false, "error": e})),
    }
}

async fn timed<T, E: std::fmt::Display>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(CHECK_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timed out after {} s", CHECK_TIMEOUT.as_secs())),
    }
}

/// 200 with `{"status":"ready","checks":[...]}`, or 503 with `"status":"not ready"` and the
/// failing check's error.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = check(
        "database",
        timed(state.db.ping())
            .await
            .map(|()| format!("{:?} answered", state.db.dialect())),
    );
    let keys = check(
        "keys",
        timed(state.keys.check(&state.db)).await.map(str::to_string),
    );
    let ready = db.0 && keys.0;
    let checks = json!([db.1, keys.1]);
    if !ready {
        tracing::warn!(checks = %checks, "not ready");
    }
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": checks,
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
