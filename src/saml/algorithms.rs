//! The algorithm identifiers the verifier understands, and nothing else.

use openssl::hash::MessageDigest;

use super::error::SamlError;

pub const NS_DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
pub const ENVELOPED_SIGNATURE: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Digest {
    pub fn from_uri(uri: &str) -> Result<Self, SamlError> {
        Ok(match uri {
            "http://www.w3.org/2000/09/xmldsig#sha1" => Digest::Sha1,
            "http://www.w3.org/2001/04/xmlenc#sha256" => Digest::Sha256,
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Digest::Sha384,
            "http://www.w3.org/2001/04/xmlenc#sha512" => Digest::Sha512,
            other => return Err(SamlError::AlgorithmUnsupported(format!("digest {other}"))),
        })
    }

    /// The XML-DSig `DigestMethod` URI (the inverse of [`Digest::from_uri`]).
    pub fn uri(self) -> &'static str {
        match self {
            Digest::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            Digest::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            Digest::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            Digest::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    /// The hash of `data` (OpenSSL's one-shot functions: no provider lookup per call).
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Digest::Sha1 => openssl::sha::sha1(data).to_vec(),
            Digest::Sha256 => openssl::sha::sha256(data).to_vec(),
            Digest::Sha384 => openssl::sha::sha384(data).to_vec(),
            Digest::Sha512 => openssl::sha::sha512(data).to_vec(),
        }
    }

    pub fn md(self) -> &'static openssl::md::MdRef {
        match self {
            Digest::Sha1 => openssl::md::Md::sha1(),
            Digest::Sha256 => openssl::md::Md::sha256(),
            Digest::Sha384 => openssl::md::Md::sha384(),
            Digest::Sha512 => openssl::md::Md::sha512(),
        }
    }

    pub fn message_digest(self) -> MessageDigest {
        match self {
            Digest::Sha1 => MessageDigest::sha1(),
            Digest::Sha256 => MessageDigest::sha256(),
            Digest::Sha384 => MessageDigest::sha384(),
            Digest::Sha512 => MessageDigest::sha512(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Digest::Sha1 => "sha1",
            Digest::Sha256 => "sha256",
            Digest::Sha384 => "sha384",
            Digest::Sha512 => "sha512",
        }
    }
}

/// The key family of a signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ecdsa,
}

/// A signature algorithm: key family plus digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureAlgorithm {
    pub key: KeyKind,
    pub digest: Digest,
}

impl SignatureAlgorithm {
    pub fn from_uri(uri: &str) -> Result<Self, SamlError> {
        let (key, digest) = match uri {
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => (KeyKind::Rsa, Digest::Sha1),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => (KeyKind::Rsa, Digest::Sha256),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => (KeyKind::Rsa, Digest::Sha384),
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => (KeyKind::Rsa, Digest::Sha512),
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1" => (KeyKind::Ecdsa, Digest::Sha1),
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => {
                (KeyKind::Ecdsa, Digest::Sha256)
            }
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => {
                (KeyKind::Ecdsa, Digest::Sha384)
            }
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512" => {
                (KeyKind::Ecdsa, Digest::Sha512)
            }
            other => {
                return Err(SamlError::AlgorithmUnsupported(format!(
                    "signature {other}"
                )));
            }
        };
        Ok(SignatureAlgorithm { key, digest })
    }

    /// The XML-DSig `SignatureMethod` URI (the inverse of [`SignatureAlgorithm::from_uri`]).
    pub fn uri(self) -> &'static str {
        match (self.key, self.digest) {
            (KeyKind::Rsa, Digest::Sha1) => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            (KeyKind::Rsa, Digest::Sha256) => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            (KeyKind::Rsa, Digest::Sha384) => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            (KeyKind::Rsa, Digest::Sha512) => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            (KeyKind::Ecdsa, Digest::Sha1) => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
            (KeyKind::Ecdsa, Digest::Sha256) => {
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
            }
            (KeyKind::Ecdsa, Digest::Sha384) => {
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
            }
            (KeyKind::Ecdsa, Digest::Sha512) => {
                "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
            }
        }
    }

    /// Parse a name as printed by [`SignatureAlgorithm::name`] (`rsa-sha256`, `ecdsa-sha384`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        let (k, d) = name.split_once('-')?;
        let key = match k {
            "rsa" => KeyKind::Rsa,
            "ecdsa" => KeyKind::Ecdsa,
            _ => return None,
        };
        let digest = match d {
            "sha1" => Digest::Sha1,
            "sha256" => Digest::Sha256,
            "sha384" => Digest::Sha384,
            "sha512" => Digest::Sha512,
            _ => return None,
        };
        Some(SignatureAlgorithm { key, digest })
    }

    pub fn name(self) -> String {
        let k = match self.key {
            KeyKind::Rsa => "rsa",
            KeyKind::Ecdsa => "ecdsa",
        };
        format!("{k}-{}", self.digest.name())
    }
}

/// Which exclusive canonicalization variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canonicalization {
    Exclusive,
    ExclusiveWithComments,
}

impl Canonicalization {
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            EXC_C14N => Some(Canonicalization::Exclusive),
            EXC_C14N_WITH_COMMENTS => Some(Canonicalization::ExclusiveWithComments),
            _ => None,
        }
    }

    pub fn with_comments(self) -> bool {
        self == Canonicalization::ExclusiveWithComments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_names_round_trip() {
        for key in [KeyKind::Rsa, KeyKind::Ecdsa] {
            for digest in [Digest::Sha1, Digest::Sha256, Digest::Sha384, Digest::Sha512] {
                let alg = SignatureAlgorithm { key, digest };
                assert_eq!(SignatureAlgorithm::from_uri(alg.uri()).unwrap(), alg);
                assert_eq!(SignatureAlgorithm::from_name(&alg.name()), Some(alg));
                assert_eq!(Digest::from_uri(digest.uri()).unwrap(), digest);
            }
        }
        assert_eq!(SignatureAlgorithm::from_name("hmac-sha256"), None);
    }
}
