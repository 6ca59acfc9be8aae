//! "Okta setup": exactly what to type into Okta's fields, with Okta's own labels, for the
//! SAML app (General > SAML Settings) and for provisioning (Provisioning > Integration),
//! plus the SP metadata as a download.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Serialize;
use serde_json::json;

use super::common::{self, Chrome, Notice};
use crate::app::AppState;
use crate::directory::{FederationSource, Tenant};
use crate::web::pages::html;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/tenants/{slug}/okta", web::get().to(okta_page))
        .route(
            "/admin/tenants/{slug}/sp-metadata.xml",
            web::get().to(sp_metadata_download),
        )
        .route(
            "/admin/api/tenants/{slug}/okta-setup",
            web::get().to(api_okta_setup),
        );
}

/// One field of Okta's forms: its label there, the value to enter, and a note.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub label: &'static str,
    pub value: String,
    pub note: &'static str,
}

/// One attribute statement to add in Okta.
#[derive(Debug, Clone, Serialize)]
pub struct Attribute {
    pub name: String,
    pub name_format: &'static str,
    pub value: String,
}

/// The whole setup sheet of a tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    pub saml: Vec<Field>,
    pub attributes: Vec<Attribute>,
    pub advanced: Vec<Field>,
    pub provisioning: Vec<Field>,
    pub sp_metadata_url: String,
}

fn field(label: &'static str, value: impl Into<String>, note: &'static str) -> Field {
    Field {
        label,
        value: value.into(),
        note,
    }
}

/// Build the sheet from the tenant's settings (pure).
pub fn setup(t: &Tenant, public_url: &str) -> Setup {
    let pu = public_url.trim_end_matches('/');
    let (name_id_format, app_username) = match &t.federation_source {
        FederationSource::NameId => ("EmailAddress", "Okta username"),
        FederationSource::Attribute(_) => ("Unspecified", "Okta username"),
    };
    let saml = vec![
        field(
            "Single sign-on URL",
            t.acs_url(pu),
            "Keep \"Use this for Recipient URL and Destination URL\" checked.",
        ),
        field("Audience URI (SP Entity ID)", t.sp_entity_id(pu), ""),
        field(
            "Default RelayState",
            "",
            "Leave empty: after an Okta tile click users land on the 8x8 app home.",
        ),
        field("Name ID format", name_id_format, ""),
        field(
            "Application username",
            app_username,
            "The Federation ID is matched against this value (case does not matter).",
        ),
        field(
            "Update application username on",
            "Create and update",
            "So that renamed users keep signing in.",
        ),
    ];
    let mut attributes = vec![
        Attribute {
            name: "email".into(),
            name_format: "Unspecified",
            value: "user.email".into(),
        },
        Attribute {
            name: "firstName".into(),
            name_format: "Unspecified",
            value: "user.firstName".into(),
        },
        Attribute {
            name: "lastName".into(),
            name_format: "Unspecified",
            value: "user.lastName".into(),
        },
    ];
    if let FederationSource::Attribute(a) = &t.federation_source {
        attributes.insert(
            0,
            Attribute {
                name: a.clone(),
                name_format: "Unspecified",
                value: "user.login".into(),
            },
        );
    }
    let advanced = vec![
        field("Response", "Signed", ""),
        field("Assertion Signature", "Signed", ""),
        field("Signature Algorithm", "RSA-SHA256", "SHA-1 is refused."),
        field("Digest Algorithm", "SHA256", ""),
        field("Assertion Encryption", "Unencrypted", ""),
        field(
            "Enable Single Logout",
            if t.idp_slo_url.is_some() {
                "Allow application to initiate Single Logout"
            } else {
                "(optional)"
            },
            "",
        ),
        field(
            "Single Logout URL",
            t.slo_url(pu),
            "Only when Single Logout is enabled.",
        ),
        field(
            "SP Issuer",
            t.sp_entity_id(pu),
            "Only when Single Logout is enabled.",
        ),
        field("Honor Force Authentication", "Yes", ""),
    ];
    let provisioning = vec![
        field(
            "SCIM connector base URL",
            format!("{pu}/scim/v2/{}", t.slug),
            "",
        ),
        field("Unique identifier field for users", "userName", ""),
        field(
            "Supported provisioning actions",
            "Import New Users and Profile Updates, Push New Users, Push Profile Updates, Push Groups",
            "",
        ),
        field("Authentication Mode", "HTTP Header", ""),
        field(
            "Authorization",
            "Bearer <a token from the Provisioning tab>",
            "Create the token on the Provisioning tab; it is shown once.",
        ),
        field(
            "To App",
            "Create Users, Update User Attributes, Deactivate Users",
            "Provisioning > To App. Licenses are assigned here, never by Okta.",
        ),
    ];
    Setup {
        saml,
        attributes,
        advanced,
        provisioning,
        sp_metadata_url: t.sp_entity_id(pu),
    }
}

#[derive(Template)]
#[template(path = "admin_okta.html")]
struct OktaPage {
    chrome: Chrome,
    notice: Option<Notice>,
    s: Setup,
}

async fn okta_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (p, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    html(
        StatusCode::OK,
        &OktaPage {
            chrome: Chrome::new(&p, &t.slug, "okta"),
            notice: None,
            s: setup(&t, &state.public_url),
        },
    )
}

async fn sp_metadata_download(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let (_, t) = match common::tenant_page(&state, &req, &path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match crate::web::saml::sp_metadata_xml(&state, &t).await {
        Ok(xml) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "application/samlmetadata+xml"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"sp-metadata-{}.xml\"", t.slug),
            ))
            .body(xml),
        Err(r) => r,
    }
}

async fn api_okta_setup(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match common::tenant_api(&state, &req, &path).await {
        Ok((_, t)) => HttpResponse::Ok().json(json!(setup(&t, &state.public_url))),
        Err(r) => r,
    }
}
