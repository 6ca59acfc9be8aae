//! sso-gateway: the SAML 2.0 service provider and provisioning endpoint between Okta
//! and the telephony vendor's apps.
//!
//! Layers (imports point down only): `cli` -> `saml` (pure core) and `clock`.
//! See `docs/architecture.md`.

pub mod cli;
pub mod clock;
pub mod saml;
