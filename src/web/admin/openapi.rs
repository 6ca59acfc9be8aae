//! The OpenAPI 3 document of the admin API, served at `/api/openapi.json`. Built from one
//! table of operations; a test checks the table against the routes the code registers.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use crate::app::AppState;

/// One operation of the admin API.
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// The request body's schema (a name under `components.schemas`), if any.
    pub body: Option<&'static str>,
    /// The success status.
    pub ok: u16,
    /// Only operators may call it.
    pub operator: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
) -> Op {
    Op {
        method,
        path,
        tag,
        summary,
        body: None,
        ok: 200,
        operator: false,
    }
}

const fn with(mut o: Op, body: &'static str, ok: u16) -> Op {
    o.body = Some(body);
    o.ok = ok;
    o
}

const fn operator(mut o: Op) -> Op {
    o.operator = true;
    o
}

/// Every operation of the admin API.
pub const OPS: &[Op] = &[
    op(
        "get",
        "/admin/api/me",
        "Account",
        "The admin behind this request (and the session's CSRF token)",
    ),
    op(
        "get",
        "/admin/api/tenants",
        "Organizations",
        "Organizations this admin may see",
    ),
    operator(with(
        op(
            "post",
            "/admin/api/tenants",
            "Organizations",
            "Create an organization",
        ),
        "NewTenant",
        201,
    )),
    op(
        "get",
        "/admin/api/tenants/{slug}",
        "Organizations",
        "One organization: SP values, warnings, counts, recent failed sign-ins",
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/settings",
        "Settings",
        "Sign-in settings",
    ),
    with(
        op(
            "patch",
            "/admin/api/tenants/{slug}/settings",
            "Settings",
            "Change sign-in settings (only the fields given)",
        ),
        "Settings",
        200,
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/idp",
        "Identity provider",
        "The IdP trust: report, certificates (role, last login verified), metadata URL",
    ),
    with(
        op(
            "put",
            "/admin/api/tenants/{slug}/idp",
            "Identity provider",
            "Enter the IdP by hand: issuer, sign-in URL, certificate",
        ),
        "ManualIdp",
        200,
    ),
    with(
        op(
            "post",
            "/admin/api/tenants/{slug}/idp-metadata",
            "Identity provider",
            "Upload IdP metadata (the XML as the body)",
        ),
        "MetadataXml",
        200,
    ),
    with(
        op(
            "put",
            "/admin/api/tenants/{slug}/idp/metadata-url",
            "Identity provider",
            "Manage the metadata from a URL (fetched now, then refreshed)",
        ),
        "MetadataUrl",
        200,
    ),
    op(
        "delete",
        "/admin/api/tenants/{slug}/idp/metadata-url",
        "Identity provider",
        "Stop refreshing from the URL (the trust stays)",
    ),
    op(
        "post",
        "/admin/api/tenants/{slug}/idp/metadata-url/refresh",
        "Identity provider",
        "Refresh the metadata from its URL now",
    ),
    with(
        op(
            "post",
            "/admin/api/tenants/{slug}/idp/certificates",
            "Identity provider",
            "Trust one more certificate (the next one, for a rollover)",
        ),
        "Certificate",
        200,
    ),
    op(
        "post",
        "/admin/api/tenants/{slug}/idp/certificates/{id}/activate",
        "Identity provider",
        "Mark a trusted certificate current",
    ),
    op(
        "delete",
        "/admin/api/tenants/{slug}/idp/certificates/{id}",
        "Identity provider",
        "Retire a certificate (never the last)",
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/okta-setup",
        "Identity provider",
        "What to enter in Okta's fields, with Okta's labels",
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/users",
        "Users",
        "Search users (q, status=active|deactivated, source=okta|here, license, page, per_page)",
    ),
    with(
        op(
            "post",
            "/admin/api/tenants/{slug}/users",
            "Users",
            "Create a user here",
        ),
        "NewUser",
        201,
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/users/{id}",
        "Users",
        "A user with groups, live sessions and audit trail",
    ),
    with(
        op(
            "patch",
            "/admin/api/tenants/{slug}/users/{id}",
            "Users",
            "Set extension, direct number, Federation ID pin, or status (users created here)",
        ),
        "UserPatch",
        200,
    ),
    with(
        op(
            "post",
            "/admin/api/tenants/{slug}/users/{id}/licenses",
            "Licenses",
            "Assign a license (within the inventory)",
        ),
        "LicenseRef",
        200,
    ),
    op(
        "delete",
        "/admin/api/tenants/{slug}/users/{id}/licenses/{code}",
        "Licenses",
        "Unassign a license",
    ),
    op(
        "delete",
        "/admin/api/tenants/{slug}/users/{id}/sessions",
        "Users",
        "End all of a user's sessions",
    ),
    op(
        "delete",
        "/admin/api/tenants/{slug}/users/{id}/sessions/{handle}",
        "Users",
        "End one session",
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/licenses",
        "Licenses",
        "The catalog with bought, assigned and available counts",
    ),
    operator(with(
        op(
            "put",
            "/admin/api/tenants/{slug}/licenses/{code}",
            "Licenses",
            "Set how many were bought",
        ),
        "Quantity",
        200,
    )),
    op(
        "get",
        "/admin/api/tenants/{slug}/groups",
        "Licenses",
        "Groups pushed by Okta",
    ),
    with(
        op(
            "post",
            "/admin/api/tenants/{slug}/groups/{group}/licenses",
            "Licenses",
            "Assign a license to every member of a group (all or nothing)",
        ),
        "LicenseRef",
        200,
    ),
    op(
        "delete",
        "/admin/api/tenants/{slug}/groups/{group}/licenses/{code}",
        "Licenses",
        "Unassign a license from every member of a group",
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/scim-tokens",
        "Provisioning",
        "SCIM tokens (prefix, created, last used)",
    ),
    with(
        op(
            "post",
            "/admin/api/tenants/{slug}/scim-tokens",
            "Provisioning",
            "Create a SCIM token (shown once)",
        ),
        "Label",
        201,
    ),
    op(
        "post",
        "/admin/api/tenants/{slug}/scim-tokens/{id}/revoke",
        "Provisioning",
        "Revoke a SCIM token",
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/sign-in-events",
        "Diagnostics",
        "Recent sign-in events (failed=true by default)",
    ),
    with(
        op(
            "post",
            "/admin/api/tenants/{slug}/lab",
            "Diagnostics",
            "Check a pasted SAMLResponse, every check with pass/fail",
        ),
        "LabInput",
        200,
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/audit",
        "Audit",
        "Audit entries (actor, action, target, from, to, page)",
    ),
    op(
        "get",
        "/admin/api/tenants/{slug}/audit.csv",
        "Audit",
        "The audit entries matching the filter, as CSV",
    ),
    op(
        "get",
        "/admin/api/admins",
        "Account",
        "Admins this admin may manage",
    ),
    with(
        op(
            "post",
            "/admin/api/admins",
            "Account",
            "Invite an admin (returns a one-time set-password link)",
        ),
        "NewAdmin",
        201,
    ),
    op(
        "delete",
        "/admin/api/admins/{id}",
        "Account",
        "Remove an admin",
    ),
    op(
        "post",
        "/admin/api/admins/{id}/unlock",
        "Account",
        "Lift an admin's lockout",
    ),
    op(
        "post",
        "/admin/api/admins/{id}/password-link",
        "Account",
        "A new one-time set-password link",
    ),
    op(
        "get",
        "/admin/api/api-tokens",
        "Account",
        "Admin API tokens (operators: all)",
    ),
    with(
        op(
            "post",
            "/admin/api/api-tokens",
            "Account",
            "Create an admin API token (from a console session only; shown once)",
        ),
        "NewApiToken",
        201,
    ),
    op(
        "delete",
        "/admin/api/api-tokens/{id}",
        "Account",
        "Revoke an admin API token",
    ),
];

fn schemas() -> Value {
    let s = |props: Value, required: &[&str]| json!({"type": "object", "properties": props, "required": required});
    json!({
        "Error": s(json!({"error": {"type": "string", "description": "stable code"}, "message": {"type": "string"}}), &["error", "message"]),
        "NewTenant": s(json!({"slug": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,39}$"}, "name": {"type": "string"}, "email_domains": {"type": "array", "items": {"type": "string"}}}), &["slug"]),
        "Settings": s(json!({
            "display_name": {"type": "string"},
            "login_mode": {"type": "string", "enum": ["sso_only", "sso_and_password", "password_only"]},
            "allow_idp_initiated": {"type": "boolean"},
            "sso_rollout": {"type": "string", "enum": ["all", "staged"]},
            "sso_test_users": {"type": "array", "items": {"type": "string"}},
            "admin_sso": {"type": "boolean"},
            "email_domains": {"type": "array", "items": {"type": "string"}},
            "allowed_return_urls": {"type": "array", "items": {"type": "string", "format": "uri"}},
            "federation_source": {"type": "string", "description": "name_id or attribute:<Name>"},
            "federation_attribute": {"type": "string", "description": "the SCIM attribute the Federation ID follows"},
            "clock_skew_seconds": {"type": "integer", "minimum": 0, "maximum": 600},
            "sign_requests": {"type": "boolean"},
            "request_binding": {"type": "string", "enum": ["redirect", "post"]},
            "require_signed_assertions": {"type": "boolean"},
            "sign_metadata": {"type": "boolean"},
        }), &[]),
        "ManualIdp": s(json!({"issuer": {"type": "string"}, "sso_url": {"type": "string", "format": "uri"}, "slo_url": {"type": "string", "format": "uri"}, "certificate": {"type": "string", "description": "PEM or base64 DER"}}), &["issuer", "sso_url", "certificate"]),
        "MetadataXml": {"type": "string", "description": "SAML metadata (EntityDescriptor) as XML"},
        "MetadataUrl": s(json!({"url": {"type": "string", "format": "uri"}}), &["url"]),
        "Certificate": s(json!({"certificate": {"type": "string", "description": "PEM or base64 DER"}}), &["certificate"]),
        "NewUser": s(json!({"user_name": {"type": "string"}, "display_name": {"type": "string"}, "email": {"type": "string"}, "license": {"type": "string"}}), &["user_name"]),
        "UserPatch": s(json!({
            "extension": {"type": ["string", "null"], "description": "2 to 10 digits, unique in the organization; null or \"\" clears"},
            "phone_number": {"type": ["string", "null"], "description": "E.164, unique in the deployment; null or \"\" clears"},
            "federation_id": {"type": ["string", "null"], "description": "a string pins it; null unpins"},
            "active": {"type": "boolean", "description": "users created here only"},
        }), &[]),
        "LicenseRef": s(json!({"license": {"type": "string", "example": "X6"}}), &["license"]),
        "Quantity": s(json!({"quantity": {"type": "integer", "minimum": 0}}), &["quantity"]),
        "Label": s(json!({"label": {"type": "string"}}), &[]),
        "LabInput": s(json!({"saml_response": {"type": "string", "description": "base64 SAMLResponse or the XML"}}), &["saml_response"]),
        "NewAdmin": s(json!({"email": {"type": "string", "format": "email"}, "role": {"type": "string", "enum": ["operator", "tenant_admin"]}, "tenant": {"type": "string", "description": "the organization's short name (operators inviting a tenant admin)"}}), &["email"]),
        "NewApiToken": s(json!({"label": {"type": "string"}, "days": {"type": "integer", "minimum": 1, "maximum": 3650, "description": "validity; omitted: never expires"}}), &[]),
    })
}

fn parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let (schema, desc) = match name {
                "id" => (json!({"type": "integer"}), "numeric id"),
                "slug" => (json!({"type": "string"}), "the organization's short name"),
                "code" => (json!({"type": "string"}), "a license code, e.g. X6"),
                "group" => (json!({"type": "string"}), "the group's SCIM id"),
                _ => (json!({"type": "string"}), "the session handle shown in the user's sessions"),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema, "description": desc})
        })
        .collect()
}

/// The document.
pub fn build(public_url: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for o in OPS {
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        let mut responses = Map::new();
        let ok_desc = if o.ok == 201 { "Created" } else { "OK" };
        let ok = if o.path.ends_with(".csv") {
            json!({"description": ok_desc, "content": {"text/csv": {"schema": {"type": "string"}}}})
        } else if o.method == "delete" || o.path.ends_with("/revoke") {
            json!({"description": "Done"})
        } else {
            json!({"description": ok_desc, "content": {"application/json": {"schema": {"type": "object"}}}})
        };
        let ok_status = if o.path.ends_with("/revoke")
            || (o.method == "delete" && (o.path.contains("api-tokens")))
        {
            "204".to_string()
        } else {
            o.ok.to_string()
        };
        responses.insert(ok_status, ok);
        let err = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        for (code, desc) in [
            ("400", "Invalid input (the message says why)"),
            ("401", "Not signed in / no valid admin API token"),
            ("403", "CSRF token missing for a session, or not allowed"),
            ("404", "Not found, or not visible to this admin"),
            (
                "409",
                "Conflicts with the current state (inventory used up, number taken...)",
            ),
        ] {
            let mut e = err.clone();
            if let Some(m) = e.as_object_mut() {
                m.insert("description".into(), json!(desc));
            }
            responses.insert(code.into(), e);
        }
        let mut operation = json!({
            "tags": [o.tag],
            "summary": o.summary,
            "operationId": format!("{}{}", o.method, o.path.replace("/admin/api", "").replace(['/', '{', '}', '.', '-'], "_")),
            "parameters": parameters(o.path),
            "responses": responses,
        });
        if o.operator
            && let Some(m) = operation.as_object_mut()
        {
            m.insert("description".into(), json!("Operators only."));
        }
        if let (Some(b), Some(m)) = (o.body, operation.as_object_mut()) {
            let media = if b == "MetadataXml" {
                "application/samlmetadata+xml"
            } else {
                "application/json"
            };
            m.insert(
                "requestBody".into(),
                json!({"required": true, "content": {media: {"schema": {"$ref": format!("#/components/schemas/{b}")}}}}),
            );
        }
        if let Some(m) = entry.as_object_mut() {
            m.insert(o.method.to_string(), operation);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "sso-gateway Configuration Manager API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every action of the Configuration Manager. Authenticate with an admin API token (`Authorization: Bearer sgw_adm_...`, created on the console's API tokens page) or, from the console, with the session cookie plus the `X-CSRF-Token` header on writes. Tenant admins see only their organization; any other answers 404.",
        },
        "servers": [{"url": public_url}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an admin API token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "sso_admin"},
            },
            "schemas": schemas(),
        },
        "paths": paths,
    })
}

pub async fn document(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(build(&state.public_url))
}
