//! `/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`: accurate about what the
//! gateway supports (RFC 7643 §5-7).

use serde_json::{Value, json};

use super::resource::{SCHEMA_ENTERPRISE, SCHEMA_GROUP, SCHEMA_USER};

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/sso-gateway/docs/okta-setup.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": 1000},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A per-organization token from `sso-gateway admin scim-token create` (Okta: HTTP Header).",
            "primary": true
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")}
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "User accounts",
            "schema": SCHEMA_USER,
            "schemaExtensions": [{"schema": SCHEMA_ENTERPRISE, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Groups",
            "schema": SCHEMA_GROUP,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")}
        }),
    ]
}

fn attr(
    name: &str,
    ty: &str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &str,
    uniqueness: &str,
) -> Value {
    json!({"name": name, "type": ty, "multiValued": multi, "required": required, "caseExact": case_exact,
           "mutability": mutability, "returned": "default", "uniqueness": uniqueness})
}

fn complex(name: &str, multi: bool, mutability: &str, subs: &[(&str, &str)]) -> Value {
    let sub: Vec<Value> = subs
        .iter()
        .map(|(n, t)| attr(n, t, false, false, false, mutability, "none"))
        .collect();
    json!({"name": name, "type": "complex", "multiValued": multi, "required": false, "mutability": mutability,
           "returned": "default", "subAttributes": sub})
}

pub fn schemas(base: &str) -> Vec<Value> {
    let user_attrs = vec![
        attr(
            "userName",
            "string",
            false,
            true,
            false,
            "readWrite",
            "server",
        ),
        complex(
            "name",
            false,
            "readWrite",
            &[
                ("formatted", "string"),
                ("familyName", "string"),
                ("givenName", "string"),
                ("middleName", "string"),
                ("honorificPrefix", "string"),
                ("honorificSuffix", "string"),
            ],
        ),
        attr(
            "displayName",
            "string",
            false,
            false,
            false,
            "readWrite",
            "none",
        ),
        attr(
            "nickName",
            "string",
            false,
            false,
            false,
            "readWrite",
            "none",
        ),
        attr("title", "string", false, false, false, "readWrite", "none"),
        attr(
            "userType",
            "string",
            false,
            false,
            false,
            "readWrite",
            "none",
        ),
        attr(
            "preferredLanguage",
            "string",
            false,
            false,
            false,
            "readWrite",
            "none",
        ),
        attr("locale", "string", false, false, false, "readWrite", "none"),
        attr(
            "timezone",
            "string",
            false,
            false,
            false,
            "readWrite",
            "none",
        ),
        attr(
            "active",
            "boolean",
            false,
            false,
            false,
            "readWrite",
            "none",
        ),
        json!({"name": "password", "type": "string", "multiValued": false, "required": false, "caseExact": true,
               "mutability": "writeOnly", "returned": "never", "uniqueness": "none",
               "description": "Accepted and discarded: the gateway never stores passwords."}),
        complex(
            "emails",
            true,
            "readWrite",
            &[
                ("value", "string"),
                ("type", "string"),
                ("primary", "boolean"),
                ("display", "string"),
            ],
        ),
        complex(
            "phoneNumbers",
            true,
            "readWrite",
            &[
                ("value", "string"),
                ("type", "string"),
                ("primary", "boolean"),
            ],
        ),
        complex(
            "groups",
            true,
            "readOnly",
            &[
                ("value", "string"),
                ("$ref", "reference"),
                ("display", "string"),
            ],
        ),
        attr(
            "externalId",
            "string",
            false,
            false,
            true,
            "readWrite",
            "none",
        ),
    ];
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": SCHEMA_USER, "name": "User",
               "description": "User account", "attributes": user_attrs,
               "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{SCHEMA_USER}")}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": SCHEMA_ENTERPRISE, "name": "EnterpriseUser",
               "description": "Enterprise user", "attributes": [
                   attr("employeeNumber", "string", false, false, false, "readWrite", "none"),
                   attr("costCenter", "string", false, false, false, "readWrite", "none"),
                   attr("organization", "string", false, false, false, "readWrite", "none"),
                   attr("division", "string", false, false, false, "readWrite", "none"),
                   attr("department", "string", false, false, false, "readWrite", "none"),
                   complex("manager", false, "readWrite", &[("value", "string"), ("$ref", "reference"), ("displayName", "string")]),
               ],
               "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{SCHEMA_ENTERPRISE}")}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": SCHEMA_GROUP, "name": "Group",
               "description": "Group", "attributes": [
                   attr("displayName", "string", false, true, false, "readWrite", "none"),
                   complex("members", true, "readWrite", &[("value", "string"), ("$ref", "reference"), ("display", "string"), ("type", "string")]),
                   attr("externalId", "string", false, false, true, "readWrite", "none"),
               ],
               "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{SCHEMA_GROUP}")}}),
    ]
}
