//! One integration-test binary (faster to link than one per file).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod admin;
mod admin_idp;
mod admin_tools;
mod api;
mod c14n;
mod cli;
mod cluster;
mod common;
mod console;
mod console_accounts;
mod console_idp;
mod console_users;
mod console_util;
mod contract;
mod demo;
mod fixtures;
mod fuzz_regressions;
mod hardening;
mod mint;
mod mutations;
mod observability;
mod oracle;
mod outbound;
mod purity;
mod scim;
mod scim_filter;
mod scim_patch;
mod scim_sql;
mod sp_keys;
mod web;
mod xmlenc;
mod xmlsec_verdict;
mod xsw_corpus;
