//! The SP's own keys, through the web layer: what `/saml/{t}/login` and `/logout` send is
//! signed so that an IdP accepts it (Redirect signatures checked with `openssl dgst` over
//! the exact query, the POST-binding AuthnRequest and signed metadata with `xmlsec1`); the
//! metadata tells the truth and lists the next key before it is used; an assertion
//! encrypted to the next key signs in; a wrong master key fails closed; `keys` CLI.

use std::process::Command;

use actix_web::http::StatusCode;
use actix_web::test;
use base64::Engine as _;
use sso_gateway::saml::xmlenc::EncryptOptions;
use sso_gateway::saml::{MintOptions, SigningKey, SigningLayout};
use sso_gateway::store::{Actor, KeyPurpose};

use crate::common::{NOW, fixture, scratch_dir, time};
use crate::console_util::{read, service};
use crate::outbound::{openssl_dgst_verifies, split_signed_url};
use crate::web::{JANE, add_tenant, env, outstanding_for, post_acs_body};

/// The certificates of `use` ("signing" or "encryption") in SP metadata, as PEM files.
fn metadata_certs(md: &str, usage: &str, dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for (i, part) in md
        .split(&format!("<md:KeyDescriptor use=\"{usage}\">"))
        .skip(1)
        .enumerate()
    {
        let b64 = part
            .split("<ds:X509Certificate>")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .unwrap();
        let pem = openssl::x509::X509::from_der(&der)
            .unwrap()
            .to_pem()
            .unwrap();
        let f = dir.join(format!("{usage}-{}-{i}.crt", crate::common::scratch_seq()));
        std::fs::write(&f, pem).unwrap();
        out.push(f);
    }
    out
}

fn pubkey_of(cert: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let x = openssl::x509::X509::from_pem(&std::fs::read(cert).unwrap()).unwrap();
    let f = dir.join("pub.pem");
    std::fs::write(&f, x.public_key().unwrap().public_key_to_pem().unwrap()).unwrap();
    f
}

fn xmlsec1_verifies(file: &std::path::Path, cert: &std::path::Path, id_node: &str) -> bool {
    Command::new("xmlsec1")
        .args(["--verify", "--pubkey-cert-pem"])
        .arg(cert)
        .args(["--enabled-key-data", "key-name", "--id-attr:ID", id_node])
        .arg(file)
        .output()
        .unwrap()
        .status
        .success()
}

#[actix_web::test]
async fn requests_logout_and_metadata_are_signed_and_tell_the_truth() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    let svc = service(&e).await;
    let dir = scratch_dir("spkeys");
    let get = |uri: &'static str| test::TestRequest::get().uri(uri).to_request();

    let md = read(test::call_service(&svc, get("/saml/acme/metadata")).await)
        .await
        .text;
    assert!(md.contains("AuthnRequestsSigned=\"true\""), "{md}");
    assert!(md.contains("WantAssertionsSigned=\"false\""), "{md}");
    let signing = metadata_certs(&md, "signing", &dir);
    let encryption = metadata_certs(&md, "encryption", &dir);
    assert_eq!((signing.len(), encryption.len()), (1, 1), "{md}");
    assert_ne!(
        std::fs::read(&signing[0]).unwrap(),
        std::fs::read(&encryption[0]).unwrap(),
        "separate keys"
    );

    // The Redirect AuthnRequest: RSA-SHA256 over the exact query, with our signing key.
    let r = test::call_service(&svc, get("/saml/acme/login?return_to=/")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let url = r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        url.contains(
            "&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature="
        ),
        "{url}"
    );
    let (octets, sig) = split_signed_url(&url, "SAMLRequest", true);
    let key = pubkey_of(&signing[0], &dir);
    assert!(
        openssl_dgst_verifies(&dir, "sha256", &key, &octets, &sig),
        "openssl verifies the AuthnRequest"
    );
    assert!(!openssl_dgst_verifies(
        &dir,
        "sha256",
        &key,
        &octets.replacen("SAMLRequest=", "SAMLRequest=x", 1),
        &sig
    ));

    // The SP-initiated LogoutRequest is signed too (Okta requires it).
    let t = e.db.tenant_by_slug("acme").await.unwrap().unwrap();
    e.db.update_tenant_idp(
        tid,
        &sso_gateway::store::NewTenant {
            slug: t.slug.clone(),
            display_name: t.display_name.clone(),
            idp_entity_id: t.idp_entity_id.clone(),
            idp_sso_url: t.idp_sso_url.clone(),
            idp_slo_url: Some("https://acme.okta.example/app/x/slo/saml".into()),
            allow_idp_initiated: false,
            email_domains: vec![],
            allowed_return_urls: vec![],
            certificates: t.certificates.clone(),
        },
    )
    .await
    .unwrap();
    let u =
        e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
            .await
            .unwrap();
    e.db.create_session(
        &sso_gateway::store::token_hash("sess-raw"),
        &sso_gateway::store::SessionRow {
            tenant_id: tid,
            user_id: u.id,
            name_id: JANE.into(),
            session_index: Some("_s1".into()),
            created_at: time(NOW).timestamp(),
            absolute_expiry_at: time(NOW).timestamp() + 3600,
        },
        time(NOW),
    )
    .await
    .unwrap();
    let r = test::call_service(
        &svc,
        test::TestRequest::get()
            .uri("/logout")
            .cookie(actix_web::cookie::Cookie::new("sso_session", "sess-raw"))
            .to_request(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let url = r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        url.starts_with("https://acme.okta.example/app/x/slo/saml?SAMLRequest="),
        "{url}"
    );
    let (octets, sig) = split_signed_url(&url, "SAMLRequest", false);
    assert!(
        openssl_dgst_verifies(&dir, "sha256", &key, &octets, &sig),
        "openssl verifies the LogoutRequest"
    );

    // POST binding, signed metadata, assertions required signed: all as configured.
    let mut s =
        sso_gateway::store::TenantSettings::of(&e.db.tenant_by_id(tid).await.unwrap().unwrap());
    s.post_binding = true;
    s.sign_metadata = true;
    s.require_signed_assertions = true;
    e.db.update_tenant_settings(
        &e.db.tenant_by_id(tid).await.unwrap().unwrap(),
        &s,
        &Actor::cli(),
        time(NOW),
    )
    .await
    .unwrap();
    let page = read(test::call_service(&svc, get("/saml/acme/login?return_to=/")).await)
        .await
        .text;
    assert!(
        page.contains(
            "action=\"https://acme.okta.example/app/8x8inc/exk1fxtr9ZQ8bW3aK5d7/sso/saml\""
        ),
        "{page}"
    );
    let b64 = page
        .split("name=\"SAMLRequest\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let f = dir.join("authn.xml");
    std::fs::write(&f, &xml).unwrap();
    assert!(
        xmlsec1_verifies(
            &f,
            &signing[0],
            "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest"
        ),
        "xmlsec1 verifies the POST AuthnRequest: {}",
        String::from_utf8_lossy(&xml)
    );
    assert!(
        !xmlsec1_verifies(
            &f,
            &encryption[0],
            "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest"
        ),
        "only with our signing key"
    );
    let md = read(test::call_service(&svc, get("/saml/acme/metadata")).await)
        .await
        .text;
    assert!(
        md.contains("WantAssertionsSigned=\"true\"") && md.contains("<ds:Signature"),
        "{md}"
    );
    let f = dir.join("md.xml");
    std::fs::write(&f, &md).unwrap();
    assert!(
        xmlsec1_verifies(
            &f,
            &signing[0],
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor"
        ),
        "xmlsec1 verifies the signed metadata"
    );
    // Not signing: the metadata says so, and the request carries no signature.
    s.sign_requests = false;
    s.post_binding = false;
    e.db.update_tenant_settings(
        &e.db.tenant_by_id(tid).await.unwrap().unwrap(),
        &s,
        &Actor::cli(),
        time(NOW),
    )
    .await
    .unwrap();
    let r = test::call_service(&svc, get("/saml/acme/login?return_to=/")).await;
    let url = r
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(!url.contains("Signature="), "{url}");
    let md = read(test::call_service(&svc, get("/saml/acme/metadata")).await)
        .await
        .text;
    assert!(md.contains("AuthnRequestsSigned=\"false\""), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn the_next_encryption_key_is_published_first_and_decrypts() {
    let e = env().await;
    let tid = add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    e.db.create_user(tid, JANE, "", &["X2".into()], time(NOW))
        .await
        .unwrap();
    let svc = service(&e).await;
    let get = || {
        test::TestRequest::get()
            .uri("/saml/acme/metadata")
            .to_request()
    };
    let dir = scratch_dir("spkeys-next");
    let _ = read(test::call_service(&svc, get()).await).await;
    // A next encryption key: published before use.
    e.state
        .keys
        .generate(
            &e.db,
            Some(tid),
            KeyPurpose::Encryption,
            "next",
            &Actor::cli(),
            time(NOW),
        )
        .await
        .unwrap();
    let md = read(test::call_service(&svc, get()).await).await.text;
    let enc = metadata_certs(&md, "encryption", &dir);
    assert_eq!(enc.len(), 2, "current and next: {md}");
    // Okta encrypts to the next key (AES-256-GCM, RSA-OAEP): it signs in.
    let idp = SigningKey::from_pem(&fixture("keys/idp.key"), &fixture("keys/idp.crt")).unwrap();
    let mint = |recipient: &std::path::Path| {
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
        o.layout = SigningLayout::Response;
        o.in_response_to = Some(format!("_req{}", &o.assertion_id[3..]));
        let x = openssl::x509::X509::from_pem(&std::fs::read(recipient).unwrap()).unwrap();
        let xml = sso_gateway::saml::mint::mint_encrypted_response(
            &o,
            &idp,
            idp.default_algorithm(),
            &x,
            &EncryptOptions::default(),
        )
        .unwrap();
        (
            base64::engine::general_purpose::STANDARD.encode(xml),
            o.in_response_to.unwrap(),
        )
    };
    for cert in &enc {
        let (body, rid) = mint(cert);
        let (relay, binding) = outstanding_for(&e.db, tid, "/", &rid).await;
        let r = post_acs_body(&svc, "acme", &body, Some(&relay), &[binding]).await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "{cert:?}: {}",
            read(r).await.text
        );
    }
    // Rollover: the next key becomes current, the old one is retired and no longer used.
    assert!(
        e.db.activate_next_sp_key(Some(tid), KeyPurpose::Encryption, &Actor::cli(), time(NOW))
            .await
            .unwrap()
    );
    let md2 = read(test::call_service(&svc, get()).await).await.text;
    let enc2 = metadata_certs(&md2, "encryption", &dir);
    assert_eq!(enc2.len(), 1);
    assert_eq!(
        std::fs::read(&enc2[0]).unwrap(),
        std::fs::read(&enc[1]).unwrap(),
        "the former next key"
    );
    let (body, rid) = mint(&enc[0]);
    let (relay, binding) = outstanding_for(&e.db, tid, "/", &rid).await;
    let r = read(post_acs_body(&svc, "acme", &body, Some(&relay), &[binding]).await).await;
    assert_eq!(
        r.status,
        StatusCode::BAD_REQUEST,
        "encrypted to the retired key: {}",
        r.text
    );
    let ev = e.db.sign_in_events(tid, true, 0, 1).await.unwrap();
    assert_eq!(ev[0].outcome, "decryption_failed");
    let audit: Vec<String> =
        e.db.audit_entries(tid, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect();
    assert!(
        audit.contains(&"sp_key.next".to_string())
            && audit.contains(&"sp_key.activate".to_string()),
        "{audit:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[actix_web::test]
async fn a_wrong_master_key_fails_closed() {
    let mut e = env().await;
    add_tenant(&e.db, "acme", "idp-metadata.xml", false).await;
    {
        let svc = service(&e).await;
        let r = test::call_service(
            &svc,
            test::TestRequest::get()
                .uri("/saml/acme/metadata")
                .to_request(),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    // The same database, another master key: the keys cannot be unsealed.
    e.state.keys = std::sync::Arc::new(sso_gateway::keyring::Keyring::new(
        sso_gateway::keyring::MasterKey::random().unwrap(),
        sso_gateway::keyring::KeyScope::PerTenant,
        2048,
    ));
    let svc = service(&e).await;
    for uri in ["/saml/acme/metadata", "/saml/acme/login"] {
        let r =
            read(test::call_service(&svc, test::TestRequest::get().uri(uri).to_request()).await)
                .await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        assert!(
            r.text.contains("cannot use its keys") && r.text.contains("INC-"),
            "{}",
            r.text
        );
    }
    // An encrypted response needs the keys: 503, nothing decrypted.
    let encrypted = "PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPSJ1cm46b2FzaXM6bmFtZXM6dGM6U0FNTDoyLjA6cHJvdG9jb2wiPjxzYW1sOkVuY3J5cHRlZEFzc2VydGlvbiB4bWxuczpzYW1sPSJ1cm46b2FzaXM6bmFtZXM6dGM6U0FNTDoyLjA6YXNzZXJ0aW9uIi8+PC9zYW1scDpSZXNwb25zZT4=";
    let r = read(post_acs_body(&svc, "acme", encrypted, None, &[]).await).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    // A response without an EncryptedAssertion is verified without reading the keys
    // (the verdict does not depend on them): here it is refused as what it is.
    let r = read(post_acs_body(&svc, "acme", "PHg+", None, &[]).await).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

#[core::prelude::v1::test]
fn the_keys_command_generates_activates_and_lists() {
    let dir = scratch_dir("keys-cli");
    let db = format!("sqlite://{}/k.db", dir.display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sso-gateway"))
            .args(args)
            .current_dir(crate::common::fixtures_dir())
            .output()
            .unwrap()
    };
    let o = run(&[
        "admin",
        "--database",
        &db,
        "tenant",
        "create",
        "acme",
        "--idp-metadata",
        "idp-metadata.xml",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&[
        "keys",
        "--database",
        &db,
        "generate",
        "--tenant",
        "acme",
        "--purpose",
        "signing",
        "--current",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        dir.join("master.key").exists(),
        "created next to the database"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(dir.join("master.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o077, 0, "the master key is private");
    let o = run(&[
        "keys",
        "--database",
        &db,
        "generate",
        "--tenant",
        "acme",
        "--purpose",
        "signing",
        "--current",
    ]);
    assert_eq!(o.status.code(), Some(2), "one current key");
    let o = run(&[
        "keys",
        "--database",
        &db,
        "activate",
        "--tenant",
        "acme",
        "--purpose",
        "signing",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no next signing key"));
    let o = run(&[
        "keys",
        "--database",
        &db,
        "generate",
        "--tenant",
        "acme",
        "--purpose",
        "signing",
    ]);
    assert!(o.status.success());
    let o = run(&[
        "keys",
        "--database",
        &db,
        "list",
        "--tenant",
        "acme",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let states: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["current", "next"]);
    assert!(
        !o.stdout.windows(11).any(|w| w == b"PRIVATE KEY"),
        "no private key printed"
    );
    let o = run(&[
        "keys",
        "--database",
        &db,
        "activate",
        "--tenant",
        "acme",
        "--purpose",
        "signing",
    ]);
    assert!(o.status.success());
    let o = run(&[
        "keys",
        "--database",
        &db,
        "list",
        "--tenant",
        "acme",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["keys"].as_array().unwrap().len(), 1);
    // With another master key, the sealed keys are useless (and the CLI says why).
    let bad = dir.join("other.key");
    std::fs::write(
        &bad,
        base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
    )
    .unwrap();
    let o = run(&[
        "keys",
        "--database",
        &db,
        "--master-key-file",
        bad.to_str().unwrap(),
        "generate",
        "--tenant",
        "acme",
        "--purpose",
        "encryption",
        "--current",
    ]);
    assert!(
        o.status.success(),
        "a new key can be sealed under any master key"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
