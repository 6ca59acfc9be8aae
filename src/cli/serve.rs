//! `sso-gateway serve`: run the gateway (with `--demo`: a demo tenant, users, a
//! development IdP and a demo app, all on embedded SQLite).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use actix_web::{App, HttpServer, middleware::from_fn, web};
use openssl::ssl::{SslAcceptor, SslAcceptorBuilder, SslFiletype, SslMethod};

use crate::app::AppState;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::session::token::TokenKey;
use crate::store::Db;

pub const DEFAULT_DATABASE: &str = crate::config::DEFAULT_DATABASE;
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// `serve`'s flags. Each also has a key in the TOML file (`--config`) and an
/// `SSO_GATEWAY_*` variable (`crate::config`); a flag wins over both.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML configuration file; `config/sso-gateway.example.toml` lists every key.
    #[arg(long, value_name = "FILE", env = "SSO_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// The externally visible base URL [default: http://LISTEN, https:// with TLS].
    #[arg(long)]
    public_url: Option<String>,
    /// Database URL [default: the embedded SQLite file data/sso-gateway.db].
    #[arg(long)]
    database: Option<String>,
    /// Start with a demo tenant, demo users, a built-in development IdP and a demo app.
    #[arg(long)]
    demo: bool,
    /// ES256 (P-256) PEM key for app tokens [default: a fresh key per process].
    #[arg(long, value_name = "KEY.pem")]
    token_key: Option<PathBuf>,
    /// SCIM requests per second allowed per token (bursts up to twice that); over it: 429.
    #[arg(long)]
    scim_rate: Option<u32>,
    /// Where an app is launched: APP=URL (repeatable), e.g. work=https://work.example/sso.
    #[arg(long = "app-url", value_name = "APP=URL")]
    app_urls: Vec<String>,
    /// File holding the master key that seals SP private keys (see `keys --help`).
    #[arg(long, value_name = "FILE")]
    master_key_file: Option<PathBuf>,
    /// Serve https with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "CHAIN.pem", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow IdP metadata URLs over plain http (local development and tests only: the
    /// metadata decides which keys are trusted).
    #[arg(long)]
    insecure_http_metadata: bool,
    /// Observability (issue 10): --log-format, --metrics-token.
    #[command(flatten)]
    obs: crate::obs::ObsArgs,
}

/// The configuration: defaults, the file, the environment, then the flags.
pub fn resolve(
    args: &Args,
    env: Vec<(String, String)>,
    extra_env: &[&str],
) -> Result<Config, String> {
    let mut c = Config::load(args.config.as_deref())?;
    c.apply_env(env, extra_env)?;
    let flags: [(&str, Option<String>); 7] = [
        ("server.listen", args.listen.clone()),
        ("server.public_url", args.public_url.clone()),
        ("database.url", args.database.clone()),
        ("keys.token_key_file", path_text(&args.token_key)),
        ("keys.master_key_file", path_text(&args.master_key_file)),
        ("server.tls_cert", path_text(&args.tls_cert)),
        ("server.tls_key", path_text(&args.tls_key)),
    ];
    for (k, v) in flags {
        if let Some(v) = v {
            c.set(k, &v)?;
        }
    }
    if let Some(r) = args.scim_rate {
        c.scim.rate_per_second = r;
    }
    if args.insecure_http_metadata {
        c.server.insecure_http_metadata = true;
    }
    for a in &args.app_urls {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| format!("--app-url {a}: expected APP=URL"))?;
        c.apps.insert(k.to_string(), v.to_string());
    }
    c.finish()
}

fn path_text(p: &Option<PathBuf>) -> Option<String> {
    p.as_ref().map(|p| p.display().to_string())
}

/// A TLS acceptor from PEM files (Mozilla's "intermediate" profile: TLS 1.2 and 1.3).
fn tls_acceptor(cert: &Path, key: &Path) -> Result<SslAcceptorBuilder, String> {
    let mut b =
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).map_err(|e| format!("TLS: {e}"))?;
    b.set_private_key_file(key, SslFiletype::PEM)
        .map_err(|e| format!("{}: {e}", key.display()))?;
    b.set_certificate_chain_file(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    b.check_private_key()
        .map_err(|e| format!("{} does not match {}: {e}", key.display(), cert.display()))?;
    Ok(b)
}

/// Open the database, creating the folder of an embedded SQLite file.
pub async fn open_db(url: &str) -> Result<Db, String> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        let file = path.split('?').next().unwrap_or(path);
        if !file.is_empty()
            && !file.contains(":memory:")
            && let Some(dir) = std::path::Path::new(file)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    Db::connect(url)
        .await
        .map_err(|e| format!("database {}: {e}", redact_url(url)))
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    crate::obs::logging::fatal(&format!("sso-gateway serve: {msg}"));
    ExitCode::from(2)
}

pub fn run(args: Args) -> ExitCode {
    use crate::obs::logging::{self, LogFormat};
    // The configuration first (it names the log format and level), then the logger, so
    // that even a configuration error is written in the chosen format.
    let cfg = resolve(&args, std::env::vars().collect(), crate::obs::ENV_VARS);
    let format = args
        .obs
        .log_format
        .or_else(|| cfg.as_ref().ok().map(|c| c.log.format))
        .or_else(|| {
            std::env::var("SSO_GATEWAY_LOG_FORMAT")
                .ok()
                .and_then(|v| <LogFormat as clap::ValueEnum>::from_str(&v, true).ok())
        })
        .unwrap_or_default();
    let level = cfg
        .as_ref()
        .map(|c| c.log.level.clone())
        .unwrap_or_else(|_| "info".into());
    logging::init(format, &level);
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let sys = actix_web::rt::System::new();
    sys.block_on(async move {
        match serve(args, cfg).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        }
    })
}

async fn serve(args: Args, cfg: Config) -> Result<(), String> {
    let public_url = cfg.public_url();
    let database = cfg.database.url.expose().clone();
    let db = open_db(&database).await?;
    let token_key = match &cfg.keys.token_key_file {
        Some(p) => {
            TokenKey::from_pem(&std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => TokenKey::generate(),
    }
    .map_err(|e| e.to_string())?;
    let app_urls: HashMap<String, String> = cfg.apps.clone().into_iter().collect();
    let master = super::keys::MasterKeyArgs {
        master_key_file: cfg.keys.master_key_file.clone(),
        sp_key_scope: cfg.keys.sp_key_scope.clone(),
    };
    let tls = match (&cfg.server.tls_cert, &cfg.server.tls_key) {
        (Some(c), Some(k)) => Some(tls_acceptor(c, k)?),
        _ => None,
    };
    let edge = crate::web::edge::Edge::new(
        &cfg.rate_limits,
        crate::web::edge::parse_proxies(&cfg.server.trusted_proxies)?,
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let demo = if args.demo {
        Some(Arc::new(
            crate::web::demo::setup(&db, &public_url, clock.now()).await?,
        ))
    } else {
        None
    };
    let state = AppState {
        db,
        clock,
        public_url: public_url.clone(),
        token_key: Arc::new(token_key),
        demo,
        app_urls,
        scim_limiter: crate::web::scim::rate_limiter(
            cfg.scim.rate_per_second,
            cfg.scim.rate_per_second.saturating_mul(2),
        ),
        trust: Default::default(),
        allow_http_metadata: cfg.server.insecure_http_metadata,
        keys: Arc::new(super::keys::keyring(&master, &database)?),
    };
    if state.db.dialect() == crate::store::Dialect::Postgres && cfg.keys.token_key_file.is_none() {
        tracing::warn!(
            "no --token-key: this instance signs app tokens with its own key; give every instance the same key (docs/operations.md)"
        );
    }
    let is_demo = state.demo.is_some();
    crate::web::admin::refresh::spawn(state.clone());
    // Housekeeping: purge expired requests, replay entries and sessions every 10 minutes.
    let (purge_db, purge_clock) = (state.db.clone(), state.clock.clone());
    let purge_edge = edge.clone();
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            purge_edge.housekeeping();
            match purge_db.purge_expired(purge_clock.now()).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired rows"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "purge failed"),
            }
        }
    });
    let data = web::Data::new(state);
    let edge = web::Data::new(edge);
    let hsts = public_url.starts_with("https://");
    let listen = cfg.server.listen.clone();
    // Observability (issue 10): who may read /metrics; the request-id middleware outermost.
    let metrics_access = web::Data::new(crate::obs::metrics::MetricsAccess::for_listen(
        &listen,
        args.obs
            .metrics_token(cfg.metrics.token_file.as_deref())?
            .as_deref(),
    ));
    crate::obs::metrics::handle();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(edge.clone())
            // The edge (`web::edge`) caps each route's body; these are the outer fences.
            .app_data(web::FormConfig::default().limit(1024 * 1024))
            .app_data(web::PayloadConfig::default().limit(1024 * 1024))
            .app_data(metrics_access.clone())
            .wrap(from_fn(crate::web::edge::guard))
            .wrap(crate::web::security_headers_for(hsts))
            .wrap(from_fn(crate::obs::request_id::middleware))
            .configure(|cfg| crate::web::configure(cfg, is_demo))
    });
    let server = match tls {
        Some(acceptor) => server.bind_openssl(&listen, acceptor),
        None => server.bind(&listen),
    }
    .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    // The banner: plain lines on a terminal, one JSON event a line in JSON mode.
    let mut banner = vec![format!(
        "sso-gateway listening on {}://{listen} (public URL {public_url})",
        if cfg.tls() { "https" } else { "http" }
    )];
    if is_demo {
        banner.extend([
            String::new(),
            format!("  Demo ready. Open {public_url}/ and sign in as alice@example.com"),
            "  (bob@example.com is deactivated, carol@example.com has no license).".into(),
            format!(
                "  IdP-initiated login: {public_url}/demo/idp  ·  SP metadata: {public_url}/saml/demo/metadata"
            ),
            format!(
                "  Configuration Manager: {public_url}/admin as {} / {} (operator),",
                crate::web::demo::DEMO_OPERATOR,
                crate::web::demo::DEMO_OPERATOR_PASSWORD
            ),
            "  or alice@example.com through the demo company's SSO (organization \"demo\").".into(),
            String::new(),
        ]);
    }
    crate::obs::logging::banner(&banner);
    server.run().await.map_err(|e| e.to_string())
}
