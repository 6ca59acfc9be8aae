//! `scim::patch::apply` on every Okta and Entra request shape we know of, and the errors.
//! Okta bodies are copied from docs/okta-scim.md (shared research notes) §2.2; Entra shapes
//! from Microsoft's SCIM documentation and Q&A threads.

use serde_json::{Value, json};
use sso_gateway::scim::patch::{PatchError, PatchOutcome, ScimType, apply};
use sso_gateway::scim::{group_schema, user_schema};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn okta_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "active": true,
        "groups": [],
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z", "lastModified": "2024-01-01T00:00:00Z"}
    })
}

fn okta_group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
        "displayName": "Test SCIMv2",
        "members": [
            {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "old.user@okta.local"}
        ],
        "meta": {"resourceType": "Group"}
    })
}

fn user_patch(r: &mut Value, body: &str) -> Result<PatchOutcome, PatchError> {
    apply(r, &serde_json::from_str(body).unwrap(), user_schema())
}

fn group_patch(r: &mut Value, body: &str) -> Result<PatchOutcome, PatchError> {
    apply(r, &serde_json::from_str(body).unwrap(), group_schema())
}

fn ops(list: Value) -> String {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list})
        .to_string()
}

#[track_caller]
fn refused(r: Result<PatchOutcome, PatchError>, t: ScimType) -> String {
    let e = r.expect_err("must be refused");
    assert_eq!(e.scim_type, t, "{e}");
    e.detail
}

#[test]
fn okta_deactivate_and_reactivate_pathless() {
    let mut u = okta_user();
    let out = user_patch(&mut u, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}"#).unwrap();
    assert_eq!(u["active"], json!(false));
    assert!(out.changed("active") && !out.changed("userName"));
    let out = user_patch(&mut u, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}"#).unwrap();
    assert_eq!(u["active"], json!(true));
    assert!(out.changed("active"));
    // Idempotent: nothing changes the second time.
    let out = user_patch(&mut u, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":true}}]}"#).unwrap();
    assert!(out.changed.is_empty());
}

#[test]
fn path_active_and_entra_string_booleans() {
    let mut u = okta_user();
    user_patch(
        &mut u,
        &ops(json!([{"op": "replace", "path": "active", "value": false}])),
    )
    .unwrap();
    assert_eq!(u["active"], json!(false));
    user_patch(
        &mut u,
        &ops(json!([{"op": "Replace", "path": "active", "value": "True"}])),
    )
    .unwrap();
    assert_eq!(u["active"], json!(true));
    user_patch(
        &mut u,
        &ops(json!([{"op": "REPLACE", "path": "ACTIVE", "value": "False"}])),
    )
    .unwrap();
    assert_eq!(u["active"], json!(false));
    user_patch(
        &mut u,
        &ops(json!([{"op": "Add", "value": {"active": "True"}}])),
    )
    .unwrap();
    assert_eq!(u["active"], json!(true));
    let d = refused(
        user_patch(
            &mut u,
            &ops(json!([{"op": "replace", "path": "active", "value": "yes"}])),
        ),
        ScimType::InvalidValue,
    );
    assert!(d.contains("'active' must be true or false"), "{d}");
}

#[test]
fn okta_password_sync_is_accepted_and_dropped() {
    let mut u = okta_user();
    let before = u.clone();
    let out = user_patch(
        &mut u,
        &ops(json!([{"op": "replace", "value": {"password": "t1meMa$heen"}}])),
    )
    .unwrap();
    assert!(out.password_dropped && out.changed.is_empty());
    assert_eq!(u, before);
    assert!(!u.to_string().contains("t1meMa$heen"));
    let out = user_patch(
        &mut u,
        &ops(json!([{"op": "replace", "path": "password", "value": "x"}])),
    )
    .unwrap();
    assert!(out.password_dropped);
}

#[test]
fn okta_group_rename_with_id_and_membership_change() {
    let mut g = okta_group();
    let out = group_patch(&mut g, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"id":"abf4dd94-a4c0-4f67-89c9-76b03340cb9b","displayName":"Test SCIMv2 renamed"}}]}"#).unwrap();
    assert_eq!(g["displayName"], "Test SCIMv2 renamed");
    assert!(out.changed("displayName") && !out.changed("id"));
    let d = refused(
        group_patch(
            &mut g,
            &ops(json!([{"op": "replace", "value": {"id": "other", "displayName": "x"}}])),
        ),
        ScimType::Mutability,
    );
    assert!(d.contains("'id' is read-only"), "{d}");
    assert_eq!(g["displayName"], "Test SCIMv2 renamed");

    let body = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},{"op":"add","path":"members","value":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"}]}]}"#;
    let out = group_patch(&mut g, body).unwrap();
    assert_eq!(
        g["members"],
        json!([{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}])
    );
    assert!(out.changed("members") && out.unmatched_removes.is_empty());
    // Replayed (Okta retries): the remove matches nothing, the add is idempotent.
    let out = group_patch(&mut g, body).unwrap();
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    assert!(out.changed.is_empty());
    assert_eq!(
        out.unmatched_removes,
        vec!["members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]".to_string()]
    );
}

#[test]
fn okta_full_membership_push_and_remove_all() {
    let mut g = okta_group();
    group_patch(&mut g, &ops(json!([{"op": "replace", "path": "members", "value": [{"value": "a", "display": "a@x"}, {"value": "b", "display": "b@x"}]}]))).unwrap();
    assert_eq!(
        g["members"],
        json!([{"value": "a", "display": "a@x"}, {"value": "b", "display": "b@x"}])
    );
    group_patch(
        &mut g,
        &ops(json!([{"op": "replace", "path": "members", "value": []}])),
    )
    .unwrap();
    assert_eq!(g["members"], json!([]));
    group_patch(
        &mut g,
        &ops(json!([{"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "a"}]}])),
    )
    .unwrap();
    assert_eq!(g["members"], json!([{"value": "a"}]));
    let out = group_patch(&mut g, &ops(json!([{"op": "remove", "path": "members"}]))).unwrap();
    assert!(g.get("members").is_none() && out.changed("members"));
}

#[test]
fn entra_member_add_and_remove_with_value_list() {
    let mut g = okta_group();
    group_patch(
        &mut g,
        &ops(
            json!([{"op": "Add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]),
        ),
    )
    .unwrap();
    let out = group_patch(&mut g, &ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "nope"}]}]))).unwrap();
    let ids: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["89bb1940-b905-4575-9e7f-6f887cfb368e", "u2"]);
    assert_eq!(out.unmatched_removes, vec!["members".to_string()]);
    // Entra's filtered form (mlflow-oidc-auth#323) removes exactly the matching member.
    group_patch(
        &mut g,
        &ops(json!([{"op": "Remove", "path": "members[value eq \"u2\"]"}])),
    )
    .unwrap();
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
}

#[test]
fn entra_user_update_shapes() {
    let mut u = okta_user();
    // Microsoft's documented example.
    let out = user_patch(&mut u, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}]}"#).unwrap();
    assert_eq!(
        u["emails"],
        json!([{"primary": true, "value": "updatedEmail@microsoft.com", "type": "work"}])
    );
    assert_eq!(
        u["name"],
        json!({"givenName": "Test", "familyName": "updatedFamilyName"})
    );
    assert!(out.changed("emails") && out.changed("name"));
    // Entra "Add" on a filtered path with no match creates the element (Q&A 120490).
    user_patch(&mut u, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"addresses[type eq \"work\"].formatted","value":"Columbus"}]}"#).unwrap();
    assert_eq!(
        u["addresses"],
        json!([{"type": "work", "formatted": "Columbus"}])
    );
    user_patch(&mut u, &ops(json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"}]))).unwrap();
    assert_eq!(
        u["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    // ... and updates it when it exists (Q&A 1684621: Add for an existing work email).
    user_patch(&mut u, &ops(json!([{"op": "Replace", "path": "title", "value": "tester"}, {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "joe@joe.com"}]))).unwrap();
    assert_eq!(u["emails"].as_array().unwrap().len(), 1);
    assert_eq!(u["emails"][0]["value"], "joe@joe.com");
    assert_eq!(u["title"], "tester");
}

#[test]
fn entra_pathless_dotted_and_urn_keys_and_manager() {
    let mut u = okta_user();
    let out = user_patch(&mut u, &ops(json!([{"op": "Replace", "value": {
        "name.givenName": "Barbara",
        "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "Babs",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Tour Operations",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "4130", "manager": {"value": "m-1"}}
    }}]))).unwrap();
    assert_eq!(
        u["name"],
        json!({"givenName": "Barbara", "familyName": "User"})
    );
    assert_eq!(u["displayName"], "Babs");
    assert_eq!(
        u[ENT],
        json!({"department": "Tour Operations", "costCenter": "4130", "manager": {"value": "m-1"}})
    );
    assert!(u["schemas"].as_array().unwrap().contains(&json!(ENT)));
    assert!(
        out.changed(ENT)
            && out.changed("name")
            && out.changed("displayName")
            && out.changed("schemas")
    );
    // Entra sends the manager id as a bare string.
    user_patch(&mut u, &ops(json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m-2"}]))).unwrap();
    assert_eq!(u[ENT]["manager"], json!({"value": "m-2"}));
    user_patch(&mut u, &ops(json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "value": "m-3"}]))).unwrap();
    assert_eq!(u[ENT]["manager"], json!({"value": "m-3"}));
    user_patch(&mut u, &ops(json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]))).unwrap();
    assert!(u[ENT].get("manager").is_none());
    user_patch(&mut u, &ops(json!([{"op": "Remove", "path": ENT}]))).unwrap();
    assert!(u.get(ENT).is_none());
}

#[test]
fn replace_on_complex_merges_sub_attributes() {
    let mut u = okta_user();
    user_patch(
        &mut u,
        &ops(json!([{"op": "replace", "path": "name", "value": {"middleName": "J"}}])),
    )
    .unwrap();
    assert_eq!(
        u["name"],
        json!({"givenName": "Test", "familyName": "User", "middleName": "J"})
    );
    user_patch(
        &mut u,
        &ops(json!([{"op": "replace", "value": {"name": {"givenName": null}}}])),
    )
    .unwrap();
    assert_eq!(u["name"], json!({"familyName": "User", "middleName": "J"}));
    user_patch(
        &mut u,
        &ops(json!([{"op": "remove", "path": "name.middleName"}])),
    )
    .unwrap();
    assert_eq!(u["name"], json!({"familyName": "User"}));
}

#[test]
fn multi_valued_add_replace_remove_and_primary() {
    let mut u = okta_user();
    user_patch(&mut u, &ops(json!([{"op": "add", "path": "emails", "value": [{"value": "home@x.org", "type": "home", "primary": true}]}]))).unwrap();
    assert_eq!(u["emails"][0]["primary"], json!(false), "only one primary");
    assert_eq!(u["emails"][1]["primary"], json!(true));
    user_patch(&mut u, &ops(json!([{"op": "add", "path": "emails", "value": {"value": "HOME@x.org", "display": "Home"}}]))).unwrap();
    assert_eq!(
        u["emails"].as_array().unwrap().len(),
        2,
        "same email (caseExact false) is updated, not added"
    );
    assert_eq!(u["emails"][1]["display"], "Home");
    user_patch(&mut u, &ops(json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h2@x.org", "type": "home"}}]))).unwrap();
    assert_eq!(u["emails"][1], json!({"value": "h2@x.org", "type": "home"}));
    user_patch(
        &mut u,
        &ops(json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}])),
    )
    .unwrap();
    assert!(u["emails"][0].get("primary").is_none());
    user_patch(
        &mut u,
        &ops(json!([{"op": "remove", "path": "emails[value co \"x.org\"]"}])),
    )
    .unwrap();
    assert_eq!(u["emails"].as_array().unwrap().len(), 1);
    user_patch(
        &mut u,
        &ops(json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x.org"}]}])),
    )
    .unwrap();
    assert_eq!(u["emails"], json!([{"value": "only@x.org"}]));
}

#[test]
fn errors_name_the_problem_and_change_nothing() {
    let mut u = okta_user();
    let before = u.clone();
    let cases: Vec<(Value, ScimType, &str)> = vec![
        (
            json!([{"op": "copy", "path": "title", "value": "x"}]),
            ScimType::InvalidSyntax,
            "unknown op 'copy'",
        ),
        (
            json!([{"op": "remove"}]),
            ScimType::NoTarget,
            "remove needs a 'path'",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}]),
            ScimType::NoTarget,
            "no value of 'emails' matches",
        ),
        (
            json!([{"op": "add", "path": "emails[value co \"x\"].type", "value": "work"}]),
            ScimType::NoTarget,
            "not a list of eq tests",
        ),
        (
            json!([{"op": "replace", "path": "id", "value": "new-id"}]),
            ScimType::Mutability,
            "'id' is read-only",
        ),
        (
            json!([{"op": "replace", "path": "meta.lastModified", "value": "2030-01-01T00:00:00Z"}]),
            ScimType::Mutability,
            "'meta' is read-only",
        ),
        (
            json!([{"op": "add", "path": "groups", "value": [{"value": "g1"}]}]),
            ScimType::Mutability,
            "'groups' is read-only",
        ),
        (
            json!([{"op": "replace", "value": {"meta": {}}}]),
            ScimType::Mutability,
            "'meta' is read-only",
        ),
        (
            json!([{"op": "remove", "path": "id"}]),
            ScimType::Mutability,
            "read-only",
        ),
        (
            json!([{"op": "replace", "path": "favoriteColor", "value": "x"}]),
            ScimType::InvalidPath,
            "unknown attribute 'favoriteColor'",
        ),
        (
            json!([{"op": "replace", "value": {"favoriteColor": "x"}}]),
            ScimType::InvalidPath,
            "unknown attribute 'favoriteColor'",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq ]", "value": "x"}]),
            ScimType::InvalidPath,
            "path 'emails[type eq ]'",
        ),
        (
            json!([{"op": "replace", "path": "emails.value", "value": "x"}]),
            ScimType::InvalidPath,
            "select one with a filter",
        ),
        (
            json!([{"op": "replace", "path": "userName", "value": 42}]),
            ScimType::InvalidValue,
            "'userName' must be a string",
        ),
        (
            json!([{"op": "replace", "path": "name", "value": {"nick": "x"}}]),
            ScimType::InvalidValue,
            "no sub-attribute 'nick'",
        ),
        (
            json!([{"op": "remove", "path": "userName"}]),
            ScimType::InvalidValue,
            "required",
        ),
        (
            json!([{"op": "replace", "path": "title"}]),
            ScimType::InvalidSyntax,
            "needs a 'value'",
        ),
        (
            json!([{"op": "replace", "value": "x"}]),
            ScimType::InvalidSyntax,
            "needs an object 'value'",
        ),
        (
            json!([{"op": "replace", "path": "title", "value": "ok"}, {"op": "replace", "path": "active", "value": 3}]),
            ScimType::InvalidValue,
            "Operations[1]",
        ),
        (json!([]), ScimType::InvalidSyntax, "non-empty"),
    ];
    for (list, t, needle) in cases {
        let body = ops(list.clone());
        let d = refused(user_patch(&mut u, &body), t);
        assert!(d.contains(needle), "{list}: {d}");
        assert_eq!(u, before, "{list} changed the resource");
    }
    refused(
        user_patch(
            &mut u,
            r#"{"schemas":["urn:x"],"Operations":[{"op":"add","path":"title","value":"x"}]}"#,
        ),
        ScimType::InvalidSyntax,
    );
    refused(user_patch(&mut u, r#"[1]"#), ScimType::InvalidSyntax);
    refused(
        user_patch(&mut u, r#"{"Operations":{}}"#),
        ScimType::InvalidSyntax,
    );
    // Missing `schemas` is tolerated.
    user_patch(
        &mut u,
        r#"{"Operations":[{"op":"add","path":"title","value":"x"}]}"#,
    )
    .unwrap();
    assert_eq!(u["title"], "x");
}

#[test]
fn outcome_reports_username_and_unmatched_removes() {
    let mut u = okta_user();
    let out = user_patch(&mut u, &ops(json!([{"op": "replace", "path": "userName", "value": "new@okta.local"}, {"op": "remove", "path": "emails[type eq \"home\"]"}]))).unwrap();
    assert!(out.changed("userName") && !out.changed("emails"));
    assert_eq!(
        out.unmatched_removes,
        vec!["emails[type eq \"home\"]".to_string()]
    );
}
