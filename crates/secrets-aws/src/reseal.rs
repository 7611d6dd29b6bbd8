//! Restores reseal a value in a function of their own: the reseal function
//! (no route), invoked by the update function through Lambda. This is the
//! wire between them (JSON, byte fields base64) and the invoking side.
//! Only envelopes cross it, never a plaintext; the function answers a
//! failure with its class (429, 500, 503) so the restore answers as the
//! update it is would.

use aws_sdk_lambda::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrets_domain::crypto::{CipherScheme, ResealRequest, SealedValue};
use secrets_domain::error::{DEFAULT_RETRY_AFTER_SECS, Error, Result};
use secrets_domain::model::{SecretId, TenantId};
use secrets_domain::ports::Reseal;
use serde::{Deserialize, Serialize};

use crate::errors::classify;

/// A sealed value on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireSealed {
    cipher: String,
    value_version: Option<u64>,
    ciphertext: String,
    nonce: String,
    wrapped_key: String,
    wrapping_key_id: String,
}

impl From<&SealedValue> for WireSealed {
    fn from(sealed: &SealedValue) -> Self {
        Self {
            cipher: sealed.scheme.name().to_owned(),
            value_version: sealed.scheme.value_version(),
            ciphertext: STANDARD.encode(&sealed.ciphertext),
            nonce: STANDARD.encode(sealed.nonce),
            wrapped_key: STANDARD.encode(&sealed.wrapped_key),
            wrapping_key_id: sealed.wrapping_key_id.clone(),
        }
    }
}

impl WireSealed {
    fn decode(self) -> Result<SealedValue> {
        let bytes = |text: &str| STANDARD.decode(text).map_err(|_| malformed());
        Ok(SealedValue {
            scheme: CipherScheme::from_stored(&self.cipher, self.value_version)
                .ok_or_else(malformed)?,
            ciphertext: bytes(&self.ciphertext)?,
            nonce: bytes(&self.nonce)?.try_into().map_err(|_| malformed())?,
            wrapped_key: bytes(&self.wrapped_key)?,
            wrapping_key_id: self.wrapping_key_id,
        })
    }
}

/// What the update function asks the reseal function.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResealPayload {
    tenant: String,
    secret_id: String,
    from: u64,
    to: u64,
    sealed: WireSealed,
}

impl From<&ResealRequest> for ResealPayload {
    fn from(request: &ResealRequest) -> Self {
        Self {
            tenant: request.tenant.to_string(),
            secret_id: request.secret_id.to_string(),
            from: request.from,
            to: request.to,
            sealed: WireSealed::from(&request.sealed),
        }
    }
}

impl ResealPayload {
    /// The request, its tenant and id validated as a path's would be.
    pub fn decode(self) -> Result<ResealRequest> {
        Ok(ResealRequest {
            tenant: TenantId::parse(&self.tenant).ok_or_else(malformed)?,
            secret_id: SecretId::parse(&self.secret_id).ok_or_else(malformed)?,
            from: self.from,
            to: self.to,
            sealed: self.sealed.decode()?,
        })
    }
}

/// What the reseal function answers: the new envelope, or the class of
/// its failure (its cause is in its own log).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ResealAnswer {
    Sealed(WireSealed),
    Failed { status: u16 },
}

impl ResealAnswer {
    pub fn of(result: &Result<SealedValue>) -> Self {
        match result {
            Ok(sealed) => Self::Sealed(WireSealed::from(sealed)),
            Err(error) => Self::Failed {
                status: error.http_status(),
            },
        }
    }

    /// The envelope, or the failure as the service's error of its class.
    pub fn into_result(self) -> Result<SealedValue> {
        match self {
            Self::Sealed(sealed) => sealed.decode(),
            Self::Failed { status: 429 } => Err(Error::Throttled {
                retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
            }),
            Self::Failed { status: 503 } => Err(unavailable("the reseal function's KMS calls")),
            Self::Failed { status } => Err(Error::internal(
                "resealing a value",
                format!("the reseal function failed with {status}"),
            )),
        }
    }
}

/// Reseals through the reseal function (its alias `live`, so that a
/// canary of it is what restores use).
pub struct LambdaResealer {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaResealer {
    pub fn new(client: aws_sdk_lambda::Client, function: impl Into<String>) -> Self {
        Self {
            client,
            function: function.into(),
        }
    }
}

impl Reseal for LambdaResealer {
    async fn reseal(&self, request: &ResealRequest) -> Result<SealedValue> {
        let payload = serde_json::to_vec(&ResealPayload::from(request))
            .map_err(|e| Error::internal("asking for a reseal", e))?;
        let output = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(payload))
            .send()
            .await
            // Throttled: 429; Lambda's own outage: 503; anything else (no
            // such function, no permission: a deployment fault) is a 500.
            .map_err(|e| classify("invoking the reseal function", e))?;
        // The reseal function fails as a function error for what is not
        // transient (so its canary's alarm sees it), and Lambda does for a
        // crash or a timeout: a 500 either way.
        if let Some(function_error) = output.function_error {
            return Err(Error::internal(
                "resealing a value",
                format!("the reseal function failed: {function_error}"),
            ));
        }
        let answer: ResealAnswer = output
            .payload
            .as_ref()
            .and_then(|payload| serde_json::from_slice(payload.as_ref()).ok())
            .ok_or_else(malformed)?;
        answer.into_result()
    }
}

fn malformed() -> Error {
    Error::internal("resealing a value", "a malformed reseal message")
}

fn unavailable(what: &str) -> Error {
    Error::Unavailable {
        retry_after_secs: DEFAULT_RETRY_AFTER_SECS,
        source: Some(format!("{what} are unavailable").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_cross_the_wire_unchanged() {
        let sealed = SealedValue {
            scheme: CipherScheme::V2 { value_version: 3 },
            ciphertext: vec![1, 2, 3, 250],
            nonce: [9; 12],
            wrapped_key: vec![7; 40],
            wrapping_key_id: "arn:aws:kms:eu-west-1:1:key/k".into(),
        };
        let request = ResealRequest {
            tenant: TenantId::parse("acme").unwrap(),
            secret_id: SecretId::generate().unwrap(),
            sealed: sealed.clone(),
            from: 3,
            to: 5,
        };
        let json = serde_json::to_string(&ResealPayload::from(&request)).unwrap();
        let back: ResealPayload = serde_json::from_str(&json).unwrap();
        assert_eq!(back.decode().unwrap(), request);
        let answer = serde_json::to_string(&ResealAnswer::of(&Ok(sealed.clone()))).unwrap();
        let back: ResealAnswer = serde_json::from_str(&answer).unwrap();
        assert_eq!(back.into_result().unwrap(), sealed);
        for (status, expected) in [(429, 429), (503, 503), (500, 500), (404, 500)] {
            let failed = ResealAnswer::Failed { status }.into_result().unwrap_err();
            assert_eq!(failed.http_status(), expected, "{status}");
        }
    }

    #[test]
    fn a_tenant_or_id_that_could_not_name_a_secret_is_refused() {
        let json = r#"{"tenant":" acme","secretId":"se0000000000000000","from":1,"to":2,
            "sealed":{"cipher":"AES-256-GCM/KMS-envelope/v1","valueVersion":null,
            "ciphertext":"","nonce":"AAAAAAAAAAAAAAAA","wrappedKey":"","wrappingKeyId":"k"}}"#;
        let payload: ResealPayload = serde_json::from_str(json).unwrap();
        assert_eq!(payload.decode().unwrap_err().http_status(), 500);
    }
}
