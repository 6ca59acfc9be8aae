//! SCIM 2.0 as Okta drives it (okta-scim.md §2.2): assign, import, update, deactivate
//! both ways, reactivate, group push with renames and filtered removes; plus tenant
//! isolation, errors, concurrency, and deactivation ending sessions.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use serde_json::{Value, json};
use sso_gateway::store::{Actor, Db};

use crate::common::{NOW, time};
use crate::web::{Env, JANE, add_tenant, env};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCHOP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

macro_rules! service {
    ($env:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new($env.state.clone()))
                .wrap(sso_gateway::web::security_headers())
                .configure(|c| sso_gateway::web::configure(c, false)),
        )
        .await
    };
}

async fn token(db: &Db, tenant_id: i64) -> String {
    token_with_id(db, tenant_id).await.1
}

async fn token_with_id(db: &Db, tenant_id: i64) -> (i64, String) {
    sso_gateway::web::scim::issue_token(db, tenant_id, "test", time(NOW))
        .await
        .unwrap()
}

async fn call<S>(
    svc: &S,
    method: &str,
    uri: &str,
    tok: &str,
    body: Option<Value>,
) -> (StatusCode, Value, ServiceResponse)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let mut req = match method {
        "GET" => test::TestRequest::get(),
        "POST" => test::TestRequest::post(),
        "PUT" => test::TestRequest::put(),
        "PATCH" => test::TestRequest::patch(),
        "DELETE" => test::TestRequest::delete(),
        _ => unreachable!(),
    }
    .uri(uri)
    .insert_header(("Authorization", format!("Bearer {tok}")))
    .insert_header(("User-Agent", "Okta SCIM Client 1.0.0"));
    if let Some(b) = body {
        req = req
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(b.to_string());
    }
    let r = test::call_service(svc, req.to_request()).await;
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = test::read_body(r).await;
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    let mut resp =
        test::TestRequest::default().to_srv_response(actix_web::HttpResponse::Ok().finish());
    *resp.headers_mut() = headers;
    (status, v, resp)
}

fn okta_user(user_name: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": format!("00u{}", user_name.len()),
        "groups": [],
        "password": "s3cret!Pass",
        "active": true
    })
}

async fn setup() -> (Env, i64, String) {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let tok = token(&e.db, tid).await;
    (e, tid, tok)
}

#[actix_web::test]
async fn authentication_and_tenant_isolation() {
    let (e, _tid, tok) = setup().await;
    let other = add_tenant(&e.db, "globex", "idp-metadata.xml", true).await;
    let (other_tok_id, other_tok) = token_with_id(&e.db, other).await;
    let svc = service!(e);
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/scim/v2/acme/Users")
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers().get("content-type").unwrap(),
        "application/scim+json"
    );
    let body: Value = test::read_body_json(r).await;
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], "401");
    assert!(body["detail"].as_str().unwrap().contains("token"));
    assert_eq!(
        call(&svc, "GET", "/scim/v2/acme/Users", "wrong", None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // Globex's token on Acme's base URL: refused.
    assert_eq!(
        call(&svc, "GET", "/scim/v2/acme/Users", &other_tok, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // A user created in Acme is invisible to Globex.
    let (s, u, _) = call(
        &svc,
        "POST",
        "/scim/v2/acme/Users",
        &tok,
        Some(okta_user(JANE, "Jane", "Doe")),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = u["id"].as_str().unwrap();
    assert_eq!(
        call(
            &svc,
            "GET",
            &format!("/scim/v2/globex/Users/{id}"),
            &other_tok,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, list, _) = call(&svc, "GET", "/scim/v2/globex/Users", &other_tok, None).await;
    assert_eq!(list["totalResults"], 0);
    // A revoked token stops working at once; a second live token (rotation) keeps working.
    let second = token(&e.db, other).await;
    assert!(
        e.db.revoke_scim_token(other, other_tok_id, time(NOW))
            .await
            .unwrap()
    );
    assert_eq!(
        call(&svc, "GET", "/scim/v2/globex/Users", &other_tok, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&svc, "GET", "/scim/v2/globex/Users", &second, None)
            .await
            .0,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn okta_assign_create_read_and_conflict() {
    let (e, tid, tok) = setup().await;
    let svc = service!(e);
    // "Test connector configuration".
    let (s, list, _) = call(
        &svc,
        "GET",
        "/scim/v2/acme/Users?startIndex=1&count=2",
        &tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["totalResults"], 0);
    assert_eq!(
        list["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    // Assign: the create check, then POST.
    let check = "/scim/v2/acme/Users?filter=userName%20eq%20%22jane.doe%40acme.example%22&startIndex=1&count=100";
    let (s, list, _) = call(&svc, "GET", check, &tok, None).await;
    assert_eq!(
        (s, list["totalResults"].clone(), list["Resources"].clone()),
        (StatusCode::OK, json!(0), json!([]))
    );
    let (s, u, resp) = call(
        &svc,
        "POST",
        "/scim/v2/acme/Users",
        &tok,
        Some(okta_user(JANE, "Jane", "Doe")),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = u["id"].as_str().unwrap().to_string();
    assert_eq!(u["userName"], JANE);
    assert_eq!(u["active"], true);
    assert!(u.get("password").is_none(), "password never returned");
    assert_eq!(u["meta"]["resourceType"], "User");
    assert_eq!(
        u["meta"]["location"],
        format!("https://sso.example.test/scim/v2/acme/Users/{id}")
    );
    assert_eq!(u["meta"]["version"], "W/\"1\"");
    assert_eq!(resp.headers().get("etag").unwrap(), "W/\"1\"");
    assert_eq!(
        resp.headers().get("location").unwrap().to_str().unwrap(),
        u["meta"]["location"].as_str().unwrap()
    );
    // The password is not stored either.
    let stored =
        e.db.scim_get(sso_gateway::store::Kind::User, tid, &id)
            .await
            .unwrap()
            .unwrap();
    assert!(!stored.resource.to_string().contains("s3cret"));
    // The Federation ID is set at provisioning (from userName).
    let user = e.db.user_by_user_name(tid, JANE).await.unwrap().unwrap();
    assert_eq!(user.federation_id, JANE);
    // Found by the filter, case-insensitively.
    let (_, list, _) = call(
        &svc,
        "GET",
        &check.replace("jane.doe", "JANE.DOE"),
        &tok,
        None,
    )
    .await;
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], id.as_str());
    // A case variant of an existing userName: 409 uniqueness.
    let (s, err, _) = call(
        &svc,
        "POST",
        "/scim/v2/acme/Users",
        &tok,
        Some(okta_user("Jane.Doe@ACME.example", "J", "D")),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(err["scimType"], "uniqueness");
    assert_eq!(err["status"], "409");
    // Read.
    let (s, got, _) = call(
        &svc,
        "GET",
        &format!("/scim/v2/acme/Users/{id}"),
        &tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["name"]["givenName"], "Jane");
    assert_eq!(got["groups"], json!([]));
    let (s, err, _) = call(&svc, "GET", "/scim/v2/acme/Users/nope", &tok, None).await;
    assert_eq!(
        (s, err["status"].clone()),
        (StatusCode::NOT_FOUND, json!("404"))
    );
    // Empty or malformed bodies are 400 with a readable detail.
    let (s, err, _) = call(
        &svc,
        "POST",
        "/scim/v2/acme/Users",
        &tok,
        Some(json!({"name": {}})),
    )
    .await;
    assert_eq!(
        (s, err["scimType"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalidValue"))
    );
}

#[actix_web::test]
async fn okta_import_pages() {
    let (e, _tid, tok) = setup().await;
    let svc = service!(e);
    for i in 0..7 {
        let (s, _, _) = call(
            &svc,
            "POST",
            "/scim/v2/acme/Users",
            &tok,
            Some(okta_user(
                &format!("user{i}@acme.example"),
                "U",
                &i.to_string(),
            )),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let (_, page, _) = call(
            &svc,
            "GET",
            &format!("/scim/v2/acme/Users?startIndex={start}&count=3"),
            &tok,
            None,
        )
        .await;
        assert_eq!(page["totalResults"], 7);
        assert!(page["itemsPerPage"].is_number() && page["startIndex"] == start);
        let items = page["Resources"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        seen.extend(
            items
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_string()),
        );
        start += 3;
    }
    assert_eq!(seen.len(), 7, "every user once, in a stable order");
    seen.dedup();
    assert_eq!(seen.len(), 7);
    let (_, page, _) = call(
        &svc,
        "GET",
        "/scim/v2/acme/Users?startIndex=1&count=2&attributes=userName",
        &tok,
        None,
    )
    .await;
    let first = &page["Resources"][0];
    assert!(
        first.get("id").is_some()
            && first.get("userName").is_some()
            && first.get("emails").is_none()
    );
}

#[actix_web::test]
async fn profile_update_moves_the_federation_id_and_deactivation_both_ways() {
    let (e, tid, tok) = setup().await;
    let svc = service!(e);
    let (_, u, _) = call(
        &svc,
        "POST",
        "/scim/v2/acme/Users",
        &tok,
        Some(okta_user("old.name@acme.example", "Jane", "Doe")),
    )
    .await;
    let id = u["id"].as_str().unwrap().to_string();
    let url = format!("/scim/v2/acme/Users/{id}");
    // OIN profile update: GET then PUT the whole object with a new userName.
    let (_, mut full, _) = call(&svc, "GET", &url, &tok, None).await;
    full["userName"] = json!(JANE);
    full["name"]["familyName"] = json!("Doe-Smith");
    let (s, updated, resp) = call(&svc, "PUT", &url, &tok, Some(full.clone())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(updated["userName"], JANE);
    assert_eq!(updated["id"], id.as_str(), "id is stable");
    assert_eq!(resp.headers().get("etag").unwrap(), "W/\"2\"");
    let user = e.db.user_by_user_name(tid, JANE).await.unwrap().unwrap();
    assert_eq!(
        user.federation_id, JANE,
        "the Federation ID follows the rename"
    );
    let audit = e.db.audit_entries(tid, 10).await.unwrap();
    assert!(
        audit.iter().any(|a| a.action == "user.federation_id"
            && a.detail == format!("old.name@acme.example -> {JANE}")),
        "{audit:?}"
    );
    // If-Match with a stale version: 412, nothing changes.
    let r = test::call_service(
        &svc,
        test::TestRequest::put()
            .uri(&url)
            .insert_header(("Authorization", format!("Bearer {tok}")))
            .insert_header(("If-Match", "W/\"1\""))
            .set_payload(full.to_string())
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);

    // Sign in through SAML as this user, then deactivate with Okta's path-less PATCH.
    sqlx_license(&e, user.id).await;
    let session = saml_login(&svc).await.expect("login works while active");
    let (s, after, _) = call(
        &svc,
        "PATCH",
        &url,
        &tok,
        Some(json!({"schemas":[PATCHOP],"Operations":[{"op":"replace","value":{"active":false}}]})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert_eq!(after["active"], false);
    assert_eq!(
        session_status(&svc, &session).await,
        StatusCode::UNAUTHORIZED,
        "deactivation ends live sessions"
    );
    assert!(saml_login(&svc).await.is_none(), "and refuses SSO");
    // Still readable and filterable while deactivated.
    let (s, got, _) = call(&svc, "GET", &url, &tok, None).await;
    assert_eq!((s, got["active"].clone()), (StatusCode::OK, json!(false)));
    // Reactivate (Entra style, a string boolean and a path), then login works again.
    let (s, _, _) = call(&svc, "PATCH", &url, &tok, Some(json!({"schemas":[PATCHOP],"Operations":[{"op":"Replace","path":"active","value":"True"}]}))).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        saml_login(&svc).await.is_some(),
        "reactivation restores login"
    );
    // AIW style: a full PUT with active=false also deactivates.
    let (_, mut full, _) = call(&svc, "GET", &url, &tok, None).await;
    full["active"] = json!(false);
    assert_eq!(
        call(&svc, "PUT", &url, &tok, Some(full)).await.0,
        StatusCode::OK
    );
    assert!(saml_login(&svc).await.is_none());
}

async fn sqlx_license(e: &Env, user_id: i64) {
    // Licenses are assigned by admins, not by SCIM.
    let tid = e.db.user_by_id(user_id).await.unwrap().unwrap().tenant_id;
    e.db.assign_license(tid, user_id, "X2", &Actor::cli(), time(NOW))
        .await
        .unwrap()
        .unwrap();
}

/// An IdP-initiated login for Jane with a freshly minted assertion (unique IDs, so the
/// replay cache never decides the outcome), signed with the fixture IdP key.
async fn saml_login<S>(svc: &S) -> Option<actix_web::cookie::Cookie<'static>>
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    use base64::Engine as _;
    use sso_gateway::saml::{MintOptions, SigningKey, SigningLayout, mint_response};
    let key = SigningKey::from_pem(
        &crate::common::fixture("keys/idp.key"),
        &crate::common::fixture("keys/idp.crt"),
    )
    .unwrap();
    let mut o = MintOptions::new(
        "http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7",
        "https://sso.example.test/saml/acme/metadata",
        "https://sso.example.test/saml/acme/acs",
        JANE,
        time(NOW),
    );
    let mut rnd = [0u8; 16];
    openssl::rand::rand_bytes(&mut rnd).unwrap();
    o.assertion_id = sso_gateway::saml::mint::okta_id(rnd);
    o.response_id = format!("{}r", o.assertion_id);
    o.layout = SigningLayout::Assertion;
    let xml = mint_response(&o, &key, key.default_algorithm()).unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(xml);
    let r = test::call_service(
        svc,
        test::TestRequest::post()
            .uri("/saml/acme/acs")
            .set_form([("SAMLResponse", body)])
            .to_request(),
    )
    .await;
    r.response()
        .cookies()
        .find(|c| c.name() == "sso_session")
        .map(|c| c.into_owned())
}

async fn session_status<S>(svc: &S, c: &actix_web::cookie::Cookie<'static>) -> StatusCode
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    test::call_service(
        svc,
        test::TestRequest::get()
            .uri("/api/session")
            .cookie(c.clone())
            .to_request(),
    )
    .await
    .status()
}

#[actix_web::test]
async fn okta_group_push_with_renames_and_filtered_removes() {
    let (e, _tid, tok) = setup().await;
    let svc = service!(e);
    let mut ids = Vec::new();
    for n in ["a", "b", "c"] {
        let (_, u, _) = call(
            &svc,
            "POST",
            "/scim/v2/acme/Users",
            &tok,
            Some(okta_user(&format!("{n}@acme.example"), n, n)),
        )
        .await;
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let (s, g, _) = call(&svc, "POST", "/scim/v2/acme/Groups", &tok, Some(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}))).await;
    assert_eq!(s, StatusCode::CREATED);
    let gid = g["id"].as_str().unwrap().to_string();
    let url = format!("/scim/v2/acme/Groups/{gid}");
    // Add a and b (idempotent: a twice).
    let add = |v: &[&String]| json!({"schemas":[PATCHOP],"Operations":[{"op":"add","path":"members","value": v.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()}]});
    assert_eq!(
        call(&svc, "PATCH", &url, &tok, Some(add(&[&ids[0], &ids[1]])))
            .await
            .0,
        StatusCode::OK
    );
    let (_, g, _) = call(&svc, "PATCH", &url, &tok, Some(add(&[&ids[0]]))).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    // Okta's membership update: rename (path-less replace with id+displayName), a filtered
    // remove, and an add, in one request.
    let body = json!({"schemas":[PATCHOP],"Operations":[
        {"op":"replace","value":{"id": gid, "displayName":"Sales EMEA"}},
        {"op":"remove","path": format!("members[value eq \"{}\"]", ids[0])},
        {"op":"add","path":"members","value":[{"value": ids[2], "display":"c@acme.example"}]}
    ]});
    let (s, g, _) = call(&svc, "PATCH", &url, &tok, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["displayName"], "Sales EMEA");
    let members: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(members, vec![ids[1].as_str(), ids[2].as_str()]);
    // The user sees its groups.
    let (_, u, _) = call(
        &svc,
        "GET",
        &format!("/scim/v2/acme/Users/{}", ids[2]),
        &tok,
        None,
    )
    .await;
    assert_eq!(u["groups"][0]["display"], "Sales EMEA");
    // A full membership push.
    let body = json!({"schemas":[PATCHOP],"Operations":[{"op":"replace","path":"members","value":[{"value": ids[0]}]}]});
    let (_, g, _) = call(&svc, "PATCH", &url, &tok, Some(body)).await;
    assert_eq!(g["members"], json!([{"value": ids[0]}]));
    // Filter groups by name, case-insensitively.
    let (_, list, _) = call(
        &svc,
        "GET",
        "/scim/v2/acme/Groups?filter=displayName%20eq%20%22sales%20emea%22",
        &tok,
        None,
    )
    .await;
    assert_eq!(list["totalResults"], 1);
    // An operation we cannot apply is an error, never ignored.
    let body =
        json!({"schemas":[PATCHOP],"Operations":[{"op":"replace","path":"nonsense","value":1}]});
    assert_eq!(
        call(&svc, "PATCH", &url, &tok, Some(body)).await.0,
        StatusCode::BAD_REQUEST
    );
    // A member that is not a user of this organization is refused.
    let body = json!({"schemas":[PATCHOP],"Operations":[{"op":"add","path":"members","value":[{"value":"not-a-user"}]}]});
    assert_eq!(
        call(&svc, "PATCH", &url, &tok, Some(body)).await.0,
        StatusCode::BAD_REQUEST
    );
    // Unlink: delete.
    assert_eq!(
        call(&svc, "DELETE", &url, &tok, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&svc, "GET", &url, &tok, None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn filters_are_evaluated_or_refused() {
    let (e, _tid, tok) = setup().await;
    let svc = service!(e);
    for (u, dept) in [
        ("ann@acme.example", "Sales"),
        ("ben@acme.example", "Support"),
        ("cat@other.example", "Sales"),
    ] {
        let mut body = okta_user(u, "x", "y");
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] =
            json!({"department": dept});
        call(&svc, "POST", "/scim/v2/acme/Users", &tok, Some(body)).await;
    }
    let q = |f: &str| format!("/scim/v2/acme/Users?filter={}", urlencoding::encode(f));
    for (f, n) in [
        ("userName sw \"a\"", 1),
        ("emails[type eq \"work\" and value ew \"@acme.example\"]", 2),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Sales\"",
            2,
        ),
        ("not (userName co \"ben\") and active eq true", 2),
        (
            "userName eq \"ann@acme.example\" or userName eq \"ben@acme.example\"",
            2,
        ),
        ("externalId pr", 3),
    ] {
        let (s, list, _) = call(&svc, "GET", &q(f), &tok, None).await;
        assert_eq!(s, StatusCode::OK, "{f}: {list}");
        assert_eq!(list["totalResults"], n, "{f}");
    }
    for bad in [
        "userName eq",
        "foo eq \"x\"",
        "userName xx \"a\"",
        "(userName eq \"a\"",
    ] {
        let (s, err, _) = call(&svc, "GET", &q(bad), &tok, None).await;
        assert_eq!(
            (s, err["scimType"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalidFilter")),
            "{bad}"
        );
    }
    let (_, list, _) = call(
        &svc,
        "GET",
        "/scim/v2/acme/Users?sortBy=userName&sortOrder=descending",
        &tok,
        None,
    )
    .await;
    assert_eq!(list["Resources"][0]["userName"], "cat@other.example");
}

#[actix_web::test]
async fn concurrent_group_patches_lose_no_member() {
    let dir = std::env::temp_dir().join(format!("sso-gw-scim-conc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut e = env().await;
    e.db = crate::common::fresh_db(&format!("sqlite://{}/c.db", dir.display())).await;
    e.state.db = e.db.clone();
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", true).await;
    let tok = token(&e.db, tid).await;
    let svc = service!(e);
    let mut ids = Vec::new();
    for i in 0..20 {
        let (_, u, _) = call(
            &svc,
            "POST",
            "/scim/v2/acme/Users",
            &tok,
            Some(okta_user(&format!("m{i}@acme.example"), "m", "m")),
        )
        .await;
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    let (_, g, _) = call(
        &svc,
        "POST",
        "/scim/v2/acme/Groups",
        &tok,
        Some(json!({"displayName":"All","members":[]})),
    )
    .await;
    let url = format!("/scim/v2/acme/Groups/{}", g["id"].as_str().unwrap());
    let futures: Vec<_> = ids
        .iter()
        .map(|id| {
            let body = json!({"schemas":[PATCHOP],"Operations":[{"op":"add","path":"members","value":[{"value": id}]}]});
            call(&svc, "PATCH", &url, &tok, Some(body))
        })
        .collect();
    for (s, _, _) in futures_join_all(futures).await {
        assert_eq!(s, StatusCode::OK);
    }
    let (_, g, _) = call(&svc, "GET", &url, &tok, None).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 20);
    let _ = std::fs::remove_dir_all(&dir);
}

async fn futures_join_all<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = fs.into_iter().map(Box::pin).collect();
    let mut out = Vec::new();
    // Poll all concurrently on this task.
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(results.into_iter().map(|r| r.unwrap()));
    out
}

#[actix_web::test]
async fn discovery_rate_limit_and_delete() {
    let (mut e, _tid, tok) = setup().await;
    e.state.scim_limiter = sso_gateway::web::scim::rate_limiter(1, 2);
    let svc = service!(e);
    let (s, spc, _) = call(
        &svc,
        "GET",
        "/scim/v2/acme/ServiceProviderConfig",
        &tok,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    for k in [
        "patch",
        "bulk",
        "filter",
        "changePassword",
        "sort",
        "etag",
        "authenticationSchemes",
    ] {
        assert!(spc.get(k).is_some(), "{k}");
    }
    assert_eq!(spc["bulk"]["supported"], false);
    let (_, rt, _) = call(&svc, "GET", "/scim/v2/acme/ResourceTypes", &tok, None).await;
    assert_eq!(rt["totalResults"], 2);
    // The burst of 2 is used: the next request is 429 with Retry-After.
    let (s, err, resp) = call(&svc, "GET", "/scim/v2/acme/Schemas", &tok, None).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{err}");
    assert!(resp.headers().get("retry-after").is_some());
}

#[actix_web::test]
async fn discovery_is_read_only_and_users_can_be_deleted() {
    let (e, _tid, tok) = setup().await;
    let svc = service!(e);
    let (s, schemas, _) = call(&svc, "GET", "/scim/v2/acme/Schemas", &tok, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(schemas["totalResults"], 3);
    assert_eq!(
        call(&svc, "POST", "/scim/v2/acme/Schemas", &tok, Some(json!({})))
            .await
            .0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    let (_, u, _) = call(
        &svc,
        "POST",
        "/scim/v2/acme/Users",
        &tok,
        Some(okta_user(JANE, "J", "D")),
    )
    .await;
    let url = format!("/scim/v2/acme/Users/{}", u["id"].as_str().unwrap());
    assert_eq!(
        call(&svc, "DELETE", &url, &tok, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&svc, "GET", &url, &tok, None).await.0,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn a_pinned_federation_id_does_not_follow_renames() {
    let (e, tid, tok) = setup().await;
    let svc = service!(e);
    let (_, u, _) = call(
        &svc,
        "POST",
        "/scim/v2/acme/Users",
        &tok,
        Some(okta_user(JANE, "Jane", "Doe")),
    )
    .await;
    let url = format!("/scim/v2/acme/Users/{}", u["id"].as_str().unwrap());
    e.db.pin_federation_id(
        tid,
        JANE,
        Some("JD-0042"),
        &Actor::new("test", None),
        time(NOW),
    )
    .await
    .unwrap();
    let body = json!({"schemas":[PATCHOP],"Operations":[{"op":"replace","path":"userName","value":"jane.smith@acme.example"}]});
    let (s, after, _) = call(&svc, "PATCH", &url, &tok, Some(body)).await;
    assert_eq!(
        (s, after["userName"].clone()),
        (StatusCode::OK, json!("jane.smith@acme.example"))
    );
    let user =
        e.db.user_by_user_name(tid, "jane.smith@acme.example")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(user.federation_id, "JD-0042", "pinned by an admin");
    let audit = e.db.audit_entries(tid, 10).await.unwrap();
    assert!(
        audit.iter().any(|a| a.action == "user.federation_id.pin"),
        "{audit:?}"
    );
}

#[actix_web::test]
async fn federation_id_can_follow_another_attribute() {
    let (e, tid, tok) = setup().await;
    e.db.set_federation_attribute(tid, "externalId")
        .await
        .unwrap();
    let svc = service!(e);
    let mut body = okta_user(JANE, "Jane", "Doe");
    body["externalId"] = json!("00uJANE");
    call(&svc, "POST", "/scim/v2/acme/Users", &tok, Some(body)).await;
    assert_eq!(
        e.db.user_by_user_name(tid, JANE)
            .await
            .unwrap()
            .unwrap()
            .federation_id,
        "00uJANE"
    );
}

/// Every page of `list` (a URL ending in `?` or `&`) from startIndex 1 with `count`, as
/// an importer pages: the resource ids served, in order, and each page's totalResults.
async fn import_all<S>(svc: &S, tok: &str, list: &str, count: usize) -> (Vec<String>, Vec<i64>)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let (mut ids, mut totals, mut start) = (Vec::new(), Vec::new(), 1);
    loop {
        let uri = format!("{list}startIndex={start}&count={count}");
        let (s, page, _) = call(svc, "GET", &uri, tok, None).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {page}");
        assert_eq!(page["startIndex"], start, "{uri}");
        let items = page["Resources"].as_array().cloned().unwrap_or_default();
        assert_eq!(page["itemsPerPage"], items.len(), "{uri}");
        assert!(items.len() <= count, "{uri}");
        totals.push(page["totalResults"].as_i64().unwrap());
        if items.is_empty() {
            return (ids, totals);
        }
        ids.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_string()));
        start += items.len();
    }
}

async fn create_users<S>(svc: &S, tok: &str, prefix: &str, n: usize) -> Vec<String>
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let mut ids = Vec::new();
    for i in 0..n {
        let name = format!("{prefix}{i:03}@acme.example");
        let (s, u, _) = call(
            svc,
            "POST",
            "/scim/v2/acme/Users",
            tok,
            Some(okta_user(&name, "I", &i.to_string())),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        ids.push(u["id"].as_str().unwrap().to_string());
    }
    ids
}

#[actix_web::test]
async fn a_full_import_serves_every_user_once_in_creation_order() {
    let (e, tid, tok) = setup().await;
    let svc = service!(e);
    let mut created = create_users(&svc, &tok, "import", 230).await;
    // Several passes: the second with the same count continues from the page ends the
    // first one served; count=7 does not divide 230; count=1 is a page per user.
    for count in [7, 7, 100, 1, 1000] {
        let (ids, totals) = import_all(&svc, &tok, "/scim/v2/acme/Users?", count).await;
        assert_eq!(
            ids, created,
            "count={count}: every user once, in creation order"
        );
        assert!(
            totals.iter().all(|&t| t == 230),
            "count={count}: {totals:?}"
        );
    }
    // A user created here (the console's path, not SCIM) is a SCIM resource too.
    sso_gateway::store::Db::create_user_by(
        &e.db,
        tid,
        &sso_gateway::store::NewUser {
            user_name: "console@acme.example",
            display_name: "Console User",
            email: "console@acme.example",
            licenses: &[],
        },
        &Actor::cli(),
        time(NOW),
    )
    .await
    .unwrap()
    .unwrap();
    let (ids, totals) = import_all(&svc, &tok, "/scim/v2/acme/Users?", 7).await;
    assert_eq!(ids.len(), 231);
    assert_eq!(ids[..230], created[..]);
    assert!(totals.iter().all(|&t| t == 231), "{totals:?}");
    // Deleted users leave the count and the pages.
    for id in [created.remove(229), created.remove(100), created.remove(0)] {
        let url = format!("/scim/v2/acme/Users/{id}");
        assert_eq!(
            call(&svc, "DELETE", &url, &tok, None).await.0,
            StatusCode::NO_CONTENT
        );
    }
    let (ids, totals) = import_all(&svc, &tok, "/scim/v2/acme/Users?", 7).await;
    assert_eq!(ids[..227], created[..]);
    assert!(totals.iter().all(|&t| t == 228), "{totals:?}");
    // Groups page the same way.
    let mut groups = Vec::new();
    for i in 0..9 {
        let (s, g, _) = call(
            &svc,
            "POST",
            "/scim/v2/acme/Groups",
            &tok,
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": format!("Group {i}"), "members": []}),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{g}");
        groups.push(g["id"].as_str().unwrap().to_string());
    }
    for _ in 0..2 {
        let (ids, totals) = import_all(&svc, &tok, "/scim/v2/acme/Groups?", 4).await;
        assert_eq!(ids, groups);
        assert!(totals.iter().all(|&t| t == 9), "{totals:?}");
    }
}

#[actix_web::test]
async fn a_page_after_a_change_is_the_offset_page_of_the_changed_list() {
    let (e, _tid, tok) = setup().await;
    let svc = service!(e);
    let created = create_users(&svc, &tok, "pg", 40).await;
    let page = |start: usize| {
        let svc = &svc;
        let tok = &tok;
        async move {
            let uri = format!("/scim/v2/acme/Users?startIndex={start}&count=10");
            let (_, p, _) = call(svc, "GET", &uri, tok, None).await;
            let ids: Vec<String> = p["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string())
                .collect();
            (ids, p["totalResults"].clone())
        }
    };
    assert_eq!(page(1).await.0, created[0..10]);
    assert_eq!(page(11).await.0, created[10..20]);
    // Between two pages a user of page 1 is deprovisioned and another one created: the
    // count is the same, the list is not. startIndex 21 is the 21st user of the list as
    // it is now, as with OFFSET (not the one after the last user served).
    let url = format!("/scim/v2/acme/Users/{}", created[3]);
    assert_eq!(
        call(&svc, "DELETE", &url, &tok, None).await.0,
        StatusCode::NO_CONTENT
    );
    let added = create_users(&svc, &tok, "pg-new", 1).await;
    let (p3, total) = page(21).await;
    assert_eq!(p3, created[21..31]);
    assert_eq!(total, 40);
    let (p4, _) = page(31).await;
    assert_eq!(p4[..9], created[31..40]);
    assert_eq!(p4[9..], added[..]);
    // Unchanged since: the same pages again.
    assert_eq!(page(21).await.0, created[21..31]);
    assert_eq!(page(1).await.0[..3], created[0..3]);

    // A filter and a sortBy page as before too, with their own totals.
    let (ids, totals) = import_all(
        &svc,
        &tok,
        "/scim/v2/acme/Users?filter=userName%20sw%20%22pg00%22&",
        3,
    )
    .await;
    let mut want: Vec<String> = created[..10].to_vec();
    want.remove(3);
    assert_eq!(ids, want);
    assert!(totals.iter().all(|&t| t == 9), "{totals:?}");
    let (ids, _) = import_all(
        &svc,
        &tok,
        "/scim/v2/acme/Users?sortBy=userName&sortOrder=descending&",
        7,
    )
    .await;
    let mut names: Vec<(String, String)> = Vec::new();
    for id in &ids {
        let (_, u, _) = call(
            &svc,
            "GET",
            &format!("/scim/v2/acme/Users/{id}"),
            &tok,
            None,
        )
        .await;
        names.push((u["userName"].as_str().unwrap().to_string(), id.clone()));
    }
    assert_eq!(names.len(), 40);
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0));
    assert_eq!(names, sorted);
}
