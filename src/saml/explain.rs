//! The record of checks performed during one verification, for `--explain`, the
//! admin "assertion lab" and support.

use serde::Serialize;

/// One check: its name, whether it passed, and the values compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub check: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// The ordered list of checks of one verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Trace {
    checks: Vec<Check>,
}

impl Trace {
    pub fn new() -> Self {
        Trace::default()
    }

    pub fn pass(&mut self, check: &'static str, detail: impl Into<String>) {
        self.checks.push(Check {
            check,
            passed: true,
            detail: detail.into(),
        });
    }

    pub fn fail(&mut self, check: &'static str, detail: impl Into<String>) {
        self.checks.push(Check {
            check,
            passed: false,
            detail: detail.into(),
        });
    }

    /// Record the outcome of a fallible check and pass the result through.
    pub fn record<T, E: std::fmt::Display>(
        &mut self,
        check: &'static str,
        ok_detail: impl FnOnce(&T) -> String,
        r: Result<T, E>,
    ) -> Result<T, E> {
        match &r {
            Ok(v) => self.pass(check, ok_detail(v)),
            Err(e) => self.fail(check, e.to_string()),
        }
        r
    }

    /// Append the checks of another trace (a step recorded on the side).
    pub fn extend(&mut self, other: Trace) {
        self.checks.extend(other.checks);
    }

    pub fn checks(&self) -> &[Check] {
        &self.checks
    }
}
