//! `sso-gateway serve`: run the gateway (with `--demo`: a demo tenant, users, a
//! development IdP and a demo app, all on embedded SQLite).

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};

use crate::app::AppState;
use crate::clock::{Clock, SystemClock};
use crate::session::token::TokenKey;
use crate::store::Db;

pub const DEFAULT_DATABASE: &str = "sqlite://data/sso-gateway.db";
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "SSO_GATEWAY_LISTEN")]
    listen: String,
    /// The externally visible base URL (default: http://LISTEN).
    #[arg(long, env = "SSO_GATEWAY_PUBLIC_URL")]
    public_url: Option<String>,
    /// Database URL (default: the embedded SQLite file data/sso-gateway.db).
    #[arg(long, default_value = DEFAULT_DATABASE, env = "SSO_GATEWAY_DATABASE_URL")]
    database: String,
    /// Start with a demo tenant, demo users, a built-in development IdP and a demo app.
    #[arg(long)]
    demo: bool,
    /// ES256 (P-256) PEM key for app tokens (default: a fresh key per process).
    #[arg(long, value_name = "KEY.pem", env = "SSO_GATEWAY_TOKEN_KEY")]
    token_key: Option<std::path::PathBuf>,
    /// SCIM requests per second allowed per token (bursts up to twice that); over it: 429.
    #[arg(long, default_value_t = 50, env = "SSO_GATEWAY_SCIM_RATE")]
    scim_rate: u32,
    /// Where an app is launched: APP=URL (repeatable), e.g. work=https://work.example/sso.
    #[arg(long = "app-url", value_name = "APP=URL")]
    app_urls: Vec<String>,
    #[command(flatten)]
    master: super::keys::MasterKeyArgs,
    /// Allow IdP metadata URLs over plain http (local development and tests only: the
    /// metadata decides which keys are trusted).
    #[arg(long)]
    insecure_http_metadata: bool,
    /// Observability (issue 10): --log-format, --metrics-token.
    #[command(flatten)]
    obs: crate::obs::ObsArgs,
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
    crate::obs::logging::init(args.obs.log_format);
    let sys = actix_web::rt::System::new();
    sys.block_on(async move {
        match serve(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        }
    })
}

async fn serve(args: Args) -> Result<(), String> {
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen))
        .trim_end_matches('/')
        .to_string();
    let db = open_db(&args.database).await?;
    let token_key = match &args.token_key {
        Some(p) => {
            TokenKey::from_pem(&std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => TokenKey::generate(),
    }
    .map_err(|e| e.to_string())?;
    let mut app_urls = HashMap::new();
    for a in &args.app_urls {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| format!("--app-url {a}: expected APP=URL"))?;
        app_urls.insert(k.to_string(), v.to_string());
    }
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
            args.scim_rate,
            args.scim_rate.saturating_mul(2),
        ),
        allow_http_metadata: args.insecure_http_metadata,
        keys: Arc::new(super::keys::keyring(&args.master, &args.database)?),
    };
    if state.db.dialect() == crate::store::Dialect::Postgres && args.token_key.is_none() {
        tracing::warn!(
            "no --token-key: this instance signs app tokens with its own key; give every instance the same key (docs/operations.md)"
        );
    }
    let is_demo = state.demo.is_some();
    crate::web::admin::refresh::spawn(state.clone());
    // Housekeeping: purge expired requests, replay entries and sessions every 10 minutes.
    let (purge_db, purge_clock) = (state.db.clone(), state.clock.clone());
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            match purge_db.purge_expired(purge_clock.now()).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "purged expired rows"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "purge failed"),
            }
        }
    });
    let data = web::Data::new(state);
    // Observability (issue 10): who may read /metrics; the request-id middleware outermost.
    let metrics_access = web::Data::new(crate::obs::metrics::MetricsAccess::for_listen(
        &args.listen,
        args.obs.metrics_token.as_deref(),
    ));
    crate::obs::metrics::handle();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::FormConfig::default().limit(512 * 1024))
            .app_data(metrics_access.clone())
            .wrap(crate::web::security_headers())
            .wrap(actix_web::middleware::from_fn(
                crate::obs::request_id::middleware,
            ))
            .configure(|cfg| crate::web::configure(cfg, is_demo))
    })
    .bind(&args.listen)
    .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    // The banner: plain lines on a terminal, one JSON event a line in JSON mode.
    let mut banner = vec![format!(
        "sso-gateway listening on http://{} (public URL {public_url})",
        args.listen
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
