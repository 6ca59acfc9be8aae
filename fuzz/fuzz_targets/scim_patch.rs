//! SCIM PATCH application (`scim::patch::apply`) to a User and to a Group. The input is
//! a JSON PatchOp body. A refused PATCH leaves the resource unchanged; an applied one
//! leaves a JSON object.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use sso_gateway::scim::{apply, group_schema, user_schema};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "displayName": "Test User",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "active": true,
        "groups": [],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"},
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"}
    });
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
        "displayName": "Test SCIMv2",
        "members": [{"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "old.user@okta.local"}],
        "meta": {"resourceType": "Group"}
    });
    for (original, schema) in [(user, user_schema()), (group, group_schema())] {
        let mut r = original.clone();
        match apply(&mut r, &body, schema) {
            Ok(_) => assert!(r.is_object(), "PATCH produced a non-object: {r}"),
            Err(_) => assert_eq!(r, original, "a refused PATCH changed the resource"),
        }
    }
});
