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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    checks: Vec<Check>,
    /// A trace that is off records nothing and renders no detail (the ACS path, which
    /// reports the error alone: issue 9 measured the details at several microseconds).
    enabled: bool,
}

/// Serialized as the list of checks.
impl Serialize for Trace {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.checks.serialize(s)
    }
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

/// A check's detail: a string, or a closure that renders it only when recorded.
pub trait Detail {
    fn render(self) -> String;
}

impl Detail for &str {
    fn render(self) -> String {
        self.to_string()
    }
}

impl Detail for String {
    fn render(self) -> String {
        self
    }
}

impl<F: FnOnce() -> String> Detail for F {
    fn render(self) -> String {
        self()
    }
}

impl Trace {
    pub fn new() -> Self {
        Trace {
            checks: Vec::new(),
            enabled: true,
        }
    }

    /// False for a trace made by [`Trace::off`].
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// A trace that records nothing.
    pub fn off() -> Self {
        Trace {
            checks: Vec::new(),
            enabled: false,
        }
    }

    pub fn pass(&mut self, check: &'static str, detail: impl Detail) {
        if self.enabled {
            self.checks.push(Check {
                check,
                passed: true,
                detail: detail.render(),
            });
        }
    }

    pub fn fail(&mut self, check: &'static str, detail: impl Detail) {
        if self.enabled {
            self.checks.push(Check {
                check,
                passed: false,
                detail: detail.render(),
            });
        }
    }

    /// Record the outcome of a fallible check and pass the result through.
    pub fn record<T, E: std::fmt::Display>(
        &mut self,
        check: &'static str,
        ok_detail: impl FnOnce(&T) -> String,
        r: Result<T, E>,
    ) -> Result<T, E> {
        if self.enabled {
            match &r {
                Ok(v) => self.pass(check, ok_detail(v)),
                Err(e) => self.fail(check, e.to_string()),
            }
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
