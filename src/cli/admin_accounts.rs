//! `admin create-operator` and `admin create-tenant-admin` (ADR 0010).

use std::io::BufRead;
use std::process::ExitCode;

use crate::clock::{Clock, SystemClock};
use crate::directory::valid_email;
use crate::session::password;
use crate::store::{AdminRole, Db};

/// The environment variable holding the new admin's password (never a flag: flags end up in
/// shell history and `ps`).
pub const PASSWORD_ENV: &str = "SSO_GATEWAY_ADMIN_PASSWORD";

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("sso-gateway admin: {msg}");
    ExitCode::from(2)
}

/// The password from the environment, else the first line of stdin.
fn read_password() -> Result<String, String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Create an operator (`tenant` None) or a tenant admin.
pub async fn create(db: &Db, tenant: Option<&str>, email: &str) -> ExitCode {
    let email = email.trim();
    if !valid_email(email) {
        return fail(format!("'{email}' is not an email address"));
    }
    let (role, tenant_id) = match tenant {
        None => (AdminRole::Operator, None),
        Some(slug) => match db.tenant_by_slug(slug).await {
            Ok(Some(t)) => (AdminRole::TenantAdmin, Some(t.id)),
            Ok(None) => return fail(format!("no tenant '{slug}'")),
            Err(e) => return fail(e),
        },
    };
    let pw = match read_password() {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if let Err(e) = password::check_new_password(&pw) {
        return fail(e);
    }
    let hash = match password::hash_password(&pw) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    match db
        .create_admin(email, &hash, role, tenant_id, SystemClock.now())
        .await
    {
        Ok(id) => {
            match tenant {
                None => println!("Created operator {email} (id {id})"),
                Some(slug) => println!("Created admin {email} of tenant '{slug}' (id {id})"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
