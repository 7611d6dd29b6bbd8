//! A secret's value versions as the versions list shows them: metadata
//! only, never a value. Each new value is a new version (1, 2, ...); a
//! store keeps the newest [`DEFAULT_VALUE_VERSIONS_KEPT`] (a setting) and
//! deletes older ones in the write that makes them too old.

use crate::clock::Timestamp;
use crate::crypto::SealedValue;
use crate::model::FIRST_VERSION;

/// How many value versions a secret keeps unless configured otherwise.
pub const DEFAULT_VALUE_VERSIONS_KEPT: u64 = 10;
/// The most a deployment may keep: a delete removes every kept version's
/// two items in one transaction, which takes at most 100 items.
pub const MAX_VALUE_VERSIONS_KEPT: u64 = 40;

/// One kept value version, as stored beside its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueVersion {
    pub number: u64,
    pub created_at: Timestamp,
    /// The subject whose create, update or restore wrote it.
    pub created_by: String,
    /// For a restore: the version whose value it carries again.
    pub restored_from: Option<u64>,
}

impl ValueVersion {
    /// The version `sealed` is kept as ([`kept_as`]), written `at` by
    /// `author`.
    pub fn written(
        sealed: &SealedValue,
        at: Timestamp,
        author: &str,
        restored_from: Option<u64>,
    ) -> Self {
        Self {
            number: kept_as(sealed),
            created_at: at,
            created_by: author.to_owned(),
            restored_from,
        }
    }
}

/// The version a value is kept as: the one it is sealed for, a value from
/// before versions were bound counting as the first.
pub fn kept_as(sealed: &SealedValue) -> u64 {
    sealed.scheme.value_version().unwrap_or(FIRST_VERSION)
}

/// The oldest version kept once `newest` is written, keeping `kept`
/// (at least 1): older ones are deleted with that write.
pub fn oldest_kept(newest: u64, kept: u64) -> u64 {
    newest.saturating_sub(kept.max(1)) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_versions_are_kept() {
        assert_eq!(oldest_kept(1, 10), 1);
        assert_eq!(oldest_kept(10, 10), 1);
        assert_eq!(oldest_kept(11, 10), 2);
        assert_eq!(oldest_kept(5, 1), 5);
        assert_eq!(oldest_kept(5, 0), 5, "the current value is always kept");
    }
}
