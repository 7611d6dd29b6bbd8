//! Deleted secrets kept for a recovery window. A delete answers and
//! behaves as the contract says (gone from list and retrieve at once, the
//! tag free, `total` one less), but keeps the secret's record and values
//! until the window ends, when the store drops them (DynamoDB: TTL). Until
//! then the secret can be listed among the deleted (metadata only) and
//! recovered under its tag.

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::model::{SecretId, SecretSummary};

/// The window unless configured otherwise.
pub const DEFAULT_RECOVERY_WINDOW_DAYS: u64 = 7;
/// The longest allowed, as AWS Secrets Manager's: past a month a deleted
/// secret is only storage someone forgot.
pub const MAX_RECOVERY_WINDOW_DAYS: u64 = 30;
const DAY_SECS: u64 = 86_400;

/// The deleted-secrets list's page size unless one is asked for, and the
/// most one page holds.
pub const DEFAULT_DELETED_PAGE_SIZE: u32 = 100;
pub const MAX_DELETED_PAGE_SIZE: u32 = 250;

/// How long a deleted secret stays recoverable; zero days deletes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryWindow {
    days: u64,
}

impl RecoveryWindow {
    /// No window: a delete removes every item at once.
    pub const NONE: Self = Self { days: 0 };

    /// A window of `days`, at most [`MAX_RECOVERY_WINDOW_DAYS`] (the
    /// configuration refuses more; a larger number here is held to it).
    pub fn days(days: u64) -> Self {
        Self {
            days: days.min(MAX_RECOVERY_WINDOW_DAYS),
        }
    }

    /// A delete made `at` by `by` under this window.
    pub fn deletion(self, at: Timestamp, by: &str) -> Deletion {
        Deletion {
            at,
            by: by.to_owned(),
            purge_at: (self.days > 0).then(|| at.plus_secs(self.days * DAY_SECS)),
        }
    }
}

/// A delete: when, by whom, and until when it can be undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub at: Timestamp,
    pub by: String,
    /// When the secret is gone for good; `None`: at once.
    pub purge_at: Option<Timestamp>,
}

/// A deleted secret as the store keeps it: its summary at the delete and
/// when it is gone for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedSecret {
    pub summary: SecretSummary,
    pub deleted_at: Timestamp,
    pub deleted_by: String,
    pub purge_at: Timestamp,
}

impl DeletedSecret {
    /// Whether it can still be recovered `now`. A store whose expiry lags
    /// (DynamoDB's TTL deletes within days of the time, not at it) may
    /// still hold one that cannot: it is treated as gone.
    pub fn recoverable_at(&self, now: Timestamp) -> bool {
        now < self.purge_at
    }
}

/// A page of a tenant's recoverable secrets, in id order, and the id the
/// next page starts after (`None`: this is the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedPage {
    pub secrets: Vec<DeletedSecret>,
    pub next: Option<SecretId>,
}

/// A valid request for a page of deleted secrets: the id it starts after
/// (from the previous page's `next`) and how many. Keyed, not numbered:
/// a page costs what it returns, however deep, and expiry (which moves no
/// counter) cannot shift the pages under a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedPageRequest {
    after: Option<SecretId>,
    size: u32,
}

impl DeletedPageRequest {
    pub fn new(after: Option<SecretId>, size: u32) -> Result<Self> {
        if !(1..=MAX_DELETED_PAGE_SIZE).contains(&size) {
            return Err(Error::bad_request(format!(
                "pageSize must be an integer from 1 to {MAX_DELETED_PAGE_SIZE}"
            )));
        }
        Ok(Self { after, size })
    }

    /// Parses the `after` and `pageSize` query parameters, each optional
    /// but given at most once; `after` must be a secret id.
    pub fn from_query(after: &[&str], page_size: &[&str]) -> Result<Self> {
        let after = match after {
            [] => None,
            [id] => Some(
                SecretId::parse(id)
                    .ok_or_else(|| Error::bad_request("after must be a secret id"))?,
            ),
            _ => return Err(Error::bad_request("after may be given once")),
        };
        let size = match page_size {
            [] => DEFAULT_DELETED_PAGE_SIZE,
            [size] if !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) => {
                size.parse().unwrap_or(0)
            }
            _ => 0,
        };
        Self::new(after, size)
    }

    pub fn after(&self) -> Option<&SecretId> {
        self.after.as_ref()
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    /// The page of `recoverable` (every recoverable secret after `after`,
    /// in id order, possibly more than one page): the first `size`, and
    /// where the next starts if any are left.
    pub fn page_of(&self, recoverable: impl IntoIterator<Item = DeletedSecret>) -> DeletedPage {
        let mut secrets: Vec<_> = recoverable
            .into_iter()
            .take(self.size as usize + 1)
            .collect();
        let next = (secrets.len() > self.size as usize).then(|| {
            secrets.truncate(self.size as usize);
            secrets.last().map(|last| last.summary.id.clone())
        });
        DeletedPage {
            secrets,
            next: next.flatten(),
        }
    }

    /// The page of `recoverable` from a store that stopped reading, with
    /// more left, after the entry `last_read` (its bound on one page's
    /// reads while expired entries it skips are still kept): a page that
    /// may be short, even empty, and always says where the next starts.
    pub fn page_read_up_to(
        &self,
        recoverable: impl IntoIterator<Item = DeletedSecret>,
        last_read: SecretId,
    ) -> DeletedPage {
        let mut page = self.page_of(recoverable);
        page.next.get_or_insert(last_read);
        page
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FIRST_VERSION, SecretName, Tag};

    fn deleted(purge_at: u64) -> DeletedSecret {
        DeletedSecret {
            summary: SecretSummary {
                id: SecretId::generate().unwrap(),
                name: SecretName::parse("n".into()).unwrap(),
                tag: Tag::parse("t").unwrap(),
                version: FIRST_VERSION,
                value_version: None,
            },
            deleted_at: Timestamp::from_secs(1),
            deleted_by: "alice".into(),
            purge_at: Timestamp::from_secs(purge_at),
        }
    }

    #[test]
    fn a_window_of_days_purges_that_many_days_after_the_delete() {
        let at = Timestamp::from_secs(1_000);
        let deletion = RecoveryWindow::days(7).deletion(at, "alice");
        assert_eq!(deletion.purge_at, Some(at.plus_secs(7 * 86_400)));
        assert_eq!(deletion.by, "alice");
        assert_eq!(RecoveryWindow::NONE.deletion(at, "a").purge_at, None);
        assert_eq!(RecoveryWindow::days(0), RecoveryWindow::NONE);
        assert_eq!(
            RecoveryWindow::days(365).deletion(at, "a").purge_at,
            Some(at.plus_secs(30 * 86_400)),
            "held to the most allowed"
        );
    }

    #[test]
    fn a_secret_is_recoverable_until_its_purge_time_and_not_at_it() {
        let secret = deleted(100);
        assert!(secret.recoverable_at(Timestamp::from_millis(99_999)));
        assert!(!secret.recoverable_at(Timestamp::from_secs(100)));
    }

    #[test]
    fn a_page_says_where_the_next_starts_only_when_more_are_left() {
        let all: Vec<_> = (0..5).map(|_| deleted(100)).collect();
        let request = DeletedPageRequest::new(None, 2).unwrap();
        let page = request.page_of(all.clone());
        assert_eq!(page.secrets, all[..2]);
        assert_eq!(page.next.as_ref(), Some(&all[1].summary.id));
        let last = DeletedPageRequest::new(None, 5)
            .unwrap()
            .page_of(all.clone());
        assert_eq!((last.secrets.len(), last.next), (5, None));
    }

    #[test]
    fn a_page_cut_short_starts_the_next_after_the_last_entry_read() {
        let mut all: Vec<_> = (0..3).map(|_| deleted(100)).collect();
        all.sort_by(|a, b| a.summary.id.cmp(&b.summary.id));
        let request = DeletedPageRequest::new(None, 5).unwrap();
        let last_read = SecretId::generate().unwrap();
        let short = request.page_read_up_to(all[..2].to_vec(), last_read.clone());
        assert_eq!(short.secrets, all[..2]);
        assert_eq!(short.next, Some(last_read.clone()));
        let empty = request.page_read_up_to(Vec::new(), last_read.clone());
        assert!(empty.secrets.is_empty());
        assert_eq!(empty.next, Some(last_read.clone()));
        // A full page still starts the next after its own last secret.
        let full = DeletedPageRequest::new(None, 2)
            .unwrap()
            .page_read_up_to(all.clone(), last_read);
        assert_eq!(full.next.as_ref(), Some(&all[1].summary.id));
    }

    #[test]
    fn page_requests_are_parsed_strictly() {
        let id = SecretId::generate().unwrap();
        let request = DeletedPageRequest::from_query(&[id.as_str()], &["10"]).unwrap();
        assert_eq!((request.after(), request.size()), (Some(&id), 10));
        let default = DeletedPageRequest::from_query(&[], &[]).unwrap();
        assert_eq!(
            (default.after(), default.size()),
            (None, DEFAULT_DELETED_PAGE_SIZE)
        );
        for (after, size) in [
            (&["not-an-id"][..], &[][..]),
            (&[id.as_str(), id.as_str()][..], &[][..]),
            (&[][..], &["0"][..]),
            (&[][..], &["251"][..]),
            (&[][..], &["1e2"][..]),
            (&[][..], &[" 5"][..]),
            (&[][..], &["5", "6"][..]),
        ] {
            let error = DeletedPageRequest::from_query(after, size).unwrap_err();
            assert_eq!(error.http_status(), 400, "{after:?} {size:?}");
        }
    }
}
