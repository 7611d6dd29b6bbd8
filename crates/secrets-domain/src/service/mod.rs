//! The operations, independent of HTTP and of AWS: reads and delete
//! here, [`create`], [`update`], [`resolve`], [`batch_resolve`],
//! [`versions`], [`restore`] and [`deleted`] each in a file of its own.

mod batch_resolve;
mod create;
mod deleted;
mod resolve;
mod restore;
mod update;
mod versions;

use crate::audit::Actor;
use crate::clock::SystemClock;
use crate::deleted::RecoveryWindow;
use crate::error::{Error, Result};
use crate::model::{SecretSummary, TagOrId, TenantId};
use crate::page::{Page, PageRequest};
use crate::ports::{Clock, DeleteGuard, SecretStore};
use crate::precondition::IfMatch;

pub use batch_resolve::{BatchEntry, BatchKeys, MAX_BATCH_KEYS};
pub use create::Created;
pub use resolve::Resolved;
pub use versions::VersionList;

/// The secrets service of one function. `K` is the data key source; the
/// functions that never write or open a value use `()` and so cannot call
/// create, update or resolve at all.
pub struct Secrets<S, K = ()> {
    store: S,
    keys: K,
    clock: Box<dyn Clock>,
    recovery: RecoveryWindow,
}

impl<S: SecretStore, K> Secrets<S, K> {
    /// The service on the system clock.
    pub fn new(store: S, keys: K) -> Self {
        Self {
            store,
            keys,
            clock: Box::new(SystemClock),
            recovery: RecoveryWindow::NONE,
        }
    }

    /// The same service, keeping deleted secrets recoverable for `window`
    /// (none unless given: a delete removes everything at once).
    pub fn with_recovery_window(self, window: RecoveryWindow) -> Self {
        Self {
            recovery: window,
            ..self
        }
    }

    /// The same service, reading the time from `clock`.
    pub fn with_clock(self, clock: impl Clock + 'static) -> Self {
        Self {
            clock: Box::new(clock),
            ..self
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn keys(&self) -> &K {
        &self.keys
    }

    /// The clock every time of this service comes from.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    pub async fn list(&self, tenant: &TenantId, request: PageRequest) -> Result<Page> {
        self.store.list(tenant, request).await
    }

    pub async fn get(&self, tenant: &TenantId, key: &TagOrId) -> Result<SecretSummary> {
        self.store.find(tenant, key).await?.ok_or(Error::NotFound)
    }

    /// The secret with the value version of its current value: read by id
    /// (a store's record by id names it; one by tag need not, so that tag
    /// items, which every list page reads, stay small). A tag is first
    /// resolved to its id.
    pub(crate) async fn record(&self, tenant: &TenantId, key: &TagOrId) -> Result<SecretSummary> {
        let found = self.get(tenant, key).await?;
        match key {
            TagOrId::Id(_) => Ok(found),
            // A delete between the reads: gone. A re-create under the tag:
            // another secret, whose record is read by its own id.
            TagOrId::Tag(_) => self.get(tenant, &TagOrId::Id(found.id)).await,
        }
    }

    /// With `If-Match`, deletes only the version it names (412 otherwise);
    /// `*` names any current version.
    pub async fn delete(
        &self,
        actor: &Actor,
        key: &TagOrId,
        precondition: Option<&IfMatch>,
    ) -> Result<()> {
        let current = self.get(&actor.tenant, key).await?;
        let guard = match precondition {
            Some(precondition) if !precondition.matches_any_version() => {
                precondition.check(&current)?;
                DeleteGuard::SameVersion
            }
            _ => DeleteGuard::Exists,
        };
        let at = self.clock.now();
        let record = actor.allowed(&current, at);
        let deletion = self.recovery.deletion(at, &actor.subject);
        self.store
            .delete(&actor.tenant, &current, guard, &deletion, Some(&record))
            .await
    }
}
