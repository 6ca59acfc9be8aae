//! IdP metadata parsing (`IdpMetadata::parse`: hardened parse, then samael's model),
//! the trust it yields and the validation report. Accepted metadata always carries at
//! least one signing certificate.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use sso_gateway::saml::IdpMetadata;
use sso_gateway_fuzz::{Rng, xmlmut};

fuzz_target!(|data: &[u8]| {
    let Ok(md) = IdpMetadata::parse(data) else {
        return;
    };
    assert!(
        !md.signing_certificates.is_empty(),
        "metadata without a signing key accepted"
    );
    if let Ok(t) = md.trust() {
        assert!(!t.certificates().is_empty());
    }
    let _ = md.report(1_780_000_000);
});

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng::new(u64::from(seed));
    if rng.chance(3) {
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
