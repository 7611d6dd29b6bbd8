//! The operations of the service, named as the contract names them (its
//! `operationId`s; `resolveSecret` and `listSecretVersions` are ours). Logs,
//! metrics and audit records all use these names.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    List,
    Get,
    Create,
    Update,
    Delete,
    Resolve,
    /// A secret's kept value versions (metadata): the get function's
    /// second route.
    ListVersions,
    /// An earlier value version made current again: the update function's
    /// second route.
    RestoreVersion,
    /// A restore's value sealed again as its new version: the reseal
    /// function, invoked by the update function alone (no route).
    Reseal,
    /// A tenant's deleted secrets still recoverable (metadata): the list
    /// function's second route.
    ListDeleted,
    /// A deleted secret brought back under its tag: the delete function's
    /// second route.
    RecoverDeleted,
    /// Committed changes published as events, from the audit table's
    /// stream: the publish function (no route).
    PublishChanges,
}

impl Operation {
    pub const ALL: [Self; 12] = [
        Self::List,
        Self::Get,
        Self::Create,
        Self::Update,
        Self::Delete,
        Self::Resolve,
        Self::ListVersions,
        Self::RestoreVersion,
        Self::Reseal,
        Self::ListDeleted,
        Self::RecoverDeleted,
        Self::PublishChanges,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::List => "listAllSecrets",
            Self::Get => "getSecret",
            Self::Create => "createSecret",
            Self::Update => "updateSecret",
            Self::Delete => "deleteSecret",
            Self::Resolve => "resolveSecret",
            Self::ListVersions => "listSecretVersions",
            Self::RestoreVersion => "restoreSecretVersion",
            Self::Reseal => "resealValue",
            Self::ListDeleted => "listDeletedSecrets",
            Self::RecoverDeleted => "recoverDeletedSecret",
            Self::PublishChanges => "publishChanges",
        }
    }

    /// The operation named `name`, as [`Operation::as_str`] names it.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// Whether every request for it leaves an audit record: the operations
    /// that change a secret or reveal its value, not those that read
    /// metadata.
    pub fn is_audited(self) -> bool {
        // A reseal is recorded by the restore that asked for it.
        !matches!(
            self,
            Self::List
                | Self::Get
                | Self::ListVersions
                | Self::Reseal
                | Self::ListDeleted
                | Self::PublishChanges
        )
    }
}

impl Serialize for Operation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_contracts_and_unique() {
        let names: std::collections::BTreeSet<_> =
            Operation::ALL.iter().map(|op| op.as_str()).collect();
        assert_eq!(names.len(), Operation::ALL.len());
        assert_eq!(
            serde_json::to_value(Operation::List).unwrap(),
            "listAllSecrets"
        );
    }

    #[test]
    fn reads_of_metadata_are_not_audited() {
        let audited: Vec<_> = Operation::ALL
            .into_iter()
            .filter(|op| op.is_audited())
            .collect();
        assert_eq!(
            audited,
            [
                Operation::Create,
                Operation::Update,
                Operation::Delete,
                Operation::Resolve,
                Operation::RestoreVersion,
                Operation::RecoverDeleted
            ]
        );
    }
}
