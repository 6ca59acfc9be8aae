//! Sign-in settings of a tenant: login mode, IdP-initiated login, staged rollout (SSO for a
//! test list first), tenant-admin SSO, discovery domains, return URLs, where the Federation
//! ID comes from, and the clock skew.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::Value;

use super::auth::{Principal, check_csrf, parse_form};
use super::common::{self, Chrome, Fail, Notice, api_write, json_body};
use crate::app::AppState;
use crate::directory::{FederationSource, LoginMode, SsoRollout, Tenant};
use crate::store::TenantSettings;
use crate::web::pages::html;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/settings", web::get().to(page))
        .route("/admin/tenants/{slug}/settings", web::post().to(save_form))
        .route("/admin/api/tenants/{slug}/settings", web::get().to(api_get))
        .route(
            "/admin/api/tenants/{slug}/settings",
            web::patch().to(api_patch),
        );
}

#[derive(Template)]
#[template(path = "admin_settings.html")]
struct SettingsPage {
    chrome: Chrome,
    notice: Option<Notice>,
    s: TenantSettings,
    test_users: String,
    federation_attribute_name: String,
    warnings: Vec<String>,
}

fn words(s: &str) -> Vec<String> {
    s.split([' ', ',', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Apply the given fields (strings, as forms and JSON both give them) over `base`.
pub fn merge(
    base: &TenantSettings,
    f: &HashMap<String, String>,
    checkboxes: bool,
) -> Result<TenantSettings, Fail> {
    let mut s = base.clone();
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string());
    let flag = |k: &str, current: bool| -> Result<bool, Fail> {
        match get(k).as_deref() {
            None if checkboxes => Ok(false),
            None => Ok(current),
            Some("true" | "on" | "1" | "yes") => Ok(true),
            Some("false" | "off" | "0" | "no" | "") => Ok(false),
            Some(other) => Err(Fail::bad(
                "invalid_value",
                format!("{k} must be true or false, not '{other}'"),
            )),
        }
    };
    if let Some(n) = get("display_name") {
        if n.is_empty() || n.len() > 200 {
            return Err(Fail::bad(
                "invalid_value",
                "The name must be 1 to 200 characters.",
            ));
        }
        s.display_name = n;
    }
    if let Some(m) = get("login_mode") {
        s.login_mode = LoginMode::parse(&m).ok_or_else(|| {
            Fail::bad(
                "invalid_value",
                "login_mode must be sso_only, sso_and_password or password_only",
            )
        })?;
    }
    s.allow_idp_initiated = flag("allow_idp_initiated", s.allow_idp_initiated)?;
    s.admin_sso = flag("admin_sso", s.admin_sso)?;
    s.sign_requests = flag("sign_requests", s.sign_requests)?;
    s.require_signed_assertions = flag("require_signed_assertions", s.require_signed_assertions)?;
    s.sign_metadata = flag("sign_metadata", s.sign_metadata)?;
    if let Some(b) = get("request_binding") {
        s.post_binding = match b.as_str() {
            "redirect" => false,
            "post" => true,
            _ => {
                return Err(Fail::bad(
                    "invalid_value",
                    "request_binding must be redirect or post",
                ));
            }
        };
    }
    let users = get("sso_test_users")
        .map(|u| words(&u))
        .unwrap_or_else(|| s.sso_rollout.test_users().to_vec());
    if let Some(mode) = get("sso_rollout") {
        s.sso_rollout = match mode.as_str() {
            "all" => SsoRollout::All,
            "staged" => SsoRollout::Staged(users),
            _ => {
                return Err(Fail::bad(
                    "invalid_value",
                    "sso_rollout must be all or staged",
                ));
            }
        };
    } else if let SsoRollout::Staged(_) = s.sso_rollout {
        s.sso_rollout = SsoRollout::Staged(users);
    }
    if let SsoRollout::Staged(u) = &s.sso_rollout
        && u.len() > 1000
    {
        return Err(Fail::bad(
            "invalid_value",
            "The test list holds at most 1,000 user names.",
        ));
    }
    if let Some(d) = get("email_domains") {
        s.email_domains = words(&d.to_ascii_lowercase());
        if let Some(bad) = s
            .email_domains
            .iter()
            .find(|d| !d.contains('.') || d.contains('@'))
        {
            return Err(Fail::bad(
                "invalid_value",
                format!("'{bad}' is not an email domain (e.g. acme.com)"),
            ));
        }
    }
    if let Some(u) = get("allowed_return_urls") {
        s.allowed_return_urls = words(&u);
        if let Some(bad) = s
            .allowed_return_urls
            .iter()
            .find(|u| !url::Url::parse(u).is_ok_and(|p| p.scheme() == "https"))
        {
            return Err(Fail::bad(
                "invalid_value",
                format!("'{bad}' is not an https:// URL"),
            ));
        }
    }
    if let Some(src) = get("federation_source") {
        s.federation_source = match src.as_str() {
            "name_id" => FederationSource::NameId,
            "attribute" => {
                let name = get("federation_source_attribute").unwrap_or_default();
                if name.is_empty() {
                    return Err(Fail::bad(
                        "invalid_value",
                        "Name the SAML attribute that carries the Federation ID.",
                    ));
                }
                FederationSource::Attribute(name)
            }
            other => match other.strip_prefix("attribute:") {
                Some(a) if !a.is_empty() => FederationSource::Attribute(a.to_string()),
                _ => {
                    return Err(Fail::bad(
                        "invalid_value",
                        "federation_source must be name_id or attribute:<Name>",
                    ));
                }
            },
        };
    }
    if let Some(a) = get("federation_attribute") {
        if a.is_empty() {
            return Err(Fail::bad(
                "invalid_value",
                "The provisioned attribute may not be empty (default userName).",
            ));
        }
        s.federation_attribute = a;
    }
    if let Some(k) = get("clock_skew_seconds") {
        s.clock_skew_seconds = k
            .parse::<i64>()
            .ok()
            .filter(|v| (0..=600).contains(v))
            .ok_or_else(|| {
                Fail::bad("invalid_value", "The clock skew must be 0 to 600 seconds.")
            })?;
    }
    Ok(s)
}

fn warnings(s: &TenantSettings) -> Vec<String> {
    let mut w = Vec::new();
    if let SsoRollout::Staged(u) = &s.sso_rollout {
        if u.is_empty() {
            w.push(
                "Staged rollout is on with an empty test list: nobody can use single sign-on yet."
                    .into(),
            );
        }
        if s.login_mode == LoginMode::SsoOnly {
            w.push("With \"SSO only\" and a staged rollout, users outside the test list cannot sign in at all.".into());
        }
    }
    if s.login_mode == LoginMode::PasswordOnly && s.admin_sso {
        w.push("Admin sign-in through SSO needs single sign-on on (not \"password only\").".into());
    }
    w
}

async fn render(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    s: TenantSettings,
    notice: Option<Notice>,
    code: StatusCode,
) -> HttpResponse {
    let _ = state;
    html(
        code,
        &SettingsPage {
            chrome: Chrome::new(p, &t.slug, "settings"),
            notice,
            test_users: s.sso_rollout.test_users().join("\n"),
            federation_attribute_name: match &s.federation_source {
                FederationSource::Attribute(a) => a.clone(),
                FederationSource::NameId => String::new(),
            },
            warnings: warnings(&s),
            s,
        },
    )
}

async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_page(&state, &req, &path).await {
        Ok((p, t)) => render(&state, &p, &t, TenantSettings::of(&t), None, StatusCode::OK).await,
        Err(r) => r,
    }
}

async fn save(
    state: &AppState,
    p: &Principal,
    t: &Tenant,
    f: &HashMap<String, String>,
    checkboxes: bool,
) -> Result<TenantSettings, Fail> {
    let s = merge(&TenantSettings::of(t), f, checkboxes)?;
    state
        .db
        .update_tenant_settings(t, &s, &p.actor(), state.now())
        .await?;
    Ok(s)
}

async fn save_form(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let form = parse_form(&body);
    if let Err(r) = check_csrf(&state, &req, &p, &form) {
        return r;
    }
    match save(&state, &p, &t, &form, true).await {
        Ok(s) => {
            render(
                &state,
                &p,
                &t,
                s,
                Some(Notice::Done("Settings saved.".into())),
                StatusCode::OK,
            )
            .await
        }
        Err(f) => {
            render(
                &state,
                &p,
                &t,
                TenantSettings::of(&t),
                Some(Notice::Failed(format!("Not saved: {}", f.message))),
                f.status,
            )
            .await
        }
    }
}

async fn api_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_api(&state, &req, &path).await {
        Ok((_, t)) => HttpResponse::Ok().json(TenantSettings::of(&t).to_json()),
        Err(r) => r,
    }
}

/// JSON values as the strings the form merge takes (arrays of strings joined by lines).
fn as_fields(v: &Value) -> Result<HashMap<String, String>, Fail> {
    let Some(obj) = v.as_object() else {
        return Err(Fail::bad(
            "invalid_json",
            "Send a JSON object of the settings to change.",
        ));
    };
    let mut out = HashMap::new();
    for (k, val) in obj {
        let s = match val {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
            _ => {
                return Err(Fail::bad(
                    "invalid_value",
                    format!("{k} has an unsupported type"),
                ));
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

async fn api_patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let (p, t) = match common::tenant_api(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = api_write(&state, &req, &p) {
        return r;
    }
    let result = async {
        let fields = as_fields(&json_body(&body)?)?;
        save(&state, &p, &t, &fields, false).await
    }
    .await;
    match result {
        Ok(s) => HttpResponse::Ok().json(s.to_json()),
        Err(f) => f.json(),
    }
}
