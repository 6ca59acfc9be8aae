//! The configuration of `serve`: one TOML file, then `SSO_GATEWAY_*` environment variables,
//! then command-line flags, each overriding the one before (ADR 0014).
//!
//! - Unknown keys in the file are refused with their name, and so are unknown
//!   `SSO_GATEWAY_*` variables (a typo must not silently leave a default in place).
//! - Secrets can come from files (`database.url_file`, `keys.master_key_file`,
//!   `keys.token_key_file`), so they need not sit in the file or the environment; the
//!   database URL is a `Secret` (redacted in `Debug`).
//! - `config/sso-gateway.example.toml` lists every key with its default; a test holds the
//!   two together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::obs::logging::LogFormat;
use crate::secret::Secret;
use crate::web::edge::RateSettings;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE: &str = "sqlite://data/sso-gateway.db";

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: Server,
    pub database: Database,
    pub keys: Keys,
    pub scim: Scim,
    pub rate_limits: RateSettings,
    pub log: Log,
    pub metrics: Metrics,
    /// Where each app is launched: app id = URL (default: the demo app page).
    pub apps: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Address to listen on.
    pub listen: String,
    /// The externally visible base URL (default: `http://LISTEN`, or `https://` with TLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Serve https: a PEM certificate chain and its PEM private key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
    /// Allow IdP metadata URLs over plain http (development only).
    pub insecure_http_metadata: bool,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: DEFAULT_LISTEN.into(),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            insecure_http_metadata: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// `sqlite://FILE` (embedded) or `postgres://...`.
    #[serde(serialize_with = "expose")]
    pub url: Secret<String>,
    /// Read the URL from this file instead (it holds the password).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_file: Option<PathBuf>,
}

impl Default for Database {
    fn default() -> Self {
        Database {
            url: Secret::new(DEFAULT_DATABASE.into()),
            url_file: None,
        }
    }
}

fn expose<S: serde::Serializer>(v: &Secret<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.expose())
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keys {
    /// The master key sealing SP private keys (default for SQLite: `master.key` next to
    /// the database file, created once; PostgreSQL: required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master_key_file: Option<PathBuf>,
    /// `tenant` (a key set per tenant) or `deployment` (one set).
    pub sp_key_scope: String,
    /// ES256 (P-256) PEM key for app tokens (default: a fresh key per process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_key_file: Option<PathBuf>,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            master_key_file: None,
            sp_key_scope: "tenant".into(),
            token_key_file: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scim {
    /// Requests per second per SCIM token (bursts of twice that); over it: 429.
    pub rate_per_second: u32,
}

impl Default for Scim {
    fn default() -> Self {
        Scim {
            rate_per_second: 50,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `auto` (text on a terminal, JSON lines otherwise), `json` or `text`.
    pub format: LogFormat,
    /// `tracing` filter syntax, e.g. `info` or `info,sso_gateway=debug`.
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            format: LogFormat::Auto,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// A file whose first line is the bearer token `/metrics` requires. Without one,
    /// `/metrics` is open on a loopback listener only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

/// The environment variables `serve` reads, each with the key it sets.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("SSO_GATEWAY_LISTEN", "server.listen"),
    ("SSO_GATEWAY_PUBLIC_URL", "server.public_url"),
    ("SSO_GATEWAY_TLS_CERT", "server.tls_cert"),
    ("SSO_GATEWAY_TLS_KEY", "server.tls_key"),
    ("SSO_GATEWAY_TRUSTED_PROXIES", "server.trusted_proxies"),
    ("SSO_GATEWAY_DATABASE_URL", "database.url"),
    ("SSO_GATEWAY_DATABASE_URL_FILE", "database.url_file"),
    ("SSO_GATEWAY_MASTER_KEY_FILE", "keys.master_key_file"),
    ("SSO_GATEWAY_SP_KEY_SCOPE", "keys.sp_key_scope"),
    ("SSO_GATEWAY_TOKEN_KEY", "keys.token_key_file"),
    ("SSO_GATEWAY_SCIM_RATE", "scim.rate_per_second"),
    ("SSO_GATEWAY_LOG_FORMAT", "log.format"),
    ("SSO_GATEWAY_LOG", "log.level"),
    ("SSO_GATEWAY_METRICS_TOKEN_FILE", "metrics.token_file"),
];

/// Variables read elsewhere (the master key itself, the config path) or by the tests.
const ENV_OTHER: &[&str] = &[
    "SSO_GATEWAY_MASTER_KEY",
    "SSO_GATEWAY_CONFIG",
    "SSO_GATEWAY_ADMIN_PASSWORD",
];

impl Config {
    /// Parse a TOML text; unknown keys are errors naming the key.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Read a file (no file: the defaults).
    pub fn load(path: Option<&Path>) -> Result<Config, String> {
        match path {
            None => Ok(Config::default()),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                Config::from_toml(&text).map_err(|e| format!("{}: {e}", p.display()))
            }
        }
    }

    /// Apply `SSO_GATEWAY_*` variables from `vars` (the process environment in `serve`).
    /// `extra` names variables other modules read (e.g. the log format), accepted as known.
    pub fn apply_env<I>(&mut self, vars: I, extra: &[&str]) -> Result<(), String>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        for (name, value) in vars {
            if !name.starts_with("SSO_GATEWAY_") || name.starts_with("SSO_GATEWAY_TEST_") {
                continue;
            }
            if ENV_OTHER.contains(&name.as_str()) || extra.contains(&name.as_str()) {
                continue;
            }
            let Some((_, key)) = ENV_KEYS.iter().find(|(n, _)| *n == name) else {
                return Err(format!(
                    "unknown environment variable {name} (known: {})",
                    ENV_KEYS
                        .iter()
                        .map(|(n, _)| *n)
                        .chain(ENV_OTHER.iter().copied())
                        .chain(extra.iter().copied())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            self.set(key, &value).map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(())
    }

    /// Set one key from text (environment variables and flags).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let path = || Some(PathBuf::from(value));
        match key {
            "server.listen" => self.server.listen = value.into(),
            "server.public_url" => self.server.public_url = Some(value.into()),
            "server.tls_cert" => self.server.tls_cert = path(),
            "server.tls_key" => self.server.tls_key = path(),
            "server.trusted_proxies" => {
                self.server.trusted_proxies = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            }
            "server.insecure_http_metadata" => self.server.insecure_http_metadata = true,
            "database.url" => self.database.url = Secret::new(value.into()),
            "database.url_file" => self.database.url_file = path(),
            "keys.master_key_file" => self.keys.master_key_file = path(),
            "keys.sp_key_scope" => self.keys.sp_key_scope = value.into(),
            "keys.token_key_file" => self.keys.token_key_file = path(),
            "scim.rate_per_second" => {
                self.scim.rate_per_second = value
                    .parse()
                    .map_err(|_| format!("expected a whole number, got {value:?}"))?
            }
            "log.format" => {
                self.log.format = <LogFormat as clap::ValueEnum>::from_str(value, true)
                    .map_err(|_| format!("expected auto, json or text, got {value:?}"))?
            }
            "log.level" => self.log.level = value.into(),
            "metrics.token_file" => self.metrics.token_file = path(),
            other => return Err(format!("unknown key {other}")),
        }
        Ok(())
    }

    /// Check values and read the secrets held in files.
    pub fn finish(mut self) -> Result<Config, String> {
        if let Some(f) = &self.database.url_file {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            self.database.url = Secret::new(text.trim().to_string());
        }
        if !matches!(self.keys.sp_key_scope.as_str(), "tenant" | "deployment") {
            return Err(format!(
                "keys.sp_key_scope: expected \"tenant\" or \"deployment\", got {:?}",
                self.keys.sp_key_scope
            ));
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            return Err("server.tls_cert and server.tls_key go together".into());
        }
        crate::web::edge::parse_proxies(&self.server.trusted_proxies)?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| format!("log.level {:?}: {e}", self.log.level))?;
        for (app, url) in &self.apps {
            url::Url::parse(url).map_err(|e| format!("apps.{app}: {e}"))?;
        }
        Ok(self)
    }

    pub fn tls(&self) -> bool {
        self.server.tls_cert.is_some()
    }

    /// The externally visible base URL, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.server
            .public_url
            .clone()
            .unwrap_or_else(|| {
                let scheme = if self.tls() { "https" } else { "http" };
                format!("{scheme}://{}", self.server.listen)
            })
            .trim_end_matches('/')
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../config/sso-gateway.example.toml");

    fn vars(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn the_example_is_the_defaults() {
        assert_eq!(Config::from_toml(EXAMPLE).unwrap(), Config::default());
    }

    #[test]
    fn the_example_documents_every_key() {
        // Uncomment the optional keys the example shows as comments: still valid, so
        // every documented key exists.
        let uncommented: String = EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once(" = ").is_some_and(|(k, _)| {
                        k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    }) =>
                {
                    rest.to_string()
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let full = Config::from_toml(&uncommented).unwrap();
        assert!(full.server.tls_cert.is_some() && full.server.public_url.is_some());
        assert!(full.database.url_file.is_some() && full.keys.master_key_file.is_some());
        assert!(full.keys.token_key_file.is_some() && !full.apps.is_empty());
        assert!(full.metrics.token_file.is_some());
        // And every key of the defaults appears in the example.
        let defaults = toml::to_string(&Config::default()).unwrap();
        let mut section = String::new();
        for line in defaults.lines() {
            if let Some(s) = line.strip_prefix('[') {
                section = s.trim_end_matches(']').to_string();
                assert!(
                    EXAMPLE.contains(&format!("[{section}]")),
                    "[{section}] missing"
                );
            } else if let Some((k, _)) = line.split_once(" = ") {
                assert!(
                    EXAMPLE.contains(&format!("\n{k} = ")),
                    "{section}.{k} missing from the example"
                );
            }
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let e = Config::from_toml("[server]\nlisten = \"0.0.0.0:1\"\nlisen = 1\n").unwrap_err();
        assert!(e.contains("lisen"), "{e}");
        let e = Config::from_toml("[sever]\n").unwrap_err();
        assert!(e.contains("sever"), "{e}");
        let e = Config::from_toml("[rate_limits.acs]\nper_minute = 1\nburst = 1\nbrust = 2\n")
            .unwrap_err();
        assert!(e.contains("brust"), "{e}");
    }

    #[test]
    fn environment_overrides_the_file_and_typos_are_refused() {
        let mut c = Config::from_toml("[server]\nlisten = \"127.0.0.1:9\"\n").unwrap();
        c.apply_env(
            vars(&[
                ("SSO_GATEWAY_LISTEN", "127.0.0.1:10"),
                ("SSO_GATEWAY_SCIM_RATE", "7"),
                ("SSO_GATEWAY_TEST_POSTGRES", "ignored"),
                ("PATH", "/bin"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:10");
        assert_eq!(c.scim.rate_per_second, 7);
        let e = c
            .apply_env(vars(&[("SSO_GATEWAY_LISTN", "x")]), &[])
            .unwrap_err();
        assert!(e.contains("SSO_GATEWAY_LISTN"), "{e}");
        let e = c
            .apply_env(vars(&[("SSO_GATEWAY_SCIM_RATE", "many")]), &[])
            .unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        c.apply_env(vars(&[("SSO_GATEWAY_LOG_FORMAT", "json")]), &[])
            .unwrap();
        assert_eq!(c.log.format, LogFormat::Json);
        c.apply_env(
            vars(&[("SSO_GATEWAY_METRICS_TOKEN", "t")]),
            &["SSO_GATEWAY_METRICS_TOKEN"],
        )
        .unwrap();
    }

    #[test]
    fn secrets_from_files_and_redacted() {
        let dir = std::env::temp_dir().join(format!("sgw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("db-url");
        std::fs::write(&f, "postgres://u:s3cret@db/x\n").unwrap();
        let mut c = Config::default();
        c.set("database.url_file", f.to_str().unwrap()).unwrap();
        let c = c.finish().unwrap();
        assert_eq!(c.database.url.expose(), "postgres://u:s3cret@db/x");
        assert!(!format!("{c:?}").contains("s3cret"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checks() {
        let mut c = Config::default();
        c.set("server.tls_cert", "/x.pem").unwrap();
        assert!(c.clone().finish().unwrap_err().contains("go together"));
        c.set("server.tls_key", "/x.key").unwrap();
        let c = c.finish().unwrap();
        assert_eq!(c.public_url(), "https://127.0.0.1:8080");
        let mut c = Config::default();
        c.set("server.trusted_proxies", "10.0.0.0/8, nonsense")
            .unwrap();
        assert!(c.finish().unwrap_err().contains("nonsense"));
        let mut c = Config::default();
        c.set("keys.sp_key_scope", "galaxy").unwrap();
        assert!(c.finish().is_err());
        let mut c = Config::default();
        assert!(c.set("log.format", "xml").is_err());
        c.set("log.level", "info,=[").unwrap();
        assert!(c.finish().unwrap_err().contains("log.level"));
    }
}
