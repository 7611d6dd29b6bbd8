//! The eight functions, each named once: what it is called (its package,
//! binary and `cargo lambda` name), which operation it serves, where its
//! route is, and what it needs at start-up (a token verifier, an audit
//! table, which KMS keys). Everything else that lists the functions (the
//! Makefile, `Cargo.toml`'s router, template.yaml, the IAM manifest) is
//! checked against this table by `tests/functions_agree.rs`.

use secrets_domain::operation::Operation;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    ListSecrets,
    GetSecret,
    CreateSecret,
    UpdateSecret,
    DeleteSecret,
    ResolveSecret,
    ResealSecret,
    PublishChanges,
}

/// What a function does with KMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KmsUse {
    /// Nothing: no KMS client, no key setting.
    None,
    /// Seals new values under data keys of `KMS_KEY_ID`.
    Seal,
    /// Seals values, and fingerprints idempotent creates with the HMAC key
    /// `IDEMPOTENCY_MAC_KEY_ID`.
    SealAndFingerprint,
    /// Opens values, under the key each envelope names; never generates.
    Open,
    /// Opens a restore's earlier value and seals it again under data keys
    /// of `KMS_KEY_ID`: the reseal function alone, which has no route.
    Reseal,
}

/// An API Gateway route: method, resource path, and who may pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub door: Door,
}

/// How a route's callers are told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    /// A bearer JWT, verified by the function: the contract's routes.
    Token,
    /// An AWS SigV4 signature, verified by API Gateway (`AWS_IAM`), whose
    /// IAM policies alone decide which tenants' paths a caller may invoke;
    /// the function trusts the principal API Gateway names and nothing the
    /// caller says. Resolve's route.
    Iam,
}

const SECRETS: &str = "/api/v1/secrets";
const SECRET: &str = "/api/v1/secrets/{tagOrId}";
/// A secret's kept value versions: metadata, read with the get permission.
const SECRET_VERSIONS: &str = "/api/v1/secrets/{tagOrId}/versions";
/// A kept version made current again: a change, with the change permission.
const RESTORE_VERSION: &str = "/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore";
/// A tenant's deleted secrets still recoverable: metadata, with the read
/// permission. Not under /api/v1/secrets: a secret may be tagged `deleted`.
const DELETED_SECRETS: &str = "/api/v1/deleted-secrets";
/// A deleted secret brought back: with the delete permission.
const RECOVER: &str = "/api/v1/deleted-secrets/{id}/restore";
/// The tenant is in the path so that an IAM policy can name it.
const RESOLVE: &str = "/internal/v1/tenants/{tenant}/secrets/{tagOrId}";
/// Batch resolve: the same tenant path, the keys in the query, so that the
/// policies naming a tenant's paths (`.../tenants/<t>/*`) cover it too.
const RESOLVE_MANY: &str = "/internal/v1/tenants/{tenant}/secrets";

struct Spec {
    name: &'static str,
    operation: Operation,
    routes: &'static [Route],
    kms: KmsUse,
}

const fn route(method: &'static str, path: &'static str) -> Route {
    Route {
        method,
        path,
        door: Door::Token,
    }
}

const fn signed(method: &'static str, path: &'static str) -> Route {
    Route {
        method,
        path,
        door: Door::Iam,
    }
}

// Constants, so that each function's routes live as long as the program.
const LIST: &[Route] = &[route("GET", SECRETS), route("GET", DELETED_SECRETS)];
const GET: &[Route] = &[route("GET", SECRET), route("GET", SECRET_VERSIONS)];
const CREATE: &[Route] = &[route("POST", SECRETS)];
const UPDATE: &[Route] = &[route("PUT", SECRET), route("POST", RESTORE_VERSION)];
const DELETE: &[Route] = &[route("DELETE", SECRET), route("POST", RECOVER)];
const RESOLVE_ROUTES: &[Route] = &[signed("GET", RESOLVE), signed("GET", RESOLVE_MANY)];
/// Invoked through Lambda, never by API Gateway: the reseal function by the
/// update function, the publish function by its stream.
const NO_ROUTE: &[Route] = &[];

impl Function {
    pub const ALL: [Self; 8] = [
        Self::ListSecrets,
        Self::GetSecret,
        Self::CreateSecret,
        Self::UpdateSecret,
        Self::DeleteSecret,
        Self::ResolveSecret,
        Self::ResealSecret,
        Self::PublishChanges,
    ];

    const fn spec(self) -> Spec {
        use KmsUse::{None as NoKms, Open, Reseal as Reopen, Seal, SealAndFingerprint};
        use Operation::{Create, Delete, Get, List, PublishChanges, Reseal, Resolve, Update};
        #[rustfmt::skip]
        let spec = match self {
            Self::ListSecrets => Spec { name: "list-secrets", operation: List, routes: LIST, kms: NoKms },
            Self::GetSecret => Spec { name: "get-secret", operation: Get, routes: GET, kms: NoKms },
            Self::CreateSecret => Spec { name: "create-secret", operation: Create, routes: CREATE, kms: SealAndFingerprint },
            Self::UpdateSecret => Spec { name: "update-secret", operation: Update, routes: UPDATE, kms: Seal },
            Self::DeleteSecret => Spec { name: "delete-secret", operation: Delete, routes: DELETE, kms: NoKms },
            Self::ResolveSecret => Spec { name: "resolve-secret", operation: Resolve, routes: RESOLVE_ROUTES, kms: Open },
            Self::ResealSecret => Spec { name: "reseal-secret", operation: Reseal, routes: NO_ROUTE, kms: Reopen },
            Self::PublishChanges => Spec { name: "publish-changes", operation: PublishChanges, routes: NO_ROUTE, kms: NoKms },
        };
        spec
    }

    /// The package, its binary and the function's name under `cargo lambda`.
    pub const fn name(self) -> &'static str {
        self.spec().name
    }

    /// Its logical id in template.yaml and deploy/function-permissions.json:
    /// `list-secrets` is `ListSecretsFunction`.
    pub fn resource(self) -> String {
        let mut resource: String = self
            .name()
            .split('-')
            .flat_map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase())
                    .into_iter()
                    .chain(chars)
            })
            .collect();
        resource.push_str("Function");
        resource
    }

    pub const fn operation(self) -> Operation {
        self.spec().operation
    }

    /// Every operation it serves: its own, the get function's versions
    /// list and the update function's restore of a version (their second
    /// routes, told apart by the handler).
    pub fn operations(self) -> Vec<Operation> {
        let mut operations = vec![self.operation()];
        match self {
            Self::GetSecret => operations.push(Operation::ListVersions),
            Self::UpdateSecret => operations.push(Operation::RestoreVersion),
            Self::ListSecrets => operations.push(Operation::ListDeleted),
            Self::DeleteSecret => operations.push(Operation::RecoverDeleted),
            _ => {}
        }
        operations
    }

    /// Its routes: one each but get's two (the secret, its versions) and
    /// resolve's two (one secret, a batch).
    pub const fn routes(self) -> &'static [Route] {
        self.spec().routes
    }

    /// Whether it verifies a bearer token: every function of the contract.
    /// A function's routes share one door (a test holds them to it).
    pub const fn authenticates(self) -> bool {
        matches!(
            self.routes().first(),
            Some(Route {
                door: Door::Token,
                ..
            })
        )
    }

    /// Whether it reads or writes the secrets table: all but the reseal
    /// function, which only does cryptography, and the publish function,
    /// which reads the audit table's stream through Lambda.
    pub const fn uses_table(self) -> bool {
        !matches!(self, Self::ResealSecret | Self::PublishChanges)
    }

    /// Whether it writes audit records (and so needs the audit table).
    pub fn is_audited(self) -> bool {
        self.operation().is_audited()
    }

    pub const fn kms(self) -> KmsUse {
        self.spec().kms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_is_served_by_one_function() {
        let mut served: Vec<_> = Function::ALL
            .iter()
            .flat_map(|f| f.operations())
            .map(Operation::as_str)
            .collect();
        let mut all: Vec<_> = Operation::ALL.iter().map(|op| op.as_str()).collect();
        served.sort_unstable();
        all.sort_unstable();
        assert_eq!(served, all, "each once");
    }

    #[test]
    fn resource_names_follow_the_template() {
        assert_eq!(Function::ListSecrets.resource(), "ListSecretsFunction");
        assert_eq!(Function::ResolveSecret.resource(), "ResolveSecretFunction");
    }

    #[test]
    fn a_functions_routes_share_one_door() {
        for function in Function::ALL {
            let doors: Vec<Door> = function.routes().iter().map(|r| r.door).collect();
            // Only the reseal and publish functions have none: another
            // function, or a stream, invokes them.
            let routed = !doors.is_empty()
                || matches!(function, Function::ResealSecret | Function::PublishChanges);
            assert!(
                routed && doors.iter().all(|d| *d == doors[0]),
                "{function:?}"
            );
        }
    }

    #[test]
    fn only_resolve_and_reseal_open_values_and_neither_takes_a_token() {
        for function in Function::ALL {
            let opens = matches!(function.kms(), KmsUse::Open | KmsUse::Reseal);
            let expected = [Function::ResolveSecret, Function::ResealSecret];
            assert_eq!(opens, expected.contains(&function), "{function:?}");
            // The publish function neither opens values nor takes a token:
            // a stream invokes it.
            let takes_token = !opens && function != Function::PublishChanges;
            assert_eq!(function.authenticates(), takes_token, "{function:?}");
        }
        assert!(Function::ResealSecret.routes().is_empty());
        assert!(Function::PublishChanges.routes().is_empty());
        assert_eq!(Function::PublishChanges.kms(), KmsUse::None);
        assert!(!Function::PublishChanges.uses_table() && !Function::PublishChanges.is_audited());
    }
}
