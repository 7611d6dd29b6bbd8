use std::convert::Infallible;

use secrets_aws::reseal::{ResealAnswer, ResealPayload};
use secrets_domain::clock::SystemClock;
use secrets_domain::crypto::reseal;
use secrets_domain::operation::Operation;
use secrets_domain::ports::{Clock, DataKeys};
use secrets_lambda::KeysOnly;
use secrets_lambda::telemetry::Telemetry;

/// Reseals, answering the new envelope or the class of the failure. The
/// log line (with a failure's cause, never a value: none is in any error)
/// and the metric record (its KMS calls and throttles) are every request's.
pub async fn handle<K: DataKeys>(
    started: &KeysOnly<K>,
    payload: ResealPayload,
    request_id: String,
) -> Result<ResealAnswer, Infallible> {
    let telemetry = Telemetry::begin(
        request_id,
        Operation::Reseal,
        &started.usage,
        &started.function_name,
    );
    let result = match payload.decode() {
        Ok(request) => reseal(&started.keys, &request).await,
        Err(error) => Err(error),
    };
    telemetry.finish(result.as_ref().map(|_| 200), SystemClock.now());
    Ok(ResealAnswer::of(&result))
}

#[cfg(test)]
mod tests {
    use secrets_domain::crypto::{CipherScheme, EncryptionContext, ResealRequest, open, seal};
    use secrets_domain::model::{SecretId, SecretValue, TenantId};
    use secrets_testkit::LocalDataKeys;
    use zeroize::Zeroizing;

    use super::*;

    async fn sealed_first(keys: &LocalDataKeys, tenant: &TenantId, id: &SecretId) -> ResealRequest {
        let value = SecretValue::parse(Zeroizing::new("restore me".into())).unwrap();
        let sealed = seal(keys, EncryptionContext::new(tenant, id), 1, &value)
            .await
            .unwrap();
        ResealRequest {
            tenant: tenant.clone(),
            secret_id: id.clone(),
            sealed,
            from: 1,
            to: 3,
        }
    }

    /// What crosses the wire: the payload as JSON in, the answer as JSON out.
    async fn over_the_wire(
        started: &KeysOnly<LocalDataKeys>,
        request: &ResealRequest,
    ) -> serde_json::Value {
        let json = serde_json::to_string(&ResealPayload::from(request)).unwrap();
        let payload: ResealPayload = serde_json::from_str(&json).unwrap();
        let answer = handle(started, payload, "request".into()).await.unwrap();
        serde_json::to_value(&answer).unwrap()
    }

    fn started() -> KeysOnly<LocalDataKeys> {
        KeysOnly {
            keys: LocalDataKeys::default(),
            usage: Default::default(),
            function_name: "reseal-secret".into(),
        }
    }

    #[tokio::test]
    async fn answers_the_value_sealed_as_the_new_version_and_never_the_value() {
        let started = started();
        let keys = &started.keys;
        let (tenant, id) = (
            TenantId::parse("acme").unwrap(),
            SecretId::generate().unwrap(),
        );
        let request = sealed_first(keys, &tenant, &id).await;
        let answer = over_the_wire(&started, &request).await;
        assert!(!answer.to_string().contains("restore me"));
        let answer: ResealAnswer = serde_json::from_value(answer).unwrap();
        let sealed = answer.into_result().expect("resealed");
        assert_eq!(sealed.scheme, CipherScheme::V2 { value_version: 3 });
        let opened = open(keys, EncryptionContext::new(&tenant, &id), &sealed)
            .await
            .unwrap();
        assert_eq!(opened.as_slice(), b"restore me");
    }

    #[tokio::test]
    async fn refuses_a_relabelled_value_and_another_secrets_envelope() {
        let started = started();
        let keys = &started.keys;
        let (tenant, id) = (
            TenantId::parse("acme").unwrap(),
            SecretId::generate().unwrap(),
        );
        let mut relabelled = sealed_first(keys, &tenant, &id).await;
        relabelled.from = 2;
        let mut moved = sealed_first(keys, &tenant, &id).await;
        moved.secret_id = SecretId::generate().unwrap();
        let mut other_tenant = sealed_first(keys, &tenant, &id).await;
        other_tenant.tenant = TenantId::parse("globex").unwrap();
        for request in [relabelled, moved, other_tenant] {
            let answer = over_the_wire(&started, &request).await;
            assert_eq!(answer, serde_json::json!({"failed": {"status": 500}}));
        }
    }
}
