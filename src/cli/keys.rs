//! `sso-gateway keys ...`: the SP's signing and encryption keys (generate a next key, make
//! it current, list), and where the master key that seals them comes from.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use clap::Subcommand;
use serde_json::json;

use crate::clock::{Clock, SystemClock};
use crate::keyring::{KeyScope, Keyring, MasterKey};
use crate::saml::keys::{DEFAULT_RSA_BITS, parse_master_key};
use crate::store::{Actor, Db, KeyPurpose};

/// Where the master key comes from (shared by `serve` and `keys`).
#[derive(Debug, Clone, clap::Args)]
pub struct MasterKeyArgs {
    /// File holding the master key (32 bytes, base64 or hex) that seals SP private keys.
    /// Default for an embedded SQLite database: `master.key` next to it, created on first
    /// start. A PostgreSQL deployment must give every instance the same key.
    #[arg(long, value_name = "FILE", env = "SSO_GATEWAY_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Keys per tenant (default) or one set for the whole deployment.
    #[arg(long, default_value = "tenant", value_parser = ["tenant", "deployment"], env = "SSO_GATEWAY_SP_KEY_SCOPE")]
    pub sp_key_scope: String,
}

/// The master key: `--master-key-file`, else `SSO_GATEWAY_MASTER_KEY` (the key itself),
/// else next to a SQLite file (created once), else a random one for an in-memory database.
pub fn load_master_key(args: &MasterKeyArgs, database: &str) -> Result<MasterKey, String> {
    if let Some(p) = &args.master_key_file {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        return parse_master_key(&text)
            .map(MasterKey::new)
            .map_err(|e| format!("{}: {e}", p.display()));
    }
    if let Ok(text) = std::env::var("SSO_GATEWAY_MASTER_KEY") {
        return parse_master_key(&text)
            .map(MasterKey::new)
            .map_err(|e| format!("SSO_GATEWAY_MASTER_KEY: {e}"));
    }
    let file = database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
        .map(|p| p.split('?').next().unwrap_or(p));
    match file {
        Some(f) if !f.is_empty() && !f.contains(":memory:") => {
            let dir = Path::new(f).parent().unwrap_or(Path::new("."));
            let path = dir.join("master.key");
            if !path.exists() {
                let key = MasterKey::random()?;
                write_private(&path, &base64::engine::general_purpose::STANDARD.encode(key.expose()))?;
                if crate::obs::logging::is_json() {
                    // `serve` in JSON mode: every line it writes is JSON.
                    tracing::warn!(path = %path.display(), note = "it seals the SP private keys: back it up with the database", "created a master key");
                } else {
                    eprintln!(
                        "level=warn msg=\"created a master key\" path=\"{}\" note=\"it seals the SP private keys: back it up with the database\"",
                        path.display()
                    );
                }
            }
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            parse_master_key(&text)
                .map(MasterKey::new)
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        Some(_) => MasterKey::random(),
        None => Err(
            "a shared database needs the master key: give every instance the same --master-key-file (docs/operations.md)"
                .into(),
        ),
    }
}

/// Write a secret file readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn keyring(args: &MasterKeyArgs, database: &str) -> Result<Keyring, String> {
    let master = load_master_key(args, database)?;
    let scope = KeyScope::parse(&args.sp_key_scope).unwrap_or(KeyScope::PerTenant);
    Ok(Keyring::new(master, scope, DEFAULT_RSA_BITS))
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database URL (default: the embedded SQLite file).
    #[arg(long, global = true, default_value = super::serve::DEFAULT_DATABASE, env = "SSO_GATEWAY_DATABASE_URL")]
    database: String,
    #[command(flatten)]
    master: MasterKeyArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a key pair. Without --current it becomes the *next* key: published in the
    /// SP metadata (and tried for decryption) before it is used; `keys activate` switches.
    Generate {
        /// The tenant (omit with --sp-key-scope deployment).
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, value_parser = ["signing", "encryption"])]
        purpose: String,
        /// Make it the current key at once (only when there is none).
        #[arg(long)]
        current: bool,
    },
    /// Make the next key current (the current one is retired).
    Activate {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, value_parser = ["signing", "encryption"])]
        purpose: String,
    },
    /// List the current and next keys (certificates only).
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// The SHA-256 fingerprint of a PEM certificate ("?" if unreadable).
pub fn fingerprint_of(pem: &str) -> String {
    openssl::x509::X509::from_pem(pem.as_bytes())
        .ok()
        .and_then(|c| crate::saml::TrustedCertificate::from_x509(&c).ok())
        .map(|c| c.fingerprint().to_string())
        .unwrap_or_else(|| "?".into())
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("sso-gateway keys: {msg}");
    ExitCode::from(2)
}

async fn scope(db: &Db, ring: &Keyring, tenant: Option<&str>) -> Result<Option<i64>, String> {
    match tenant {
        Some(slug) => match db.tenant_by_slug(slug).await {
            Ok(Some(t)) => Ok(ring.scope_of(t.id)),
            Ok(None) => Err(format!("no tenant '{slug}'")),
            Err(e) => Err(e.to_string()),
        },
        None if ring.scope_of(0).is_none() => Ok(None),
        None => Err("keys are per tenant: give --tenant (or --sp-key-scope deployment)".into()),
    }
}

pub fn run(args: Args) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    rt.block_on(async move {
        let db = match super::serve::open_db(&args.database).await {
            Ok(db) => db,
            Err(e) => return fail(e),
        };
        let ring = match keyring(&args.master, &args.database) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let now = SystemClock.now();
        match args.command {
            Command::Generate { tenant, purpose, current } => {
                let scope = match scope(&db, &ring, tenant.as_deref()).await {
                    Ok(s) => s,
                    Err(e) => return fail(e),
                };
                let purpose = KeyPurpose::parse(&purpose).unwrap_or(KeyPurpose::Signing);
                let state = if current { "current" } else { "next" };
                match ring.generate(&db, scope, purpose, state, &Actor::cli(), now).await {
                    Ok(id) => {
                        println!("generated {} key {id} as {state}", purpose.as_str());
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(format!("{e} (is there a {state} {} key already?)", purpose.as_str())),
                }
            }
            Command::Activate { tenant, purpose } => {
                let scope = match scope(&db, &ring, tenant.as_deref()).await {
                    Ok(s) => s,
                    Err(e) => return fail(e),
                };
                let purpose = KeyPurpose::parse(&purpose).unwrap_or(KeyPurpose::Signing);
                match db.activate_next_sp_key(scope, purpose, &Actor::cli(), now).await {
                    Ok(true) => {
                        println!("the next {} key is now current", purpose.as_str());
                        ExitCode::SUCCESS
                    }
                    Ok(false) => fail(format!("there is no next {} key: `keys generate` first", purpose.as_str())),
                    Err(e) => fail(e),
                }
            }
            Command::List { tenant, json: as_json } => {
                let scope = match scope(&db, &ring, tenant.as_deref()).await {
                    Ok(s) => s,
                    Err(e) => return fail(e),
                };
                let rows = match db.sp_keys(scope).await {
                    Ok(r) => r,
                    Err(e) => return fail(e),
                };
                let list: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        let fp = fingerprint_of(&r.certificate_pem);
                        json!({"id": r.id, "purpose": r.purpose, "state": r.state, "sha256": fp, "certificate": r.certificate_pem})
                    })
                    .collect();
                if as_json {
                    println!("{}", json!({"keys": list}));
                } else {
                    for k in &list {
                        println!("{:>5}  {:<10} {:<8} {}", k["id"], k["purpose"].as_str().unwrap_or(""), k["state"].as_str().unwrap_or(""), k["sha256"].as_str().unwrap_or(""));
                    }
                }
                ExitCode::SUCCESS
            }
        }
    })
}
