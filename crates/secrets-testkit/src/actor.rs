use secrets_domain::audit::Actor;
use secrets_domain::model::{TenantId, random_hex};
use secrets_domain::operation::Operation;

/// An actor of `tenant` performing `operation`: subject `tester`, a fresh
/// request id.
pub fn actor(tenant: &TenantId, operation: Operation) -> Actor {
    Actor {
        tenant: tenant.clone(),
        subject: "tester".into(),
        request_id: format!("req-{}", random_hex::<6>().expect("random")),
        operation,
    }
}
