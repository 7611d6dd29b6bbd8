//! A target of the issues, what was measured against it, and the verdict.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Met,
    NotMet,
    /// A figure the target needs was not measured.
    Missing,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::NotMet => "NOT MET",
            Self::Missing => "MISSING",
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    pub verdict: Verdict,
}

impl Target {
    /// `met`: None when a figure the target needs is missing.
    pub fn new(target: &str, measured: String, met: Option<bool>) -> Self {
        Self {
            target: target.to_owned(),
            measured,
            verdict: match met {
                Some(true) => Verdict::Met,
                Some(false) => Verdict::NotMet,
                None => Verdict::Missing,
            },
        }
    }
}
