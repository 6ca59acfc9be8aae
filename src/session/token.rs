//! Short-lived, one-time app tokens: compact JWS (JWT) signed with ES256 (ECDSA P-256,
//! SHA-256) and the JWKS that verifies them. Written on openssl (see ADR 0006).

use base64::Engine as _;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::json;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported token header")]
    Header,
    #[error("bad signature")]
    Signature,
    #[error("token expired")]
    Expired,
    #[error("token not for this audience")]
    Audience,
    #[error("wrong issuer")]
    Issuer,
    #[error("key error: {0}")]
    Key(String),
}

/// The claims of an app token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub tenant: String,
    pub user_name: String,
    pub name: String,
    pub services: Vec<String>,
}

/// The gateway's token signing key (P-256) with its key id.
pub struct TokenKey {
    key: PKey<Private>,
    kid: String,
}

fn key_err(e: impl std::fmt::Display) -> TokenError {
    TokenError::Key(e.to_string())
}

impl TokenKey {
    /// A fresh P-256 key (tokens live 60 s, so a per-process key is fine on one instance).
    pub fn generate() -> Result<Self, TokenError> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(key_err)?;
        let ec = EcKey::generate(&group).map_err(key_err)?;
        Self::from_pkey(PKey::from_ec_key(ec).map_err(key_err)?)
    }

    /// From a PEM private key (P-256).
    pub fn from_pem(pem: &[u8]) -> Result<Self, TokenError> {
        Self::from_pkey(PKey::private_key_from_pem(pem).map_err(key_err)?)
    }

    fn from_pkey(key: PKey<Private>) -> Result<Self, TokenError> {
        let ec = key.ec_key().map_err(key_err)?;
        if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
            return Err(TokenError::Key("ES256 needs a P-256 key".into()));
        }
        let der = key.public_key_to_der().map_err(key_err)?;
        let kid = B64.encode(openssl::sha::sha256(&der).get(..12).unwrap_or_default());
        Ok(TokenKey { key, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn xy(&self) -> Result<(Vec<u8>, Vec<u8>), TokenError> {
        let ec = self.key.ec_key().map_err(key_err)?;
        let mut ctx = BigNumContext::new().map_err(key_err)?;
        let mut x = BigNum::new().map_err(key_err)?;
        let mut y = BigNum::new().map_err(key_err)?;
        ec.public_key()
            .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
            .map_err(key_err)?;
        Ok((
            x.to_vec_padded(32).map_err(key_err)?,
            y.to_vec_padded(32).map_err(key_err)?,
        ))
    }

    /// The JWKS document publishing this key.
    pub fn jwks(&self) -> Result<serde_json::Value, TokenError> {
        let (x, y) = self.xy()?;
        Ok(
            json!({"keys": [{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
                             "x": B64.encode(x), "y": B64.encode(y)}]}),
        )
    }

    /// Sign claims into a compact JWS.
    pub fn sign(&self, claims: &AppClaims) -> Result<String, TokenError> {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(serde_json::to_vec(claims).map_err(key_err)?)
        );
        let der = Signer::new(MessageDigest::sha256(), &self.key)
            .and_then(|mut s| s.sign_oneshot_to_vec(input.as_bytes()))
            .map_err(key_err)?;
        let sig = EcdsaSig::from_der(&der).map_err(key_err)?;
        let mut raw = sig.r().to_vec_padded(32).map_err(key_err)?;
        raw.extend(sig.s().to_vec_padded(32).map_err(key_err)?);
        Ok(format!("{input}.{}", B64.encode(raw)))
    }

    pub fn public_key(&self) -> Result<PKey<Public>, TokenError> {
        let der = self.key.public_key_to_der().map_err(key_err)?;
        PKey::public_key_from_der(&der).map_err(key_err)
    }
}

/// A public key taken from a JWKS entry (`kty` EC, `crv` P-256).
pub fn key_from_jwk(jwk: &serde_json::Value) -> Result<PKey<Public>, TokenError> {
    let coord = |k: &str| -> Result<BigNum, TokenError> {
        let s = jwk
            .get(k)
            .and_then(|v| v.as_str())
            .ok_or(TokenError::Key(format!("JWK without {k}")))?;
        BigNum::from_slice(&B64.decode(s).map_err(key_err)?).map_err(key_err)
    };
    if jwk.get("kty").and_then(|v| v.as_str()) != Some("EC")
        || jwk.get("crv").and_then(|v| v.as_str()) != Some("P-256")
    {
        return Err(TokenError::Key("only EC P-256 keys".into()));
    }
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(key_err)?;
    let (x, y) = (coord("x")?, coord("y")?);
    let ec = EcKey::from_public_key_affine_coordinates(&group, &x, &y).map_err(key_err)?;
    PKey::from_ec_key(ec).map_err(key_err)
}

/// Verify a compact JWS with ES256 and check audience, issuer and expiry.
pub fn verify(
    token: &str,
    key: &PKey<Public>,
    issuer: &str,
    audience: &str,
    now: i64,
) -> Result<AppClaims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(h).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
    if header.get("alg").and_then(|v| v.as_str()) != Some("ES256") || header.get("crit").is_some() {
        return Err(TokenError::Header);
    }
    let raw = B64.decode(s).map_err(|_| TokenError::Malformed)?;
    if raw.len() != 64 {
        return Err(TokenError::Signature);
    }
    let (r, sv) = raw.split_at(32);
    let der = BigNum::from_slice(r)
        .and_then(|r| BigNum::from_slice(sv).map(|s| (r, s)))
        .and_then(|(r, s)| EcdsaSig::from_private_components(r, s))
        .and_then(|sig| sig.to_der())
        .map_err(|_| TokenError::Signature)?;
    let input_len = h.len() + 1 + p.len();
    let input = token.get(..input_len).ok_or(TokenError::Malformed)?;
    let ok = Verifier::new(MessageDigest::sha256(), key)
        .and_then(|mut v| v.verify_oneshot(&der, input.as_bytes()))
        .unwrap_or(false);
    if !ok {
        return Err(TokenError::Signature);
    }
    let claims: AppClaims =
        serde_json::from_slice(&B64.decode(p).map_err(|_| TokenError::Malformed)?)
            .map_err(|_| TokenError::Malformed)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    if claims.aud != audience {
        return Err(TokenError::Audience);
    }
    if claims.iss != issuer {
        return Err(TokenError::Issuer);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> AppClaims {
        AppClaims {
            iss: "https://gw".into(),
            sub: "1".into(),
            aud: "work".into(),
            iat: 100,
            exp,
            jti: "j".into(),
            tenant: "acme".into(),
            user_name: "alice@example.com".into(),
            name: "Alice".into(),
            services: vec!["work".into()],
        }
    }

    #[test]
    fn sign_verify_through_jwks() {
        let k = TokenKey::generate().unwrap();
        let t = k.sign(&claims(160)).unwrap();
        let jwks = k.jwks().unwrap();
        let pk = key_from_jwk(&jwks["keys"][0]).unwrap();
        assert_eq!(
            verify(&t, &pk, "https://gw", "work", 120).unwrap(),
            claims(160)
        );
        assert_eq!(
            verify(&t, &pk, "https://gw", "work", 160).unwrap_err(),
            TokenError::Expired
        );
        assert_eq!(
            verify(&t, &pk, "https://gw", "contact-center", 120).unwrap_err(),
            TokenError::Audience
        );
        let other = TokenKey::generate().unwrap().public_key().unwrap();
        assert_eq!(
            verify(&t, &other, "https://gw", "work", 120).unwrap_err(),
            TokenError::Signature
        );
        let mut bad = t.clone();
        bad.insert(bad.len() - 5, 'A');
        assert!(verify(&bad, &pk, "https://gw", "work", 120).is_err());
    }
}
