//! Licenses: the catalog, per-tenant inventory, and assignments that never exceed it.
//! Every assignment counts and inserts under the database write lock (`BEGIN IMMEDIATE`),
//! so two admins cannot both take the last license.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::audit::{self, Actor, Change};
use super::db::{Db, StoreError};
use crate::directory::telephony::{self, License, LicenseKind, LicenseRule};

/// One line of a tenant's inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryLine {
    pub license: License,
    /// How many the tenant bought.
    pub quantity: i64,
    /// How many are assigned to users now.
    pub assigned: i64,
}

impl InventoryLine {
    pub fn available(&self) -> i64 {
        (self.quantity - self.assigned).max(0)
    }
}

/// Why an assignment or removal did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LicenseError {
    UnknownLicense(String),
    UnknownUser,
    UnknownGroup,
    Rule(LicenseRule),
    /// Not enough left: `needed` more were asked for, `quantity` bought, `assigned` in use.
    Exhausted {
        code: String,
        needed: i64,
        quantity: i64,
        assigned: i64,
    },
    /// A group assignment where some members break a rule (up to a few listed).
    Members {
        code: String,
        problems: Vec<String>,
    },
    /// The inventory may not go below what is assigned.
    BelowAssigned {
        code: String,
        assigned: i64,
    },
}

impl LicenseError {
    pub fn code(&self) -> &'static str {
        match self {
            LicenseError::UnknownLicense(_) => "license_unknown",
            LicenseError::UnknownUser => "user_not_found",
            LicenseError::UnknownGroup => "group_not_found",
            LicenseError::Rule(r) => r.code(),
            LicenseError::Exhausted { .. } => "license_inventory_exhausted",
            LicenseError::Members { .. } => "license_group_members_refused",
            LicenseError::BelowAssigned { .. } => "license_inventory_below_assigned",
        }
    }
}

impl std::fmt::Display for LicenseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LicenseError::UnknownLicense(c) => {
                write!(f, "there is no license '{c}' in the catalog")
            }
            LicenseError::UnknownUser => write!(f, "no such user in this organization"),
            LicenseError::UnknownGroup => write!(f, "no such group in this organization"),
            LicenseError::Rule(r) => write!(f, "{r}"),
            LicenseError::Exhausted {
                code,
                needed,
                quantity,
                assigned,
            } => write!(
                f,
                "no {code} license left: {assigned} of the {quantity} bought are assigned, and {needed} more {} needed. Unassign some or buy more.",
                if *needed == 1 { "is" } else { "are" }
            ),
            LicenseError::Members { code, problems } => write!(
                f,
                "{code} cannot be assigned to every member: {}",
                problems.join("; ")
            ),
            LicenseError::BelowAssigned { code, assigned } => write!(
                f,
                "{assigned} {code} licenses are assigned; the inventory cannot be set below that. Unassign some first."
            ),
        }
    }
}

fn license(r: &AnyRow) -> Result<License, StoreError> {
    let kind: String = r.try_get("kind")?;
    let apps: String = r.try_get("apps")?;
    Ok(License {
        code: r.try_get("code")?,
        name: r.try_get("name")?,
        kind: LicenseKind::parse(&kind),
        description: r.try_get("description")?,
        apps: apps.split_whitespace().map(str::to_string).collect(),
    })
}

async fn held(conn: &mut sqlx::AnyConnection, user_id: i64) -> Result<Vec<License>, StoreError> {
    sqlx::query(
        "SELECT l.* FROM user_licenses ul JOIN licenses l ON l.code = ul.license_code
         WHERE ul.user_id = $1 ORDER BY l.position",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(license)
    .collect()
}

async fn catalog_entry(
    conn: &mut sqlx::AnyConnection,
    code: &str,
) -> Result<Option<License>, StoreError> {
    sqlx::query("SELECT * FROM licenses WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(license)
        .transpose()
}

/// (bought, assigned) of one license in one tenant.
async fn counts(
    conn: &mut sqlx::AnyConnection,
    tenant_id: i64,
    code: &str,
) -> Result<(i64, i64), StoreError> {
    let r = sqlx::query(
        "SELECT COALESCE((SELECT quantity FROM license_inventory WHERE tenant_id = $1 AND license_code = $2), 0) AS q,
                (SELECT count(*) FROM user_licenses ul JOIN users u ON u.id = ul.user_id
                 WHERE u.tenant_id = $1 AND ul.license_code = $2) AS n",
    )
    .bind(tenant_id)
    .bind(code)
    .fetch_one(&mut *conn)
    .await?;
    Ok((r.try_get("q")?, r.try_get("n")?))
}

fn codes(ls: &[License]) -> Vec<&str> {
    ls.iter().map(|l| l.code.as_str()).collect()
}

/// Check the rules and the inventory, then insert; inside the caller's write transaction.
pub(crate) async fn assign_in_tx(
    conn: &mut sqlx::AnyConnection,
    tenant_id: i64,
    user_id: i64,
    code: &str,
) -> Result<Result<(Vec<License>, Vec<License>), LicenseError>, StoreError> {
    let Some(lic) = catalog_entry(conn, code).await? else {
        return Ok(Err(LicenseError::UnknownLicense(code.to_string())));
    };
    let before = held(conn, user_id).await?;
    if let Err(r) = telephony::check_assign(&before, &lic) {
        return Ok(Err(LicenseError::Rule(r)));
    }
    let (quantity, assigned) = counts(conn, tenant_id, code).await?;
    if assigned >= quantity {
        return Ok(Err(LicenseError::Exhausted {
            code: code.to_string(),
            needed: 1,
            quantity,
            assigned,
        }));
    }
    sqlx::query("INSERT INTO user_licenses (user_id, license_code) VALUES ($1, $2)")
        .bind(user_id)
        .bind(code)
        .execute(&mut *conn)
        .await?;
    let mut after = before.clone();
    after.push(lic);
    Ok(Ok((before, after)))
}

/// The user (id, scim id or user name for the audit target) if it belongs to the tenant.
async fn user_in_tenant(
    conn: &mut sqlx::AnyConnection,
    tenant_id: i64,
    user_id: i64,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query(
        "SELECT COALESCE(scim_id, user_name) AS target FROM users WHERE id = $1 AND tenant_id = $2",
    )
    .bind(user_id)
    .bind(tenant_id)
    .fetch_optional(&mut *conn)
    .await?
    .map(|r| r.try_get("target"))
    .transpose()?)
}

impl Db {
    /// The whole catalog, plans first.
    pub async fn license_catalog(&self) -> Result<Vec<License>, StoreError> {
        sqlx::query("SELECT * FROM licenses ORDER BY position, code")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(license)
            .collect()
    }

    /// Every catalog entry with this tenant's bought and assigned counts.
    pub async fn inventory(&self, tenant_id: i64) -> Result<Vec<InventoryLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT l.*, COALESCE(i.quantity, 0) AS quantity,
                    (SELECT count(*) FROM user_licenses ul JOIN users u ON u.id = ul.user_id
                     WHERE u.tenant_id = $1 AND ul.license_code = l.code) AS assigned
             FROM licenses l LEFT JOIN license_inventory i ON i.license_code = l.code AND i.tenant_id = $1
             ORDER BY l.position, l.code",
        )
        .bind(tenant_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InventoryLine {
                    license: license(r)?,
                    quantity: r.try_get("quantity")?,
                    assigned: r.try_get("assigned")?,
                })
            })
            .collect()
    }

    /// Set how many of a license the tenant bought (never below what is assigned).
    pub async fn set_inventory(
        &self,
        tenant_id: i64,
        code: &str,
        quantity: i64,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Result<(), LicenseError>, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        if catalog_entry(&mut tx, code).await?.is_none() {
            return Ok(Err(LicenseError::UnknownLicense(code.to_string())));
        }
        let (old, assigned) = counts(&mut tx, tenant_id, code).await?;
        if quantity < assigned {
            return Ok(Err(LicenseError::BelowAssigned {
                code: code.to_string(),
                assigned,
            }));
        }
        sqlx::query(
            "INSERT INTO license_inventory (tenant_id, license_code, quantity) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, license_code) DO UPDATE SET quantity = excluded.quantity",
        )
        .bind(tenant_id)
        .bind(code)
        .bind(quantity)
        .execute(&mut *tx)
        .await?;
        let change = Change::new("license.inventory", Some(code))
            .detail(format!("{old} -> {quantity}"))
            .before(json!({"quantity": old}))
            .after(json!({"quantity": quantity}));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// The licenses a user holds, plans first.
    pub async fn user_licenses(&self, user_id: i64) -> Result<Vec<License>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        held(&mut conn, user_id).await
    }

    /// Assign a license to a user of the tenant, within the inventory.
    pub async fn assign_license(
        &self,
        tenant_id: i64,
        user_id: i64,
        code: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Result<(), LicenseError>, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let Some(target) = user_in_tenant(&mut tx, tenant_id, user_id).await? else {
            return Ok(Err(LicenseError::UnknownUser));
        };
        let (before, after) = match assign_in_tx(&mut tx, tenant_id, user_id, code).await? {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let change = Change::new("license.assign", Some(&target))
            .detail(code)
            .before(json!({"licenses": codes(&before)}))
            .after(json!({"licenses": codes(&after)}));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Take a license back from a user (add-ons before the plan they need).
    pub async fn unassign_license(
        &self,
        tenant_id: i64,
        user_id: i64,
        code: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Result<(), LicenseError>, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let Some(target) = user_in_tenant(&mut tx, tenant_id, user_id).await? else {
            return Ok(Err(LicenseError::UnknownUser));
        };
        let before = held(&mut tx, user_id).await?;
        if let Err(r) = telephony::check_unassign(&before, code) {
            return Ok(Err(LicenseError::Rule(r)));
        }
        sqlx::query("DELETE FROM user_licenses WHERE user_id = $1 AND license_code = $2")
            .bind(user_id)
            .bind(code)
            .execute(&mut *tx)
            .await?;
        let after: Vec<License> = before.iter().filter(|l| l.code != code).cloned().collect();
        let change = Change::new("license.unassign", Some(&target))
            .detail(code)
            .before(json!({"licenses": codes(&before)}))
            .after(json!({"licenses": codes(&after)}));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Assign a license to every member of a group Okta pushed: all or nothing. Members that
    /// already hold it are skipped; returns how many were newly assigned.
    pub async fn assign_license_to_group(
        &self,
        tenant_id: i64,
        group_scim_id: &str,
        code: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, LicenseError>, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let Some(members) = group_members(&mut tx, tenant_id, group_scim_id).await? else {
            return Ok(Err(LicenseError::UnknownGroup));
        };
        let Some(lic) = catalog_entry(&mut tx, code).await? else {
            return Ok(Err(LicenseError::UnknownLicense(code.to_string())));
        };
        let mut todo = Vec::new();
        let mut problems = Vec::new();
        for (uid, name) in &members {
            let h = held(&mut tx, *uid).await?;
            match telephony::check_assign(&h, &lic) {
                Ok(()) => todo.push(*uid),
                Err(LicenseRule::AlreadyAssigned(_)) => {}
                Err(r) => problems.push(format!("{name}: {r}")),
            }
        }
        if !problems.is_empty() {
            let n = problems.len();
            problems.truncate(5);
            if n > 5 {
                problems.push(format!("and {} more", n - 5));
            }
            return Ok(Err(LicenseError::Members {
                code: code.to_string(),
                problems,
            }));
        }
        let (quantity, assigned) = counts(&mut tx, tenant_id, code).await?;
        let needed = todo.len() as i64;
        if assigned + needed > quantity {
            return Ok(Err(LicenseError::Exhausted {
                code: code.to_string(),
                needed,
                quantity,
                assigned,
            }));
        }
        for uid in &todo {
            sqlx::query("INSERT INTO user_licenses (user_id, license_code) VALUES ($1, $2)")
                .bind(uid)
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
        let change = Change::new("license.assign_group", Some(group_scim_id))
            .detail(format!("{code} to {needed} of {} member(s)", members.len()))
            .before(json!({"assigned": assigned}))
            .after(json!({"assigned": assigned + needed}));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Ok(needed))
    }

    /// Take a license back from every member of a group that holds it (add-on rules apply).
    pub async fn unassign_license_from_group(
        &self,
        tenant_id: i64,
        group_scim_id: &str,
        code: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, LicenseError>, StoreError> {
        let mut tx = self.write_tx(tenant_id).await?;
        let Some(members) = group_members(&mut tx, tenant_id, group_scim_id).await? else {
            return Ok(Err(LicenseError::UnknownGroup));
        };
        let mut todo = Vec::new();
        let mut problems = Vec::new();
        for (uid, name) in &members {
            let h = held(&mut tx, *uid).await?;
            match telephony::check_unassign(&h, code) {
                Ok(()) => todo.push(*uid),
                Err(LicenseRule::NotAssigned(_)) => {}
                Err(r) => problems.push(format!("{name}: {r}")),
            }
        }
        if !problems.is_empty() {
            problems.truncate(5);
            return Ok(Err(LicenseError::Members {
                code: code.to_string(),
                problems,
            }));
        }
        for uid in &todo {
            sqlx::query("DELETE FROM user_licenses WHERE user_id = $1 AND license_code = $2")
                .bind(uid)
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
        let n = todo.len() as i64;
        let change = Change::new("license.unassign_group", Some(group_scim_id))
            .detail(format!("{code} from {n} of {} member(s)", members.len()));
        audit::insert(&mut tx, Some(tenant_id), actor, &change, now).await?;
        tx.commit().await?;
        Ok(Ok(n))
    }
}

/// The members of a group that are users of the tenant: (user id, user name); None if no
/// such group.
async fn group_members(
    conn: &mut sqlx::AnyConnection,
    tenant_id: i64,
    group_scim_id: &str,
) -> Result<Option<Vec<(i64, String)>>, StoreError> {
    let g = sqlx::query("SELECT resource FROM groups WHERE tenant_id = $1 AND scim_id = $2")
        .bind(tenant_id)
        .bind(group_scim_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(g) = g else { return Ok(None) };
    let text: String = g.try_get("resource")?;
    let resource: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| StoreError::Other(format!("stored group: {e}")))?;
    let mut out = Vec::new();
    for id in crate::scim::resource::member_ids(&resource) {
        if let Some(r) =
            sqlx::query("SELECT id, user_name FROM users WHERE tenant_id = $1 AND scim_id = $2")
                .bind(tenant_id)
                .bind(&id)
                .fetch_optional(&mut *conn)
                .await?
        {
            out.push((r.try_get("id")?, r.try_get("user_name")?));
        }
    }
    Ok(Some(out))
}
