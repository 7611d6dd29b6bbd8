use lambda_http::lambda_runtime::Diagnostic;
use secrets_aws::reseal::{ResealAnswer, ResealPayload};
use secrets_domain::clock::SystemClock;
use secrets_domain::crypto::reseal;
use secrets_domain::operation::Operation;
use secrets_domain::ports::{Clock, DataKeys};
use secrets_lambda::KeysOnly;
use secrets_lambda::telemetry::Telemetry;

/// Reseals, answering the new envelope, or a transient failure's class
/// (429, 503) for the restore to answer as its own. Any other failure is a
/// function error: Lambda counts it in `Errors`, which the alarms of this
/// function's canary watch, so a broken version rolls back. The log line
/// (with a failure's cause, never a value: none is in any error) and the
/// metric record (its KMS calls and throttles) are every request's.
pub async fn handle<K: DataKeys>(
    started: &KeysOnly<K>,
    payload: ResealPayload,
    request_id: String,
) -> Result<ResealAnswer, Diagnostic> {
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
    match result {
        // Only a transient failure is an answer: any other (a refused
        // envelope, a stored value that does not parse) is for the alarm.
        Err(error) if !matches!(error.http_status(), 429 | 503) => Err(Diagnostic {
            error_type: "ResealFailed".into(),
            error_message: "the value was not resealed: the cause is in this function's log".into(),
        }),
        result => Ok(ResealAnswer::of(&result)),
    }
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

    /// What crosses the wire: the payload as JSON in, the answer as JSON
    /// out, or a function error's type.
    async fn over_the_wire(
        started: &KeysOnly<LocalDataKeys>,
        request: &ResealRequest,
    ) -> Result<serde_json::Value, String> {
        let json = serde_json::to_string(&ResealPayload::from(request)).unwrap();
        let payload: ResealPayload = serde_json::from_str(&json).unwrap();
        match handle(started, payload, "request".into()).await {
            Ok(answer) => Ok(serde_json::to_value(&answer).unwrap()),
            Err(diagnostic) => Err(diagnostic.error_type),
        }
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
        let answer = over_the_wire(&started, &request).await.unwrap();
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
            assert_eq!(answer, Err("ResealFailed".to_owned()));
        }
    }

    #[tokio::test]
    async fn a_transient_failure_is_answered_with_its_class_not_a_function_error() {
        let started = started();
        let (tenant, id) = (
            TenantId::parse("acme").unwrap(),
            SecretId::generate().unwrap(),
        );
        let request = sealed_first(&started.keys, &tenant, &id).await;
        started.keys.fail();
        let answer = over_the_wire(&started, &request).await;
        assert_eq!(answer, Ok(serde_json::json!({"failed": {"status": 503}})));
    }
}
