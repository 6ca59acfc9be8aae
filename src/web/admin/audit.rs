//! The audit log of a tenant: every admin and SCIM change (who, when, from where, before and
//! after), filterable by actor, action, target and date, and exportable as CSV.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use super::common::{self, Chrome, Fail, Notice, Paging, query_map, query_string, rfc3339, when};
use crate::app::AppState;
use crate::store::{AuditEntry, AuditFilter};
use crate::web::pages::html;

/// Most rows a CSV export holds.
const CSV_MAX_ROWS: i64 = 100_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/audit", web::get().to(page))
        .route("/admin/tenants/{slug}/audit.csv", web::get().to(csv_page))
        .route("/admin/api/tenants/{slug}/audit", web::get().to(api_audit))
        .route(
            "/admin/api/tenants/{slug}/audit.csv",
            web::get().to(csv_api),
        );
}

struct Row {
    when: String,
    actor: String,
    source_ip: String,
    action: String,
    target: String,
    detail: String,
    before: String,
    after: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    notice: Option<Notice>,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    actor: String,
    action: String,
    target: String,
    from: String,
    to: String,
    prev_link: String,
    next_link: String,
    csv_link: String,
}

/// `YYYY-MM-DD` (UTC day) or RFC 3339; `end` moves a date to the next midnight.
fn parse_time(s: &str, end: bool) -> Result<Option<i64>, Fail> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let d = if end { d.succ_opt().unwrap_or(d) } else { d };
        let t = d
            .and_hms_opt(0, 0, 0)
            .map(|n| Utc.from_utc_datetime(&n).timestamp());
        return Ok(t);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Some(t.timestamp()))
        .map_err(|_| {
            Fail::bad(
                "invalid_value",
                format!("'{s}' is not a date (YYYY-MM-DD) or an RFC 3339 time"),
            )
        })
}

fn filter(q: &HashMap<String, String>) -> Result<AuditFilter, Fail> {
    let get = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    Ok(AuditFilter {
        actor: get("actor"),
        action: get("action"),
        target: get("target"),
        from: parse_time(q.get("from").map(String::as_str).unwrap_or(""), false)?,
        to: parse_time(q.get("to").map(String::as_str).unwrap_or(""), true)?,
    })
}

fn compact(v: &Option<Value>) -> String {
    v.as_ref().map(Value::to_string).unwrap_or_default()
}

async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (p, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let qm = query_map(&req);
    let paging = Paging::from_query(&qm, 50);
    let g = |k: &str| qm.get(k).cloned().unwrap_or_default();
    let (actor, action, target, from, to) =
        (g("actor"), g("action"), g("target"), g("from"), g("to"));
    let (notice, code, total, entries) = match filter(&qm) {
        Ok(f) => match state
            .db
            .audit_page(t.id, &f, paging.offset(), paging.per_page)
            .await
        {
            Ok((total, e)) => (None, StatusCode::OK, total, e),
            Err(e) => return Fail::from(e).page(),
        },
        Err(f) => (
            Some(Notice::Failed(f.message)),
            StatusCode::BAD_REQUEST,
            0,
            vec![],
        ),
    };
    let pages = paging.pages(total);
    let base = [
        ("actor", actor.as_str()),
        ("action", action.as_str()),
        ("target", target.as_str()),
        ("from", from.as_str()),
        ("to", to.as_str()),
    ];
    let link = |page: i64| {
        let pg = page.to_string();
        let mut pairs = base.to_vec();
        pairs.push(("page", &pg));
        format!("/admin/tenants/{}/audit?{}", t.slug, query_string(&pairs))
    };
    html(
        code,
        &AuditPage {
            chrome: Chrome::new(&p, &t.slug, "audit"),
            notice,
            rows: entries
                .into_iter()
                .map(|e| Row {
                    when: when(Some(e.created_at)),
                    actor: e.actor,
                    source_ip: e.source_ip.unwrap_or_default(),
                    action: e.action,
                    target: e.target.unwrap_or_default(),
                    detail: e.detail,
                    before: compact(&e.before),
                    after: compact(&e.after),
                })
                .collect(),
            total,
            page: paging.page,
            pages,
            prev_link: if paging.page > 1 {
                link(paging.page - 1)
            } else {
                String::new()
            },
            next_link: if paging.page < pages {
                link(paging.page + 1)
            } else {
                String::new()
            },
            csv_link: format!(
                "/admin/tenants/{}/audit.csv?{}",
                t.slug,
                query_string(&base)
            ),
            actor,
            action,
            target,
            from,
            to,
        },
    )
}

/// A cell that a spreadsheet would run as a formula is prefixed with `'`.
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The CSV of the entries matching the filter (newest first).
pub fn to_csv(entries: &[AuditEntry]) -> Result<Vec<u8>, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "time",
        "actor",
        "source_ip",
        "action",
        "target",
        "detail",
        "before",
        "after",
    ])
    .map_err(|e| e.to_string())?;
    for e in entries {
        let time = rfc3339(Some(e.created_at))
            .as_str()
            .unwrap_or_default()
            .to_string();
        w.write_record([
            cell(&time),
            cell(&e.actor),
            cell(e.source_ip.as_deref().unwrap_or("")),
            cell(&e.action),
            cell(e.target.as_deref().unwrap_or("")),
            cell(&e.detail),
            cell(&compact(&e.before)),
            cell(&compact(&e.after)),
        ])
        .map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

async fn csv_response(
    state: &AppState,
    req: &HttpRequest,
    tenant_id: i64,
    slug: &str,
    json_errors: bool,
) -> HttpResponse {
    let fail = |f: Fail| if json_errors { f.json() } else { f.page() };
    let f = match filter(&query_map(req)) {
        Ok(f) => f,
        Err(f) => return fail(f),
    };
    let entries = match state.db.audit_page(tenant_id, &f, 0, CSV_MAX_ROWS).await {
        Ok((_, e)) => e,
        Err(e) => return fail(Fail::from(e)),
    };
    match to_csv(&entries) {
        Ok(bytes) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"audit-{slug}-{}.csv\"",
                    state.now().format("%Y%m%d-%H%M%S")
                ),
            ))
            .body(bytes),
        Err(e) => fail(Fail::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "csv_failed",
            e,
        )),
    }
}

async fn csv_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_page(&state, &req, &path).await {
        Ok((_, t)) => csv_response(&state, &req, t.id, &t.slug, false).await,
        Err(r) => r,
    }
}

async fn csv_api(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_api(&state, &req, &path).await {
        Ok((_, t)) => csv_response(&state, &req, t.id, &t.slug, true).await,
        Err(r) => r,
    }
}

async fn api_audit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (_, t) = match common::tenant_api(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let qm = query_map(&req);
    let paging = Paging::from_query(&qm, 50);
    let f = match filter(&qm) {
        Ok(f) => f,
        Err(f) => return f.json(),
    };
    match state
        .db
        .audit_page(t.id, &f, paging.offset(), paging.per_page)
        .await
    {
        Ok((total, entries)) => HttpResponse::Ok().json(json!({
            "total": total,
            "page": paging.page,
            "per_page": paging.per_page,
            "entries": entries.iter().map(|e| json!({
                "at": rfc3339(Some(e.created_at)),
                "actor": e.actor,
                "source_ip": e.source_ip,
                "action": e.action,
                "target": e.target,
                "detail": e.detail,
                "before": e.before,
                "after": e.after,
            })).collect::<Vec<_>>(),
        })),
        Err(e) => Fail::from(e).json(),
    }
}
