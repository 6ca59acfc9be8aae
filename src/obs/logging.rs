//! Log output: `tracing` events to stderr, as JSON lines or readable text.
//!
//! JSON mode (`--log-format json`, or `auto` when stderr is not a terminal): one object a
//! line with `timestamp`, `level`, `target`, the event's fields flattened (`message`,
//! `incident`, `tenant`, ...) and `span` (the request's `request_id`, `method`, `incident`).
//! Text mode: `tracing`'s readable format, coloured on a terminal.
//!
//! Never log SAML messages, assertions, tokens, passwords or cookies: events carry codes,
//! ids and short reasons only.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::EnvFilter;

/// `--log-format`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise.
    #[default]
    Auto,
    Json,
    Text,
}

static JSON: AtomicBool = AtomicBool::new(false);

/// The level filter (`log.level`, `SSO_GATEWAY_LOG`; checked by the configuration).
fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Whether `format` means JSON here.
pub fn resolve(format: LogFormat) -> bool {
    match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    }
}

/// Install the global subscriber (once per process; later calls keep the first). Also
/// routes `log` records (actix-server's) into it. Returns whether the output is JSON.
pub fn init(format: LogFormat, level: &str) -> bool {
    let json = resolve(format);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(std::io::stderr);
    let installed = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
    if installed.is_ok() {
        JSON.store(json, Ordering::Relaxed);
        if json {
            // A panic message would otherwise be the one plain-text line on stderr.
            std::panic::set_hook(Box::new(|info| {
                let payload = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let location = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                tracing::error!(panic = %payload, location, "panic");
            }));
        }
    }
    json
}

/// True once [`init`] installed JSON output.
pub fn is_json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// The start-up banner: printed as is on stdout in text mode, one `info` event a line in
/// JSON mode (so every line `serve` writes is JSON).
pub fn banner(lines: &[String]) {
    if is_json() {
        for l in lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
            tracing::info!(target: "sso_gateway::banner", "{l}");
        }
    } else {
        for l in lines {
            println!("{l}");
        }
    }
}

/// A fatal start-up error: an `error` event in JSON mode, a plain line on stderr otherwise.
pub fn fatal(msg: &str) {
    if is_json() {
        tracing::error!("{msg}");
    } else {
        eprintln!("{msg}");
    }
}
