//! Exclusive C14N over parsed documents: with and without comments, with no PrefixList
//! and with every in-scope prefix (plus `#default`) listed, on the root and on a few
//! descendants, with and without an excluded subtree (the enveloped-signature shape).
//! Every output must parse again and be a fixpoint of the same canonicalisation.
#![no_main]

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use sso_gateway::saml::c14n::{Options, canonicalize};
use sso_gateway::saml::xml::{Limits, NodeKind, parse};
use sso_gateway_fuzz::{Rng, xmlmut};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(doc) = parse(data, &limits) else {
        return;
    };
    let relaxed = Limits {
        max_attributes: 1 << 16,
        max_bytes: 1 << 24,
        ..limits
    };
    let elements: Vec<usize> = doc
        .descendants(doc.root())
        .into_iter()
        .filter(|&n| matches!(doc.kind(n), Some(NodeKind::Element(_))))
        .collect();
    let h = data
        .iter()
        .fold(0usize, |h, &b| h.wrapping_mul(31).wrapping_add(b as usize));
    let mut apexes = vec![doc.root()];
    for k in 0..3 {
        if let Some(&e) = elements.get(h.wrapping_add(k * 7919) % elements.len().max(1)) {
            apexes.push(e);
        }
    }
    for apex in apexes {
        let inner: Vec<usize> = doc
            .descendants(apex)
            .into_iter()
            .filter(|&n| {
                n != apex && matches!(doc.kind(n), Some(NodeKind::Element(_)))
            })
            .collect();
        let mut all: Vec<String> = doc.in_scope_prefixes(apex);
        all.push("#default".to_string());
        for with_comments in [false, true] {
            for prefixes in [&[][..], &all[..]] {
                for exclude in [None, inner.get(h % inner.len().max(1)).copied()] {
                    let opts = Options {
                        with_comments,
                        inclusive_prefixes: prefixes,
                        exclude,
                    };
                    let c = canonicalize(&doc, apex, &opts);
                    let again = parse(c.as_bytes(), &relaxed)
                        .unwrap_or_else(|e| panic!("canonical form refused: {e}\n{c}"));
                    let listed: Vec<String> = if prefixes.is_empty() {
                        Vec::new()
                    } else {
                        let mut p = again.in_scope_prefixes(again.root());
                        p.push("#default".to_string());
                        p
                    };
                    let opts2 = Options {
                        with_comments,
                        inclusive_prefixes: &listed,
                        exclude: None,
                    };
                    assert_eq!(
                        canonicalize(&again, again.root(), &opts2),
                        c,
                        "c14n is not a fixpoint"
                    );
                }
            }
        }
    }
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
