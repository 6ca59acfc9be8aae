//! Command-line interface: one file per subcommand.

pub mod admin;
mod admin_accounts;
mod admin_licenses;
pub mod keys;
mod migrate;
mod mint_response;
pub mod serve;
mod verify_response;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sso-gateway: SAML 2.0 service provider between Okta and the telephony apps.
#[derive(Debug, Parser)]
#[command(name = "sso-gateway", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (with --demo: demo tenant, users, development IdP and demo app).
    Serve(serve::Args),
    /// Administer tenants and users.
    Admin(admin::Args),
    /// Apply the database migrations (serve does this at start-up too).
    Migrate(migrate::Args),
    /// The SP's signing and encryption keys: generate a next key, activate it, list.
    Keys(keys::Args),
    /// Verify saved SAML Responses against IdP metadata and SP settings, with a fixed
    /// clock if wanted, and print one JSON verdict per file.
    VerifyResponse(verify_response::Args),
    /// Mint Okta-shaped SAML Responses signed with a (test) IdP key: for tests, demos and
    /// load generation.
    MintResponse(mint_response::Args),
}

/// Parse the command line and run. Exit codes: 0 success, 1 a response was invalid,
/// 2 usage or I/O error.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Admin(args) => admin::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Keys(args) => keys::run(args),
        Command::VerifyResponse(args) => verify_response::run(args),
        Command::MintResponse(args) => mint_response::run(args),
    }
}
