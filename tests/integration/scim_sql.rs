//! `scim::sql` against a real SQLite (sqlx, in memory), and differentially against the
//! in-memory evaluator `scim::filter::matches`.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row, SqlitePool};
use sso_gateway::scim::filter::{matches, parse_filter};
use sso_gateway::scim::schema::ResourceSchema;
use sso_gateway::scim::sql::{ColumnMap, GROUP_COLUMNS, SqlValue, USER_COLUMNS, order_by, to_sql};
use sso_gateway::scim::{group_schema, user_schema};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn user(i: usize) -> Value {
    let given = ["Barbara", "John", "jane", "Émile", "Mark", "Sam", "O'Brien"][i % 7];
    let family = ["Jensen", "Smith", "johnson", "Doe", "jones", "Ng"][i % 6];
    let domain = ["example.com", "EXAMPLE.com", "x.org", "example.com.au"][i % 4];
    let mut u = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": format!("u{i:02}"),
        "userName": format!("user{i}@{domain}"),
        "name": {"givenName": given, "familyName": family},
        "active": !i.is_multiple_of(3),
        "emails": [{"value": format!("user{i}@{domain}"), "type": if i.is_multiple_of(2) { "work" } else { "home" }, "primary": true}],
        "meta": {"resourceType": "User", "created": format!("2011-05-{:02}T04:42:34Z", 1 + i % 28), "lastModified": format!("2011-05-{:02}T04:42:34Z", 1 + (i * 7) % 28)},
    });
    if i % 4 == 1 {
        let title = ["Tour Guide", "", "100% _sure_"][i % 3];
        u["title"] = json!(title);
    }
    if i.is_multiple_of(5) {
        u["externalId"] = json!(format!("Ext-{i}"));
    }
    if i % 6 == 2 {
        u["emails"]
            .as_array_mut()
            .unwrap()
            .push(json!({"value": format!("alt{i}@x.org"), "type": "work"}));
    }
    if i % 3 == 1 {
        let dept = ["Sales", "Engineering", "sales ops"][i % 3];
        u[ENT] = json!({"department": dept, "employeeNumber": format!("{}", 100 + i), "manager": {"value": "u00"}});
    }
    if i % 7 == 3 {
        u["emails"] = json!([]);
    }
    u
}

fn users() -> Vec<Value> {
    let mut v: Vec<Value> = (1..=28).map(user).collect();
    v.push(json!({"id": "bj", "userName": "bjensen", "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"},
        "active": true, "title": "Tour Guide", "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
        "meta": {"lastModified": "2011-05-13T04:42:34Z", "created": "2010-01-23T04:56:22Z"}, "externalId": "BJ-1",
        ENT: {"department": "Tour Operations", "employeeNumber": "701984", "manager": {"value": "u01", "displayName": "John Smith"}}}));
    v.push(json!({"id": "odd", "userName": "Weird\"%_\\Name", "active": false, "nickName": "", "locale": null}));
    v
}

fn groups() -> Vec<Value> {
    vec![
        json!({"id": "g1", "displayName": "Sales", "members": [{"value": "u01", "display": "a"}, {"value": "bj"}]}),
        json!({"id": "g2", "displayName": "sales EMEA", "members": [{"value": "u02"}]}),
        json!({"id": "g3", "displayName": "Engineering", "members": []}),
        json!({"id": "g4", "displayName": "SALES", "externalId": "okta-00g1"}),
    ]
}

async fn db(resources: &[Value], map: &ColumnMap) -> SqlitePool {
    let opts: SqliteConnectOptions = "sqlite::memory:".parse().unwrap();
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE r (scim_id TEXT PRIMARY KEY, user_name_lc TEXT, display_name_lc TEXT, external_id TEXT, active INTEGER, resource TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    for r in resources {
        let col = |a: &str| r.get(a).cloned().unwrap_or(Value::Null);
        let lc = |a: &str| col(a).as_str().map(str::to_ascii_lowercase);
        sqlx::query("INSERT INTO r VALUES (?, ?, ?, ?, ?, ?)")
            .bind(col("id").as_str().unwrap().to_string())
            .bind(lc("userName"))
            .bind(lc("displayName"))
            .bind(col("externalId").as_str().map(str::to_string))
            .bind(col("active").as_bool())
            .bind(r.to_string())
            .execute(&pool)
            .await
            .unwrap();
    }
    let _ = map;
    pool
}

async fn sql_ids(
    pool: &SqlitePool,
    filter: &str,
    schema: &'static ResourceSchema,
    map: &ColumnMap,
) -> BTreeSet<String> {
    let f = parse_filter(filter, schema).unwrap_or_else(|e| panic!("{filter}: {e}"));
    let (frag, binds) = to_sql(&f, map);
    let sql = format!("SELECT scim_id FROM r WHERE {frag}");
    // The fragment is the module under test: literals are bound, paths come from the schema.
    let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
    for b in binds {
        q = match b {
            SqlValue::Text(s) => q.bind(s),
            SqlValue::Int(i) => q.bind(i),
            SqlValue::Real(x) => q.bind(x),
            SqlValue::Bool(x) => q.bind(x),
            SqlValue::Null => q.bind(None::<String>),
        };
    }
    q.fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{filter}\n{sql}\n{e}"))
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

fn mem_ids(resources: &[Value], filter: &str, schema: &'static ResourceSchema) -> BTreeSet<String> {
    let f = parse_filter(filter, schema).unwrap();
    resources
        .iter()
        .filter(|r| matches(&f, r, schema))
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn user_filters_return_exactly_the_expected_ids() {
    let data = users();
    let pool = db(&data, &USER_COLUMNS).await;
    let s = user_schema();
    let m = &USER_COLUMNS;
    let q = |f: &'static str| {
        let pool = pool.clone();
        async move { sql_ids(&pool, f, user_schema(), &USER_COLUMNS).await }
    };
    assert_eq!(q("userName eq \"Bjensen\"").await, set(&["bj"]));
    assert_eq!(q("USERNAME EQ \"BJENSEN\"").await, set(&["bj"]));
    assert_eq!(
        q("urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bjensen\"").await,
        set(&["bj"])
    );
    assert_eq!(
        q("userName eq \"Weird\\\"%_\\\\Name\"").await,
        set(&["odd"])
    );
    assert_eq!(q("userName co \"%_\"").await, set(&["odd"]));
    assert_eq!(q("title co \"%s\"").await, set(&[]), "% is not a wildcard");
    assert_eq!(q("title co \"% _\"").await, set(&["u05", "u17"]));
    assert_eq!(q("title co \"_sure_\"").await, set(&["u05", "u17"]));
    assert_eq!(
        q("externalId eq \"bj-1\"").await,
        set(&[]),
        "externalId is caseExact"
    );
    assert_eq!(q("externalId eq \"BJ-1\"").await, set(&["bj"]));
    assert_eq!(q("id eq \"BJ\"").await, set(&[]), "id is caseExact");
    // emails[type eq "work" and value co "@example.com"]
    let expect = mem_ids(
        &data,
        "emails[type eq \"work\" and value co \"@example.com\"]",
        s,
    );
    assert!(
        expect.contains("bj")
            && expect.contains("u04")
            && expect.contains("u08")
            && !expect.contains("u02")
    );
    assert_eq!(
        q("emails[type eq \"work\" and value co \"@example.com\"]").await,
        expect
    );
    assert_eq!(
        q("emails[type eq \"home\" and value ew \"jensen.org\"]").await,
        set(&["bj"])
    );
    // not (active eq true): inactive users (every third) and none with active missing
    let inactive: BTreeSet<String> = (1..=28)
        .filter(|i| i % 3 == 0)
        .map(|i| format!("u{i:02}"))
        .chain(["odd".to_string()])
        .collect();
    assert_eq!(q("not (active eq true)").await, inactive);
    assert_eq!(q("active eq false").await, inactive);
    assert_eq!(q("active ne true").await, inactive);
    assert_eq!(q("active eq \"False\"").await, inactive);
    // name.familyName sw "J" or title pr
    let got = q("name.familyName sw \"J\" or title pr").await;
    assert_eq!(
        got,
        mem_ids(&data, "name.familyName sw \"J\" or title pr", s)
    );
    assert!(
        got.contains("bj") && got.contains("u02") && got.contains("u05") && !got.contains("u03")
    );
    assert!(
        !q("title pr").await.contains("u13"),
        "title \"\" is not present"
    );
    assert_eq!(q("nickName pr").await, set(&[]));
    assert_eq!(q("locale pr").await, set(&[]));
    assert_eq!(
        q("meta.lastModified gt \"2011-05-13T04:42:34Z\"").await,
        mem_ids(&data, "meta.lastModified gt \"2011-05-13T04:42:34Z\"", s)
    );
    assert!(
        !q("meta.lastModified gt \"2011-05-13T04:42:34Z\"")
            .await
            .contains("bj")
    );
    assert!(
        q("meta.lastModified ge \"2011-05-13T04:42:34Z\"")
            .await
            .contains("bj")
    );
    assert_eq!(
        q(&*format!("{ENT}:department eq \"tour operations\"").leak()).await,
        set(&["bj"])
    );
    assert_eq!(
        q(&*format!("{ENT}:manager.value eq \"u01\"").leak()).await,
        set(&["bj"])
    );
    assert_eq!(
        q(&*format!("{ENT}:department sw \"sales\"").leak()).await,
        mem_ids(&data, &format!("{ENT}:department sw \"sales\""), s)
    );
    assert_eq!(q("emails pr and not (emails.value pr)").await, set(&[]));
    assert_eq!(
        q("not (emails pr)").await,
        set(&["u03", "u10", "u17", "u24", "odd"])
    );
    assert_eq!(
        q("emails.type eq \"work\" and emails.type eq \"home\"").await,
        set(&["bj"])
    );
    assert_eq!(
        q("name[givenName eq \"barbara\" and familyName eq \"JENSEN\"]").await,
        mem_ids(
            &data,
            "name[givenName eq \"barbara\" and familyName eq \"JENSEN\"]",
            s
        )
    );
    assert_eq!(
        q("userName eq \"nobody\" or (userName eq \"bjensen\" and active eq true)").await,
        set(&["bj"])
    );
    let _ = m;
}

#[tokio::test]
async fn group_filters() {
    let data = groups();
    let pool = db(&data, &GROUP_COLUMNS).await;
    let q = |f: &'static str| {
        let pool = pool.clone();
        async move { sql_ids(&pool, f, group_schema(), &GROUP_COLUMNS).await }
    };
    assert_eq!(q("displayName eq \"Sales\"").await, set(&["g1", "g4"]));
    assert_eq!(
        q("displayName sw \"sales\"").await,
        set(&["g1", "g2", "g4"])
    );
    assert_eq!(q("members[value eq \"bj\"]").await, set(&["g1"]));
    assert_eq!(
        q("members[value eq \"BJ\"]").await,
        set(&[]),
        "member ids are caseExact"
    );
    assert_eq!(q("members.value eq \"u02\"").await, set(&["g2"]));
    assert_eq!(q("members pr").await, set(&["g1", "g2"]));
    assert_eq!(q("not (members pr)").await, set(&["g3", "g4"]));
    assert_eq!(q("externalId eq \"okta-00g1\"").await, set(&["g4"]));
    assert!(parse_filter("userName eq \"x\"", group_schema()).is_err());
}

#[test]
fn malformed_or_unsupported_filters_are_errors() {
    for f in [
        "userName eq",
        "foo eq \"x\"",
        "userName xx \"a\"",
        "(userName eq \"a\"",
        "userName eq \"a\")",
        "emails[type eq \"work\"",
        "emails[type eq \"work\"].value eq \"x\"",
        "userName eq bjensen",
        "userName eq \"unterminated",
        "active gt true",
        "active eq \"yes\"",
        "name eq \"x\"",
        "emails eq \"x\"",
        "name.foo eq \"x\"",
        "urn:ietf:params:scim:schemas:extension:other:2.0:User:department eq \"x\"",
        "userName eq 5",
        "not userName eq \"x\"",
        "userName pr and",
        "",
        "userName eq \"a\" userName eq \"b\"",
        "emails[value[type eq \"x\"]]",
        "userName co null",
    ] {
        let e = parse_filter(f, user_schema()).expect_err(f);
        assert!(!e.message.is_empty());
        assert_eq!(e.scim_type(), "invalidFilter");
    }
    let e = parse_filter("foo eq \"x\"", user_schema()).unwrap_err();
    assert!(e.to_string().contains("unknown attribute 'foo'"), "{e}");
    let e = parse_filter("userName xx \"a\"", user_schema()).unwrap_err();
    assert_eq!(e.position, Some(10), "{e}");
    let deep = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
    assert!(parse_filter(&deep, user_schema()).is_err());
}

#[test]
fn binds_carry_every_literal() {
    let f = parse_filter(
        "userName eq \"x' OR 1=1 --\" and title co \"'\"",
        user_schema(),
    )
    .unwrap();
    let (sql, binds) = to_sql(&f, &USER_COLUMNS);
    assert!(!sql.contains("OR 1=1") && !sql.contains("x'"), "{sql}");
    assert_eq!(sql.matches('?').count(), binds.len());
    assert_eq!(binds[0], SqlValue::Text("x' or 1=1 --".into()));
    assert!(
        sql.contains("user_name_lc = ?"),
        "uses the indexed column: {sql}"
    );
}

#[tokio::test]
async fn order_by_sorts_by_indexed_column_json_and_primary_value() {
    let data = users();
    let pool = db(&data, &USER_COLUMNS).await;
    for (attr, expect_first) in [
        ("userName", "bj"),
        ("name.familyName", "odd"),
        ("emails", "odd"),
        ("meta.created", "odd"),
    ] {
        let ob = order_by(attr, user_schema(), &USER_COLUMNS).unwrap();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT scim_id FROM r ORDER BY {ob} ASC, scim_id"
        )))
        .fetch_all(&pool)
        .await
        .unwrap_or_else(|e| panic!("{attr}: {ob}: {e}"));
        assert_eq!(rows[0].get::<String, _>(0), expect_first, "{attr}: {ob}");
    }
    assert_eq!(
        order_by("userName", user_schema(), &USER_COLUMNS).unwrap(),
        "user_name_lc"
    );
    assert!(order_by("name", user_schema(), &USER_COLUMNS).is_err());
    assert!(order_by("emails[type eq \"work\"]", user_schema(), &USER_COLUMNS).is_err());
    assert!(order_by("bogus", user_schema(), &USER_COLUMNS).is_err());
}

/// Tiny deterministic generator (xorshift) of filters over the test data's attributes.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn leaf(&mut self, inside: bool) -> String {
        let (attrs, vals): (&[&str], &[&str]) = if inside {
            (
                &["type", "value", "primary"],
                &[
                    "\"work\"",
                    "\"home\"",
                    "\"user1\"",
                    "\"EXAMPLE.COM\"",
                    "true",
                    "\"x.org\"",
                ],
            )
        } else {
            (
                &[
                    "userName",
                    "name.givenName",
                    "name.familyName",
                    "title",
                    "externalId",
                    "id",
                    "active",
                    "emails.value",
                    "emails.type",
                    "meta.lastModified",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                    "emails",
                    "nickName",
                ],
                &[
                    "\"bjensen\"",
                    "\"J\"",
                    "\"jo\"",
                    "\"Sales\"",
                    "\"2011-05-13T04:42:34Z\"",
                    "\"Ext-10\"",
                    "\"u0\"",
                    "\"EXAMPLE.com\"",
                    "true",
                    "false",
                    "\"\"",
                    "\"%\"",
                    "null",
                    "\"Tour Guide\"",
                    "\"u00\"",
                ],
            )
        };
        let a = self.pick(attrs);
        let op = self.pick(&["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]);
        if op == "pr" {
            return format!("{a} pr");
        }
        format!("{a} {op} {}", self.pick(vals))
    }
    fn filter(&mut self, depth: u32, inside: bool) -> String {
        match if depth == 0 { 0 } else { self.next() % 6 } {
            0 | 1 => self.leaf(inside),
            2 => format!(
                "{} and {}",
                self.filter(depth - 1, inside),
                self.filter(depth - 1, inside)
            ),
            3 => format!(
                "({} or {})",
                self.filter(depth - 1, inside),
                self.filter(depth - 1, inside)
            ),
            4 => format!("not ({})", self.filter(depth - 1, inside)),
            _ if !inside => format!("emails[{}]", self.filter(depth - 1, true)),
            _ => self.leaf(inside),
        }
    }
}

#[tokio::test]
async fn differential_sql_equals_in_memory() {
    let data = users();
    let pool = db(&data, &USER_COLUMNS).await;
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let (mut checked, mut nonempty) = (0, 0);
    while checked < 600 {
        let f = g.filter(3, false);
        // Type errors (e.g. `active co "x"`) are legitimately rejected: skip them.
        if parse_filter(&f, user_schema()).is_err() {
            continue;
        }
        let mem = mem_ids(&data, &f, user_schema());
        let sql = sql_ids(&pool, &f, user_schema(), &USER_COLUMNS).await;
        assert_eq!(sql, mem, "filter: {f}");
        checked += 1;
        nonempty += usize::from(!mem.is_empty() && mem.len() < data.len());
    }
    assert!(nonempty > 150, "generator too weak: {nonempty}");
}
