//! SCIM 2.0 provisioning: resources, errors, filters, PATCH.

pub mod discovery;
pub mod engine;
pub mod resource;
