use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use secrets_domain::crypto::SealedValue;
use secrets_domain::model::SecretName;

/// What a [`crate::MemoryStore`] is told to let happen at the worst moment:
/// another writer's change landing just before the next one, or an audit
/// log that refuses every record from now on. Each is set by a test, taken
/// by the store under its own lock.
#[derive(Default)]
pub struct Interference {
    refusing_audit: AtomicBool,
    change_before_next_write: Mutex<Option<TheirChange>>,
    value_before_next_value_read: Mutex<Option<SealedValue>>,
    twin_before_next_insert: AtomicBool,
}

impl Interference {
    /// Every audit record is refused from now on, as by an unavailable
    /// table; a change whose record is refused does not happen either.
    pub fn refuse_audit_records(&self) {
        self.refusing_audit.store(true, Ordering::SeqCst);
    }

    /// Just before the next update or delete, another writer renames the
    /// secret.
    pub fn rename_before_next_write(&self, name: &str) {
        let name = SecretName::parse(name.to_owned()).expect("a valid name");
        *self.lock_change() = Some(TheirChange {
            name: Some(name),
            sealed: None,
        });
    }

    /// Just before the next update or delete, another writer gives the
    /// secret a new value (sealed for the value version it would have).
    pub fn new_value_before_next_write(&self, sealed: SealedValue) {
        *self.lock_change() = Some(TheirChange {
            name: None,
            sealed: Some(sealed),
        });
    }

    /// Just before the next read of a value, another writer gives the
    /// secret a new value (sealed for the value version it would have),
    /// as an update landing between a resolve's two reads.
    pub fn new_value_before_next_value_read(&self, sealed: SealedValue) {
        *self
            .value_before_next_value_read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(sealed);
    }

    /// Just before the next insert, another writer creates the same secret
    /// (same tag, same `Idempotency-Key`) under another id.
    pub fn twin_before_next_insert(&self) {
        self.twin_before_next_insert.store(true, Ordering::SeqCst);
    }

    pub(crate) fn refuses_audit(&self) -> bool {
        self.refusing_audit.load(Ordering::SeqCst)
    }

    pub(crate) fn take_change(&self) -> Option<TheirChange> {
        self.lock_change().take()
    }

    pub(crate) fn take_value_before_read(&self) -> Option<SealedValue> {
        self.value_before_next_value_read
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    pub(crate) fn take_twin(&self) -> bool {
        self.twin_before_next_insert.swap(false, Ordering::SeqCst)
    }

    fn lock_change(&self) -> std::sync::MutexGuard<'_, Option<TheirChange>> {
        self.change_before_next_write
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Another writer's update, landing first.
pub(crate) struct TheirChange {
    pub(crate) name: Option<SecretName>,
    pub(crate) sealed: Option<SealedValue>,
}
