//! Single-byte mutations of signed responses: each mutant is refused, or, where the
//! byte was outside what the signatures cover (KeyInfo, whitespace between
//! elements), yields exactly the signed values. Never a different identity.

use crate::common::{fixture, verify};

fn mutate_all(file: &str, step: usize) {
    let original = fixture(file);
    let good = verify(&original).unwrap();
    let mut accepted = 0;
    let mut refused = 0;
    for i in (0..original.len()).step_by(step) {
        for replacement in [b'A', b'"', b'<', b' '] {
            if original[i] == replacement {
                continue;
            }
            let mut m = original.clone();
            m[i] = replacement;
            match verify(&m) {
                Ok(a) => {
                    accepted += 1;
                    let same = a.name_id() == good.name_id()
                        && a.name_id_format() == good.name_id_format()
                        && a.issuer() == good.issuer()
                        && a.assertion_id() == good.assertion_id()
                        && a.attributes() == good.attributes()
                        && a.in_response_to() == good.in_response_to()
                        && a.session_index() == good.session_index()
                        && a.not_on_or_after() == good.not_on_or_after()
                        && a.session_not_on_or_after() == good.session_not_on_or_after();
                    assert!(
                        same,
                        "{file}: byte {i} -> {:?} changed the verified values: {a:?}",
                        replacement as char
                    );
                }
                Err(_) => refused += 1,
            }
        }
    }
    eprintln!("{file}: {refused} mutants refused, {accepted} accepted with identical values");
    assert!(refused > accepted, "most mutations must be refused");
}

#[test]
fn response_signed_mutants() {
    mutate_all("responses/okta-response-signed.xml", 5);
}

#[test]
fn assertion_signed_mutants() {
    mutate_all("responses/okta-assertion-signed.xml", 5);
}

#[test]
fn both_signed_mutants() {
    mutate_all("responses/okta-both-signed.xml", 7);
}
