//! The SCIM filter parser (filters and PATCH paths), the in-memory evaluator on a few
//! resources, and the SQLite and PostgreSQL translations. First byte picks the schema (User/Group).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use sso_gateway::scim::sql::Dialect;
use sso_gateway::scim::{
    GROUP_COLUMNS, USER_COLUMNS, group_schema, matches, order_by, parse_filter, parse_path, to_sql,
    user_schema,
};

fn resources() -> &'static [Value] {
    static R: OnceLock<Vec<Value>> = OnceLock::new();
    R.get_or_init(|| {
        vec![
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
                "id": "23a35c27", "userName": "Test.User@okta.local", "externalId": "00uj",
                "name": {"givenName": "Test", "familyName": "User", "formatted": "Test User"},
                "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"},
                           {"value": "t@home.example", "type": "home"}],
                "phoneNumbers": [{"value": "+1 555", "type": "work"}],
                "displayName": "Test User", "active": true, "title": "",
                "groups": [{"value": "g1", "display": "Sales"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                    {"employeeNumber": "42", "manager": {"value": "m1"}},
                "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
                         "lastModified": "2024-01-02T00:00:00Z", "version": "W/\"1\""}
            }),
            json!({"userName": 5, "active": "yes", "emails": {"value": 1}, "name": [1, 2]}),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": "g1", "displayName": "Sales",
                "members": [{"value": "23a35c27", "display": "Test User"}, {"value": "x"}]
            }),
            json!({}),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    let (schema, cols) = if mode & 1 == 0 {
        (user_schema(), &USER_COLUMNS)
    } else {
        (group_schema(), &GROUP_COLUMNS)
    };
    if let Ok(f) = parse_filter(s, schema) {
        for r in resources() {
            let _ = matches(&f, r, schema);
        }
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let frag = to_sql(&f, cols, dialect, 1);
            assert!(!frag.sql.is_empty());
            // Every value is bound as $1..$n, never spliced into the SQL text.
            assert_eq!(frag.next_placeholder, frag.binds.len() + 1, "{} {:?}", frag.sql, frag.binds);
            for n in 1..frag.next_placeholder {
                assert!(frag.sql.contains(&format!("${n}")), "{}", frag.sql);
            }
        }
    }
    let _ = parse_path(s, schema);
    let _ = order_by(s, schema, cols, Dialect::Sqlite);
    let _ = order_by(s, schema, cols, Dialect::Postgres);
});
