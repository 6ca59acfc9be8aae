//! `sso-gateway admin ...`: tenant and user administration from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

use crate::clock::{Clock, SystemClock};
use crate::saml::IdpMetadata;
use crate::store::{Db, NewTenant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Database URL (default: the embedded SQLite file).
    #[arg(long, global = true, default_value = super::serve::DEFAULT_DATABASE, env = "SSO_GATEWAY_DATABASE_URL")]
    database: String,
    /// The gateway's public base URL (for the SP entity ID and ACS URL printed).
    #[arg(long, global = true, default_value = super::serve::DEFAULT_PUBLIC_URL, env = "SSO_GATEWAY_PUBLIC_URL")]
    public_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage tenants (customer organizations).
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage users (as provisioning would).
    #[command(subcommand)]
    User(UserCmd),
    /// Manage SCIM bearer tokens (Okta: Provisioning > API Integration).
    #[command(subcommand)]
    ScimToken(ScimTokenCmd),
    /// A tenant's license inventory (how many of each license were bought).
    #[command(subcommand)]
    License(LicenseCmd),
    /// Create a Configuration Manager operator (sees every tenant). The password is read
    /// from SSO_GATEWAY_ADMIN_PASSWORD, else from the first line of stdin.
    CreateOperator {
        #[arg(long)]
        email: String,
    },
    /// Create a Configuration Manager admin of one tenant. The password is read from
    /// SSO_GATEWAY_ADMIN_PASSWORD, else from the first line of stdin.
    CreateTenantAdmin {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum LicenseCmd {
    /// Set how many of a license the tenant bought (never below what is assigned).
    Set {
        #[arg(long)]
        tenant: String,
        /// License code (X2, X4, X6, X7, X8, CC-AGENT, CC-SUPERVISOR, RECORDING).
        #[arg(long)]
        license: String,
        #[arg(long)]
        quantity: i64,
    },
    /// Show the catalog with bought, assigned and available counts.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ScimTokenCmd {
    /// Create a token: prints the SCIM base URL and the token, shown only this once.
    Create {
        #[arg(long)]
        tenant: String,
        /// A note to recognise the token by (e.g. "Okta production").
        #[arg(long, default_value = "")]
        label: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id (several tokens may be live during a rotation).
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCmd {
    /// Create a tenant trusting the IdP described by its SAML metadata.
    Create {
        /// Short lowercase name used in URLs, e.g. `acme`.
        slug: String,
        /// The IdP's SAML metadata file (Okta: the app's "Identity Provider metadata").
        #[arg(long, value_name = "FILE")]
        idp_metadata: PathBuf,
        /// Accept IdP-initiated logins (Okta dashboard tiles).
        #[arg(long)]
        allow_idp_initiated: bool,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
        /// Email domains for home-realm discovery (repeatable).
        #[arg(long = "email-domain")]
        email_domains: Vec<String>,
        /// Absolute URL prefixes users may be sent to after login (repeatable).
        #[arg(long = "allowed-return-url")]
        allowed_return_urls: Vec<String>,
        /// The provisioned (SCIM) attribute the Federation ID follows, e.g. `externalId`
        /// or `emails.value` (default userName).
        #[arg(long, default_value = "userName")]
        federation_attribute: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create an active user whose Federation ID is the user name, as provisioning does.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user_name: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// License code (X2, X4, X6, X7, X8, add-ons), repeatable; within the tenant's
        /// inventory (`admin license set`).
        #[arg(long = "license", value_name = "CODE")]
        licenses: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set a user's Federation ID by hand and pin it, so provisioning no longer changes it
    /// (or --unpin to let it follow the provisioned attribute again).
    SetFederationId {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        user_name: String,
        /// The Federation ID (the value the IdP sends as NameID or attribute).
        #[arg(long, required_unless_present = "unpin")]
        federation_id: Option<String>,
        #[arg(long, conflicts_with = "federation_id")]
        unpin: bool,
    },
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("sso-gateway admin: {msg}");
    ExitCode::from(2)
}

pub fn run(args: Args) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    rt.block_on(async move {
        let db = match super::serve::open_db(&args.database).await {
            Ok(db) => db,
            Err(e) => return fail(e),
        };
        match args.command {
            Command::CreateOperator { email } => {
                super::admin_accounts::create(&db, None, &email).await
            }
            Command::CreateTenantAdmin { tenant, email } => {
                super::admin_accounts::create(&db, Some(&tenant), &email).await
            }
            Command::Tenant(TenantCmd::Create {
                slug,
                idp_metadata,
                allow_idp_initiated,
                name,
                email_domains,
                allowed_return_urls,
                federation_attribute,
                json,
            }) => {
                let code = create_tenant(
                    &db,
                    &args.public_url,
                    slug.clone(),
                    idp_metadata,
                    allow_idp_initiated,
                    name,
                    email_domains,
                    allowed_return_urls,
                    json,
                )
                .await;
                if code == ExitCode::SUCCESS && federation_attribute != "userName" {
                    match db.tenant_by_slug(&slug).await {
                        Ok(Some(t)) => {
                            if let Err(e) = db
                                .set_federation_attribute(t.id, &federation_attribute)
                                .await
                            {
                                return fail(e);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => return fail(e),
                    }
                }
                code
            }
            Command::ScimToken(ScimTokenCmd::Create {
                tenant,
                label,
                json,
            }) => scim_token_create(&db, &args.public_url, tenant, label, json).await,
            Command::License(LicenseCmd::Set {
                tenant,
                license,
                quantity,
            }) => super::admin_licenses::set(&db, &tenant, &license, quantity).await,
            Command::License(LicenseCmd::List { tenant, json }) => {
                super::admin_licenses::list(&db, &tenant, json).await
            }
            Command::ScimToken(ScimTokenCmd::Revoke { tenant, id }) => {
                scim_token_revoke(&db, tenant, id).await
            }
            Command::User(UserCmd::SetFederationId {
                tenant,
                user_name,
                federation_id,
                unpin,
            }) => {
                let fid = if unpin { None } else { federation_id };
                set_federation_id(&db, tenant, user_name, fid).await
            }
            Command::User(UserCmd::Create {
                tenant,
                user_name,
                name,
                licenses,
                json,
            }) => create_user(&db, tenant, user_name, name, licenses, json).await,
        }
    })
}

fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

#[allow(clippy::too_many_arguments)]
async fn create_tenant(
    db: &Db,
    public_url: &str,
    slug: String,
    metadata: PathBuf,
    allow_idp_initiated: bool,
    name: Option<String>,
    email_domains: Vec<String>,
    allowed_return_urls: Vec<String>,
    json: bool,
) -> ExitCode {
    if !valid_slug(&slug) {
        return fail("the slug must be lowercase letters, digits and '-' (at most 63)");
    }
    let bytes = match std::fs::read(&metadata) {
        Ok(b) => b,
        Err(e) => return fail(format!("cannot read {}: {e}", metadata.display())),
    };
    let md = match IdpMetadata::parse(&bytes) {
        Ok(m) => m,
        Err(e) => return fail(format!("{}: {e} ({})", metadata.display(), e.code())),
    };
    let t = NewTenant {
        slug: slug.clone(),
        display_name: name.unwrap_or_else(|| slug.clone()),
        idp_entity_id: md.entity_id.clone(),
        idp_sso_url: md.sso_url.clone(),
        idp_slo_url: md.slo_url.clone(),
        allow_idp_initiated,
        email_domains,
        allowed_return_urls,
        certificates: md
            .signing_certificates
            .iter()
            .map(|c| c.der_base64().to_string())
            .collect(),
    };
    let tenant = match db.create_tenant(&t, SystemClock.now()).await {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let pu = public_url.trim_end_matches('/');
    let out = json!({
        "slug": tenant.slug,
        "sp_entity_id": tenant.sp_entity_id(pu),
        "acs_url": tenant.acs_url(pu),
        "metadata_url": tenant.sp_entity_id(pu),
        "slo_url": tenant.slo_url(pu),
        "idp_entity_id": tenant.idp_entity_id,
        "allow_idp_initiated": tenant.allow_idp_initiated,
    });
    if json {
        println!("{out}");
    } else {
        println!("Created tenant '{}'. In Okta, set:", tenant.slug);
        println!("  Single sign-on URL:            {}", tenant.acs_url(pu));
        println!(
            "  Audience URI (SP Entity ID):   {}",
            tenant.sp_entity_id(pu)
        );
        println!(
            "  SP metadata:                   {}",
            tenant.sp_entity_id(pu)
        );
    }
    ExitCode::SUCCESS
}

async fn create_user(
    db: &Db,
    tenant: String,
    user_name: String,
    name: String,
    licenses: Vec<String>,
    json: bool,
) -> ExitCode {
    let t = match db.tenant_by_slug(&tenant).await {
        Ok(Some(t)) => t,
        Ok(None) => return fail(format!("no tenant '{tenant}'")),
        Err(e) => return fail(e),
    };
    let licenses: Vec<String> = licenses.iter().map(|l| l.to_ascii_uppercase()).collect();
    match db
        .create_user(t.id, user_name.trim(), &name, &licenses, SystemClock.now())
        .await
    {
        Ok(u) => {
            if json {
                println!(
                    "{}",
                    json!({"id": u.id, "tenant": t.slug, "user_name": u.user_name, "federation_id": u.federation_id,
                           "active": u.active, "licenses": u.licenses, "services": u.apps})
                );
            } else {
                println!(
                    "Created user {} (Federation ID {}) in '{}'",
                    u.user_name, u.federation_id, t.slug
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn scim_token_create(
    db: &Db,
    public_url: &str,
    tenant: String,
    label: String,
    json: bool,
) -> ExitCode {
    let t = match db.tenant_by_slug(&tenant).await {
        Ok(Some(t)) => t,
        Ok(None) => return fail(format!("no tenant '{tenant}'")),
        Err(e) => return fail(e),
    };
    let (id, token) = match crate::web::scim::issue_token(db, t.id, &label, SystemClock.now()).await
    {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let base = format!("{}/scim/v2/{}", public_url.trim_end_matches('/'), t.slug);
    if json {
        println!(
            "{}",
            json!({"tenant": t.slug, "id": id, "scim_base_url": base, "token": token})
        );
    } else {
        println!("In Okta > Provisioning > Integration, set:");
        println!("  SCIM connector base URL:  {base}");
        println!("  Authentication Mode:      HTTP Header");
        println!("  Authorization (Bearer):   {token}");
        println!("The token is shown only now (token id {id}); it is stored hashed.");
    }
    ExitCode::SUCCESS
}

async fn scim_token_revoke(db: &Db, tenant: String, id: i64) -> ExitCode {
    let t = match db.tenant_by_slug(&tenant).await {
        Ok(Some(t)) => t,
        Ok(None) => return fail(format!("no tenant '{tenant}'")),
        Err(e) => return fail(e),
    };
    match db.revoke_scim_token(t.id, id, SystemClock.now()).await {
        Ok(true) => {
            println!("Revoked token {id} of '{}'", t.slug);
            ExitCode::SUCCESS
        }
        Ok(false) => fail(format!("no live token {id} in '{}'", t.slug)),
        Err(e) => fail(e),
    }
}

async fn set_federation_id(
    db: &Db,
    tenant: String,
    user_name: String,
    fid: Option<String>,
) -> ExitCode {
    let t = match db.tenant_by_slug(&tenant).await {
        Ok(Some(t)) => t,
        Ok(None) => return fail(format!("no tenant '{tenant}'")),
        Err(e) => return fail(e),
    };
    match db
        .pin_federation_id(
            t.id,
            &user_name,
            fid.as_deref(),
            &crate::store::Actor::cli(),
            SystemClock.now(),
        )
        .await
    {
        Ok(()) => {
            match fid {
                Some(f) => println!("Federation ID of {user_name} set to {f} and pinned"),
                None => {
                    println!("Federation ID of {user_name} unpinned: it follows provisioning again")
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
