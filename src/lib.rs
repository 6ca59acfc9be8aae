//! sso-gateway: the SAML 2.0 service provider and provisioning endpoint between Okta
//! and the telephony vendor's apps.
//!
//! Layers (imports point down only): `cli` -> `app` -> `web` -> `session`, `keyring`, `store` ->
//! `directory`, `saml` (pure core), `clock`. `obs` (metrics, logs, readiness) is used by
//! `cli` and `web`.
//! See `docs/architecture.md`.

pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod directory;
pub mod keyring;
pub mod obs;
pub mod saml;
pub mod scim;
pub mod secret;
pub mod session;
pub mod store;
pub mod web;
