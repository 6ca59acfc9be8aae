//! The hardened XML parser on arbitrary bytes. Besides "never panics", every document
//! it accepts must canonicalise to bytes that it accepts again, and canonicalisation
//! must be a fixpoint (c14n(parse(c14n(x))) == c14n(x)).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sso_gateway::saml::c14n::{Options, canonicalize_document};
use sso_gateway::saml::xml::{Limits, parse};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(doc) = parse(data, &limits) else {
        return;
    };
    for with_comments in [false, true] {
        let opts = Options {
            with_comments,
            ..Options::default()
        };
        let c = canonicalize_document(&doc, &opts);
        // Exclusive c14n may add declarations to an element: relax the attribute limit.
        let relaxed = Limits {
            max_attributes: 1 << 16,
            max_bytes: 1 << 24,
            ..limits
        };
        let again = parse(c.as_bytes(), &relaxed)
            .unwrap_or_else(|e| panic!("canonical form refused: {e}\n{c}"));
        assert_eq!(
            canonicalize_document(&again, &opts),
            c,
            "c14n is not a fixpoint"
        );
    }
});
