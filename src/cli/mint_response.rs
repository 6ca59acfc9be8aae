//! `sso-gateway mint-response`: sign Okta-shaped SAML Responses with a test IdP key,
//! for tests, demos and load generation against the gateway.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};

use crate::clock::{Clock, SystemClock};
use crate::saml::algorithms::{KeyKind, SignatureAlgorithm};
use crate::saml::mint::{self, MintOptions, SigningLayout};
use crate::saml::sign::SigningKey;
use crate::saml::xmlenc::{BlockCipher, EncryptOptions, KeyPlacement, KeyTransport};

/// The signing layouts, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Layout {
    /// Only the Response is signed.
    Response,
    /// Only the Assertion is signed (Okta's default).
    Assertion,
    /// The Assertion, then the Response over it.
    Both,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Builds a Response shaped like Okta's (saml2p/saml2 prefixes, entity Issuer, bearer Subject,
Conditions NotBefore = now - 5 min and NotOnOrAfter = now + validity, AudienceRestriction,
AuthnStatement PasswordProtectedTransport, attributes as xs:string) and signs it with
enveloped XML-DSig (exc-c14n, PrefixList=\"xs\", certificate in KeyInfo).

Response and Assertion IDs and the SessionIndex are random (Okta style: 'id' + digits),
fresh for every response.

Output: one response as XML on stdout; with --base64, each response as one line of
base64 (the SAMLResponse form value); with --out-dir, files DIR/response-000001.xml
(or .b64 with --base64). --count above 1 needs --base64 or --out-dir.

Example (the test fixtures' IdP):
  sso-gateway mint-response --key tests/fixtures/keys/idp.key --cert tests/fixtures/keys/idp.crt \\
    --issuer http://www.okta.com/exk1fxtr9ZQ8bW3aK5d7 \\
    --audience https://sso.example.test/saml/acme/metadata \\
    --acs-url https://sso.example.test/saml/acme/acs \\
    --name-id jane.doe@acme.example --attribute groups=Sales --attribute groups=Support

With --encrypt-to SP.crt the Assertion is encrypted to that SP certificate, as Okta does:
--layout assertion signs the Assertion and then encrypts it (Response unsigned); response
encrypts the unsigned Assertion and signs the Response over the EncryptedAssertion; both
does both. Defaults are Okta's: aes256-cbc, rsa-oaep-mgf1p (SHA-1), the EncryptedKey as a
sibling named by RetrievalMethod.

These are test keys and test assertions: never give this command a production IdP key.

Exit status: 0 success, 2 usage, key or I/O error.")]
pub struct Args {
    /// The IdP's private key (PEM, RSA or EC).
    #[arg(long, value_name = "KEY.pem")]
    key: PathBuf,
    /// The certificate of that key (PEM); embedded in KeyInfo.
    #[arg(long, value_name = "CERT.pem")]
    cert: PathBuf,
    /// The IdP entity ID (Response and Assertion Issuer).
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// The SP entity ID (the Audience).
    #[arg(long, value_name = "URL")]
    audience: String,
    /// The SP's ACS URL (Destination and Recipient).
    #[arg(long, value_name = "URL")]
    acs_url: String,
    /// The user's NameID value.
    #[arg(long, value_name = "VALUE")]
    name_id: String,
    /// The NameID Format.
    #[arg(long, value_name = "URI", default_value = mint::NAMEID_UNSPECIFIED)]
    name_id_format: String,
    /// An attribute value as NAME=VALUE (repeatable; repeating a NAME adds values).
    #[arg(long = "attribute", value_name = "NAME=VALUE", value_parser = parse_attribute)]
    attributes: Vec<(String, String)>,
    /// The AuthnRequest ID answered (omitted: an IdP-initiated, unsolicited response).
    #[arg(long, value_name = "ID")]
    in_response_to: Option<String>,
    /// The issue instant (RFC 3339) instead of the current time.
    #[arg(long, value_name = "RFC3339", value_parser = parse_now)]
    now: Option<DateTime<Utc>>,
    /// Seconds after the issue instant until the assertion expires (NotOnOrAfter).
    #[arg(long, value_name = "SECONDS", default_value_t = mint::DEFAULT_VALIDITY_SECONDS,
          value_parser = clap::value_parser!(i64).range(1..=31_536_000))]
    validity: i64,
    /// Hours until the IdP session ends (SessionNotOnOrAfter); 0 omits it.
    #[arg(long, value_name = "H", default_value_t = 8,
          value_parser = clap::value_parser!(i64).range(0..=8760))]
    session_hours: i64,
    /// Which elements to sign.
    #[arg(long, value_enum, default_value_t = Layout::Both)]
    layout: Layout,
    /// Signature algorithm: rsa-sha256|rsa-sha384|rsa-sha512|ecdsa-sha256|ecdsa-sha384|ecdsa-sha512
    /// [default: rsa-sha256, or ecdsa-sha256 for an EC key].
    #[arg(long, value_name = "ALG", value_parser = parse_algorithm)]
    algorithm: Option<SignatureAlgorithm>,
    /// Print base64 (the SAMLResponse form value), one response per line.
    #[arg(long)]
    base64: bool,
    /// How many responses to mint, each with fresh IDs.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    count: u32,
    /// Write DIR/response-000001.xml, ... instead of printing (created if missing).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// Encrypt the Assertion to this SP certificate (PEM, RSA): an EncryptedAssertion.
    #[arg(long, value_name = "CERT.pem")]
    encrypt_to: Option<PathBuf>,
    /// Block cipher: aes128-cbc|aes192-cbc|aes256-cbc|aes128-gcm|aes192-gcm|aes256-gcm.
    #[arg(long, value_name = "CIPHER", default_value = "aes256-cbc", value_parser = parse_cipher,
          requires = "encrypt_to")]
    block_cipher: BlockCipher,
    /// Key transport: rsa-oaep-mgf1p[:DIGEST] or rsa-oaep[:DIGEST[:MGF1-HASH]], hashes
    /// sha1|sha224|sha256|sha384|sha512 (default sha1).
    #[arg(long, value_name = "ALG", default_value = "rsa-oaep-mgf1p", value_parser = parse_transport,
          requires = "encrypt_to")]
    key_transport: KeyTransport,
    /// Put the EncryptedKey inside EncryptedData/KeyInfo instead of Okta's sibling +
    /// RetrievalMethod.
    #[arg(long, requires = "encrypt_to")]
    key_in_keyinfo: bool,
}

fn parse_cipher(s: &str) -> Result<BlockCipher, String> {
    BlockCipher::from_name(&s.to_ascii_lowercase()).ok_or_else(|| {
        format!("unknown block cipher '{s}' (aes128-cbc, aes192-cbc, aes256-cbc, aes128-gcm, aes192-gcm, aes256-gcm)")
    })
}

fn parse_transport(s: &str) -> Result<KeyTransport, String> {
    KeyTransport::from_spec(&s.to_ascii_lowercase()).ok_or_else(|| {
        format!(
            "unknown key transport '{s}' (rsa-oaep-mgf1p[:DIGEST] or rsa-oaep[:DIGEST[:MGF1-HASH]])"
        )
    })
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 timestamp ({e}), e.g. 2026-06-01T12:00:00Z"))
}

fn parse_attribute(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err("expected NAME=VALUE with a non-empty NAME".to_string()),
    }
}

fn parse_algorithm(s: &str) -> Result<SignatureAlgorithm, String> {
    const NAMES: &str =
        "rsa-sha256, rsa-sha384, rsa-sha512, ecdsa-sha256, ecdsa-sha384, ecdsa-sha512";
    match SignatureAlgorithm::from_name(&s.to_ascii_lowercase()) {
        Some(a) if !a.name().ends_with("sha1") => Ok(a),
        _ => Err(format!("unknown algorithm '{s}' (one of: {NAMES})")),
    }
}

/// Attributes in first-appearance order, repeated names merged into one multi-valued
/// attribute.
fn group_attributes(pairs: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in pairs {
        match out.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => values.push(value.clone()),
            None => out.push((name.clone(), vec![value.clone()])),
        }
    }
    out
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut buf = [0u8; N];
    openssl::rand::rand_bytes(&mut buf).map_err(|e| format!("random: {e}"))?;
    Ok(buf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn run_inner(args: Args) -> Result<(), String> {
    if args.count > 1 && !args.base64 && args.out_dir.is_none() {
        return Err("--count above 1 needs --base64 (one line each) or --out-dir".into());
    }
    let key = SigningKey::from_pem(&read(&args.key)?, &read(&args.cert)?)
        .map_err(|e| format!("{} / {}: {e}", args.key.display(), args.cert.display()))?;
    let alg = args.algorithm.unwrap_or_else(|| key.default_algorithm());
    if alg.key != key.kind() {
        let kind = match key.kind() {
            KeyKind::Rsa => "RSA",
            KeyKind::Ecdsa => "EC",
        };
        return Err(format!(
            "--algorithm {} does not fit the {kind} key",
            alg.name()
        ));
    }
    let now = args.now.unwrap_or_else(|| SystemClock.now());
    let mut opts = MintOptions::new(args.issuer, args.audience, args.acs_url, args.name_id, now);
    opts.name_id_format = args.name_id_format;
    opts.attributes = group_attributes(&args.attributes);
    opts.in_response_to = args.in_response_to;
    opts.validity = Duration::seconds(args.validity);
    opts.session_not_on_or_after = (args.session_hours > 0)
        .then(|| now.checked_add_signed(Duration::hours(args.session_hours)))
        .flatten();
    opts.layout = match args.layout {
        Layout::Response => SigningLayout::Response,
        Layout::Assertion => SigningLayout::Assertion,
        Layout::Both => SigningLayout::Both,
    };
    let encryption = match &args.encrypt_to {
        Some(path) => Some((
            openssl::x509::X509::from_pem(&read(path)?)
                .map_err(|e| format!("{}: not a PEM certificate: {e}", path.display()))?,
            EncryptOptions {
                cipher: args.block_cipher,
                transport: args.key_transport,
                placement: if args.key_in_keyinfo {
                    KeyPlacement::KeyInfo
                } else {
                    KeyPlacement::RetrievalMethod
                },
                ..EncryptOptions::default()
            },
        )),
        None => None,
    };
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut used = std::collections::HashSet::new();
    let b64 = &base64::engine::general_purpose::STANDARD;
    for i in 1..=args.count {
        // Fresh, distinct IDs for every response (retry on the astronomically rare clash).
        loop {
            opts.response_id = mint::okta_id(random()?);
            opts.assertion_id = mint::okta_id(random()?);
            opts.session_index = mint::okta_session_index(now, random()?);
            if opts.response_id != opts.assertion_id
                && !used.contains(&opts.response_id)
                && !used.contains(&opts.assertion_id)
                && !used.contains(&opts.session_index)
            {
                break;
            }
        }
        used.insert(opts.response_id.clone());
        used.insert(opts.assertion_id.clone());
        used.insert(opts.session_index.clone());

        let xml = match &encryption {
            Some((cert, enc)) => {
                let mut enc = enc.clone();
                enc.data_id = format!("_{}", hex(&random::<16>()?));
                enc.key_id = format!("_{}", hex(&random::<16>()?));
                mint::mint_encrypted_response(&opts, &key, alg, cert, &enc)
            }
            None => mint::mint_response(&opts, &key, alg),
        }
        .map_err(|e| e.to_string())?;
        let body = if args.base64 {
            b64.encode(xml.as_bytes())
        } else {
            xml
        };
        match &args.out_dir {
            Some(dir) => {
                let ext = if args.base64 { "b64" } else { "xml" };
                let path = dir.join(format!("response-{i:06}.{ext}"));
                std::fs::write(&path, format!("{body}\n"))
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            None => writeln!(out, "{body}").map_err(|e| format!("stdout: {e}"))?,
        }
    }
    out.flush().map_err(|e| format!("stdout: {e}"))
}

pub fn run(args: Args) -> ExitCode {
    match run_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("sso-gateway mint-response: {msg}");
            ExitCode::from(2)
        }
    }
}
