//! HTTP-Redirect decoding (`binding::decode_redirect`: query splitting, percent-decoding,
//! base64, DEFLATE with a size limit). First byte even: the rest is a raw query string.
//! Odd: the rest is a message that is deflated, encoded and put in a query with a
//! RelayState and a signature, and must come back byte for byte (or be refused as too
//! large). Output is never larger than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sso_gateway::saml::binding::{decode_redirect, deflate_base64};

const LIMIT: usize = 64 * 1024;

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let q = String::from_utf8_lossy(rest);
        if let Ok(m) = decode_redirect(&q, LIMIT) {
            assert!(m.xml.len() <= LIMIT);
        }
        return;
    }
    let Ok(msg) = std::str::from_utf8(rest) else {
        return;
    };
    let b64 = deflate_base64(msg).expect("deflate of a string");
    let q = format!(
        "SAMLRequest={}&RelayState={}&SigAlg={}&Signature={}",
        urlencode(&b64),
        urlencode(msg.get(..msg.len().min(40)).unwrap_or("")),
        urlencode("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"),
        urlencode("AAAA")
    );
    match decode_redirect(&q, LIMIT) {
        Ok(m) => {
            assert_eq!(m.xml, msg.as_bytes(), "redirect round trip");
            assert_eq!(m.param, "SAMLRequest");
        }
        Err(e) => assert!(
            msg.len() > LIMIT,
            "refused a valid message of {} bytes: {e}",
            msg.len()
        ),
    }
});
