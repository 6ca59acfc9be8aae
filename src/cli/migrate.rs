//! `sso-gateway migrate`: apply the database migrations of the engine the URL names
//! (`migrations/sqlite` or `migrations/postgres`). `serve` does the same at start-up; run it
//! on its own before rolling out several instances.

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database URL: sqlite://FILE or postgres://USER@HOST:PORT/DATABASE.
    #[arg(long, default_value = super::serve::DEFAULT_DATABASE, env = "SSO_GATEWAY_DATABASE_URL")]
    database: String,
}

pub fn run(args: Args) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sso-gateway migrate: {e}");
            return ExitCode::from(2);
        }
    };
    rt.block_on(async move {
        match super::serve::open_db(&args.database).await {
            Ok(db) => {
                println!("database migrated ({:?})", db.dialect());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("sso-gateway migrate: {e}");
                ExitCode::from(2)
            }
        }
    })
}
