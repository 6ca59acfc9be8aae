//! `admin license set` and `admin license list`: a tenant's license inventory (how many of
//! each license were bought). Assignments never exceed it.

use std::process::ExitCode;

use serde_json::json;

use crate::clock::{Clock, SystemClock};
use crate::store::{Actor, Db};

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("sso-gateway admin: {msg}");
    ExitCode::from(2)
}

/// Set how many of `code` the tenant bought.
pub async fn set(db: &Db, tenant: &str, code: &str, quantity: i64) -> ExitCode {
    let t = match db.tenant_by_slug(tenant).await {
        Ok(Some(t)) => t,
        Ok(None) => return fail(format!("no tenant '{tenant}'")),
        Err(e) => return fail(e),
    };
    let code = code.trim().to_ascii_uppercase();
    if quantity < 0 {
        return fail("the quantity may not be negative");
    }
    match db
        .set_inventory(t.id, &code, quantity, &Actor::cli(), SystemClock.now())
        .await
    {
        Ok(Ok(())) => {
            println!("'{}' bought {quantity} {code}", t.slug);
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => fail(e),
        Err(e) => fail(e),
    }
}

/// Print the catalog with bought, assigned and available counts.
pub async fn list(db: &Db, tenant: &str, as_json: bool) -> ExitCode {
    let t = match db.tenant_by_slug(tenant).await {
        Ok(Some(t)) => t,
        Ok(None) => return fail(format!("no tenant '{tenant}'")),
        Err(e) => return fail(e),
    };
    let lines = match db.inventory(t.id).await {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    if as_json {
        let v: Vec<_> = lines
            .iter()
            .map(|l| json!({"code": l.license.code, "name": l.license.name, "quantity": l.quantity, "assigned": l.assigned}))
            .collect();
        println!("{}", json!({"tenant": t.slug, "licenses": v}));
    } else {
        println!(
            "{:<14} {:>8} {:>8} {:>9}  name",
            "license", "bought", "assigned", "available"
        );
        for l in &lines {
            println!(
                "{:<14} {:>8} {:>8} {:>9}  {}",
                l.license.code,
                l.quantity,
                l.assigned,
                l.available(),
                l.license.name
            );
        }
    }
    ExitCode::SUCCESS
}
