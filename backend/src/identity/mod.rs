//! Who the applicant is (实名认证), and who the registry says may apply for
//! a business.
//!
//! Two checks stand between a phone and a business's credit data:
//!
//! 1. [`RealNameCheck`]: do this name and resident ID number belong to the
//!    person whose mobile number logged in? Answered by an outside service
//!    in production — a carrier's three-element check (运营商三要素: name, ID
//!    number, mobile) or the public-security two-element check (公安二要素:
//!    name, ID number; the mobile then only proves the session) — and by a
//!    roster file in development ([`roster::DevRoster`]). Only a match is
//!    stored; "unavailable" stores nothing and says "try again later".
//! 2. [`registry`]: does the registration export name that person (name and
//!    the keyed blind index of the ID number) as the business's registered
//!    operator or legal representative?
//!
//! `services::identity` runs both for the merchant; `connectors` then read
//! only the subject a consent names, signed by that verified person.

pub mod registry;
pub mod roster;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a real-name check is asked: the person as typed and the mobile
/// number the session logged in with. Holds an ID number, so no `Debug`.
pub struct RealNameClaim<'a> {
    pub name: &'a str,
    /// Normalised (`shared::ids::ResidentId::expose`).
    pub resident_id: &'a str,
    /// Normalised (`shared::ids::MobileNumber::as_str`).
    pub mobile: &'a str,
}

/// A real-name check's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealNameAnswer {
    /// The three elements belong together.
    Match,
    /// They do not (or the service knows no such person).
    NoMatch,
    /// No answer now (service down, timeout, quota): nothing may be
    /// concluded, nothing is stored, the merchant tries again later.
    Unavailable,
}

impl RealNameAnswer {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::NoMatch => "no_match",
            Self::Unavailable => "unavailable",
        }
    }
}

/// A real-name verification service.
///
/// How a production adapter plugs in: implement this trait for a client of
/// the provider (a carrier's 三要素 API, or the public-security 二要素 API
/// through the city's data-sharing platform), map the provider's "一致" to
/// [`RealNameAnswer::Match`], "不一致" / "查无此人" to
/// [`RealNameAnswer::NoMatch`], and every transport error, timeout (keep it
/// short, a few seconds), quota or "系统繁忙" answer to
/// [`RealNameAnswer::Unavailable`]; add a value for it to
/// [`RealNameSetting::parse`] (e.g. `carrier3:<endpoint>`), and read its
/// credentials from the environment like the other keys. The call is made
/// on a blocking thread (inside `db::run`), outside any transaction; it must
/// not log the claim.
pub trait RealNameCheck: Send + Sync {
    fn check(&self, claim: &RealNameClaim<'_>) -> RealNameAnswer;
    /// A short name for the audit log, e.g. `dev-roster`.
    fn name(&self) -> &'static str;
}

/// `MARKET_CODE_REAL_NAME_CHECK`: which [`RealNameCheck`] the server uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealNameSetting {
    /// The roster in the data folder that the demo seed and the synthetic
    /// population write (`roster`, or the variable unset): development only.
    DevRoster(PathBuf),
    /// A roster file named on purpose (`roster:<file>`), e.g. the county's
    /// own list of registered operators and their mobiles.
    Roster(PathBuf),
}

pub const REAL_NAME_ENV: &str = "MARKET_CODE_REAL_NAME_CHECK";

impl RealNameSetting {
    /// `roster` (the default: `<data_dir>/real-name-roster.csv`) or
    /// `roster:<file>`. Anything else stops the server: a check silently
    /// replaced by another would verify people it should not.
    pub fn parse(text: &str, data_dir: &Path) -> Result<Self, String> {
        let text = text.trim();
        match text.split_once(':') {
            None if text.is_empty() || text == "roster" => {
                Ok(Self::DevRoster(data_dir.join(roster::ROSTER_FILE)))
            }
            Some(("roster", path)) if !path.trim().is_empty() => {
                Ok(Self::Roster(PathBuf::from(path.trim())))
            }
            _ => Err(format!(
                "{REAL_NAME_ENV}={text:?}: this build knows `roster` and `roster:<file>`"
            )),
        }
    }

    pub fn build(&self) -> Arc<dyn RealNameCheck> {
        match self {
            Self::DevRoster(path) | Self::Roster(path) => {
                Arc::new(roster::DevRoster::new(path.clone()))
            }
        }
    }

    /// The development roster, when that is the check in use: where the
    /// demo seed and `backend dev-business` add their people.
    pub fn roster_path(&self) -> Option<&Path> {
        match self {
            Self::DevRoster(path) | Self::Roster(path) => Some(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings() {
        let data = Path::new("/srv/data");
        let default = data.join("real-name-roster.csv");
        assert_eq!(
            RealNameSetting::parse("", data),
            Ok(RealNameSetting::DevRoster(default.clone()))
        );
        assert_eq!(
            RealNameSetting::parse(" roster ", data),
            Ok(RealNameSetting::DevRoster(default))
        );
        assert_eq!(
            RealNameSetting::parse("roster:/tmp/r.csv", data),
            Ok(RealNameSetting::Roster(PathBuf::from("/tmp/r.csv")))
        );
        for bad in ["carrier3", "roster:", "anything:else"] {
            assert!(RealNameSetting::parse(bad, data).is_err(), "{bad}");
        }
    }
}
