//! The whole `verify_response` path (decode, parse, structure, signatures, re-parse,
//! SAML checks, replay) against the test IdP trust at the fixture clock, driven by a
//! structure-aware mutator that starts from the valid signed fixtures.
//!
//! Oracle: a mutant may be refused, or accepted with exactly the values of one of the
//! signed fixtures (issuer, assertion ID, NameID, session, times, InResponseTo,
//! attributes). Anything else accepted is a signature bypass and aborts the run.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use sso_gateway_fuzz::{Rng, identity, signed_identities, verify, xmlmut};

fuzz_target!(|data: &[u8]| {
    let known = signed_identities();
    if let Ok(a) = verify(data) {
        let id = identity(&a);
        assert!(
            known.contains(&id),
            "accepted values that no fixture signed: {id}\ninput:\n{}",
            String::from_utf8_lossy(data)
        );
    }
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng::new(u64::from(seed));
    if rng.chance(6) {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    match xmlmut::mutate(&data[..size], &mut rng) {
        Some(out) if out.len() <= max_size => {
            data[..out.len()].copy_from_slice(&out);
            out.len()
        }
        _ => libfuzzer_sys::fuzzer_mutate(data, size, max_size),
    }
});
