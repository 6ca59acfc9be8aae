//! The audit log: who changed what, when, from where, with the state before and after.
//! Every admin and SCIM change writes one entry in the same transaction as the change.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::db::{Db, StoreError};

/// Who made a change and from which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `admin:<email>`, `api-token:<prefix> (<email>)`, `scim:<token prefix>`, `cli`, `system`.
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>, ip: Option<String>) -> Self {
        Actor {
            name: name.into(),
            ip,
        }
    }

    /// Changes made by the gateway itself (scheduled metadata refresh, demo set-up).
    pub fn system() -> Self {
        Actor::new("system", None)
    }

    /// Changes made from the command line on the server.
    pub fn cli() -> Self {
        Actor::new("cli", None)
    }
}

/// One change, as recorded.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Change {
    pub fn new(action: &str, target: Option<&str>) -> Self {
        Change {
            action: action.into(),
            target: target.map(str::to_string),
            ..Change::default()
        }
    }

    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = d.into();
        self
    }

    pub fn before(mut self, v: Value) -> Self {
        self.before = Some(v);
        self
    }

    pub fn after(mut self, v: Value) -> Self {
        self.after = Some(v);
        self
    }
}

/// An entry as the console shows and exports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub tenant_id: Option<i64>,
    pub created_at: i64,
    pub actor: String,
    pub source_ip: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub detail: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Filters of the audit page and API (all optional, combined with AND).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Substring of the actor (case-insensitive).
    pub actor: Option<String>,
    /// Action prefix, e.g. `user.` or `license.assign`.
    pub action: Option<String>,
    /// Exact target (a user's SCIM id, a license code...).
    pub target: Option<String>,
    /// Unix seconds, inclusive.
    pub from: Option<i64>,
    /// Unix seconds, exclusive.
    pub to: Option<i64>,
}

pub(crate) async fn insert(
    conn: &mut sqlx::AnyConnection,
    tenant_id: Option<i64>,
    actor: &Actor,
    c: &Change,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor, action, target, detail, created_at, source_ip, before_state, after_state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant_id)
    .bind(&actor.name)
    .bind(&c.action)
    .bind(&c.target)
    .bind(&c.detail)
    .bind(now.timestamp())
    .bind(&actor.ip)
    .bind(c.before.as_ref().map(Value::to_string))
    .bind(c.after.as_ref().map(Value::to_string))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn entry(r: &AnyRow) -> Result<AuditEntry, StoreError> {
    let json = |col: &str| -> Result<Option<Value>, StoreError> {
        let s: Option<String> = r.try_get(col)?;
        Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
    };
    Ok(AuditEntry {
        id: r.try_get("id")?,
        tenant_id: r.try_get("tenant_id")?,
        created_at: r.try_get("created_at")?,
        actor: r.try_get("actor")?,
        source_ip: r.try_get("source_ip")?,
        action: r.try_get("action")?,
        target: r.try_get("target")?,
        detail: r.try_get("detail")?,
        before: json("before_state")?,
        after: json("after_state")?,
    })
}

/// Escape `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Db {
    /// Append an audit entry on its own (for changes that are one statement).
    pub async fn record_audit(
        &self,
        tenant_id: Option<i64>,
        actor: &Actor,
        change: Change,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool().acquire().await?;
        insert(&mut conn, tenant_id, actor, &change, now).await
    }

    /// A page of a tenant's audit entries, newest first, and the number matching.
    pub async fn audit_page(
        &self,
        tenant_id: i64,
        f: &AuditFilter,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<AuditEntry>), StoreError> {
        let cond = "tenant_id = $1
             AND ($2 IS NULL OR lower(actor) LIKE '%' || lower($2) || '%' ESCAPE '\\')
             AND ($3 IS NULL OR action LIKE $3 || '%' ESCAPE '\\')
             AND ($4 IS NULL OR target = $4)
             AND ($5 IS NULL OR created_at >= $5)
             AND ($6 IS NULL OR created_at < $6)";
        let actor = f.actor.as_deref().map(like_escape);
        let action = f.action.as_deref().map(like_escape);
        let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) AS n FROM audit_log WHERE {cond}"
        )))
        .bind(tenant_id)
        .bind(&actor)
        .bind(&action)
        .bind(&f.target)
        .bind(f.from)
        .bind(f.to)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM audit_log WHERE {cond} ORDER BY id DESC LIMIT $7 OFFSET $8"
        )))
        .bind(tenant_id)
        .bind(&actor)
        .bind(&action)
        .bind(&f.target)
        .bind(f.from)
        .bind(f.to)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        let items = rows.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
        Ok((total, items))
    }

    /// The newest audit entries of a tenant (tests and the CLI).
    pub async fn audit_entries(
        &self,
        tenant_id: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .audit_page(tenant_id, &AuditFilter::default(), 0, limit)
            .await?
            .1)
    }
}
