//! `scim::filter`: grammar, precedence, resolution, PATCH paths, the evaluator; and the
//! purity of `src/scim`.

use serde_json::json;
use sso_gateway::scim::filter::{
    CompValue, CompareOp, Filter, PatchPath, matches, parse_filter, parse_path,
};
use sso_gateway::scim::{group_schema, user_schema};

fn p(s: &str) -> Filter {
    parse_filter(s, user_schema()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn precedence_not_and_or() {
    // a or b and c  ==  a or (b and c)
    let f = p("title pr or userName pr and active eq true");
    let Filter::Or(_, r) = f else { panic!("{f:?}") };
    assert!(matches!(*r, Filter::And(..)));
    // not binds tighter than and
    let f = p("not (title pr) and userName pr");
    let Filter::And(l, _) = f else {
        panic!("{f:?}")
    };
    assert!(matches!(*l, Filter::Not(_)));
    // parentheses override
    let f = p("(title pr or userName pr) and active eq true");
    assert!(matches!(f, Filter::And(..)));
    assert_eq!(p("not(title pr)"), p("NOT (title PR)"));
    assert_eq!(p("title pr AND userName pr"), p("title pr and userName pr"));
}

#[test]
fn literals_and_normalisation() {
    let Filter::Compare(path, op, v) = p("userName eq \"a\\\"b\\u00e9\\n\"") else {
        panic!()
    };
    assert_eq!(
        (path.attr.name, op, v),
        ("userName", CompareOp::Eq, CompValue::Str("a\"bé\n".into()))
    );
    assert!(matches!(
        p("active eq TRUE"),
        Filter::Compare(_, _, CompValue::Bool(true))
    ));
    assert!(matches!(
        p("active eq \"False\""),
        Filter::Compare(_, _, CompValue::Bool(false))
    ));
    assert!(matches!(p("userName ne \"x\""), Filter::Not(_)));
    assert!(matches!(p("title eq null"), Filter::Not(f) if matches!(*f, Filter::Present(_))));
    assert!(matches!(p("title ne null"), Filter::Present(_)));
    let f = p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m\"");
    let Filter::Compare(path, ..) = f else {
        panic!()
    };
    assert_eq!(
        path.to_string(),
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
    );
    assert!(
        parse_filter(
            "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
            group_schema()
        )
        .is_ok()
    );
    assert!(
        parse_filter(
            "members[value eq \"x\" and type eq \"User\"]",
            group_schema()
        )
        .is_ok()
    );
    assert!(parse_filter("x509Certificates.value pr", user_schema()).is_ok());
}

#[test]
fn patch_paths() {
    let s = user_schema();
    assert!(
        matches!(parse_path("name.familyName", s), Ok(PatchPath::Attr(a)) if a.sub.unwrap().name == "familyName")
    );
    assert!(matches!(
        parse_path("MEMBERS[value eq \"abc\"]", group_schema()),
        Ok(PatchPath::Filtered { sub: None, .. })
    ));
    match parse_path("emails[type eq \"work\"].value", s).unwrap() {
        PatchPath::Filtered { path, filter, sub } => {
            assert_eq!(path.attr.name, "emails");
            assert_eq!(sub.unwrap().name, "value");
            assert!(matches(&filter, &json!({"type": "WORK"}), s));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        parse_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            s
        ),
        Ok(PatchPath::Extension(_))
    ));
    assert!(
        matches!(parse_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", s), Ok(PatchPath::Attr(a)) if a.extension.is_some())
    );
    for bad in [
        "emails[type eq \"work\"].nope",
        "emails[type eq \"work\"]]",
        "emails[type eq \"work\"] x",
        "nope",
        "title[value eq \"x\"]",
        "emails.value.x",
        "",
    ] {
        assert!(parse_path(bad, s).is_err(), "{bad}");
    }
}

#[test]
fn evaluator_semantics() {
    let s = user_schema();
    let u = json!({"userName": "BJensen", "externalId": "Ext", "title": "", "active": false,
        "emails": [{"value": "a@Example.com", "type": "work"}, {"value": "b@x.org", "type": "home"}],
        "meta": {"lastModified": "2011-05-13T04:42:34Z"}});
    let yes = |f: &str| assert!(matches(&p(f), &u, s), "{f}");
    let no = |f: &str| assert!(!matches(&p(f), &u, s), "{f}");
    yes("userName eq \"bjensen\"");
    no("externalId eq \"ext\"");
    yes("emails.value co \"example.COM\"");
    yes("emails[type eq \"home\" and value ew \".org\"]");
    no("emails[type eq \"home\" and value co \"example\"]");
    no("title pr");
    yes("not (title pr)");
    yes("active eq false");
    no("nickName eq \"x\"");
    yes("nickName ne \"x\"");
    yes("meta.lastModified ge \"2011-05-13T04:42:34Z\"");
    no("meta.lastModified gt \"2011-05-13T04:42:34Z\"");
    yes("userName gt \"b\" and userName lt \"c\"");
    yes("emails pr");
}

/// `src/scim` is pure like `src/saml`: no I/O, clock, database or other crate layers.
#[test]
fn scim_core_is_pure() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/scim");
    let forbidden = [
        "crate::",
        "Utc::now",
        "SystemTime",
        "Instant::now",
        "std::fs",
        "std::net",
        "std::env",
        "tokio",
        "actix",
        "sqlx",
        "std::thread",
    ];
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        n += 1;
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for pat in forbidden {
                assert!(!code.contains(pat), "{}:{}: {pat}", path.display(), i + 1);
            }
        }
        assert!(
            text.lines().count() <= 650,
            "{} is too long",
            path.display()
        );
    }
    assert!(n >= 6);
}
