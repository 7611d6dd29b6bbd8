//! Data keys from AWS KMS: `GenerateDataKey` to seal, `Decrypt` to open;
//! and `GenerateMac` for the fingerprints of idempotent creates.

use std::collections::HashMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, MacAlgorithmSpec};
use zeroize::Zeroizing;

use secrets_domain::crypto::{DATA_KEY_LEN, EncryptionContext, SealedValue, take_data_key};
use secrets_domain::error::{Error, Result};
use secrets_domain::ports::{DataKey, DataKeys, RequestMacs};

use crate::errors::classify;

#[derive(Clone)]
pub struct KmsDataKeys {
    client: Client,
    /// The key new data keys come from; `None` for a function that only
    /// opens values (each envelope names the key that wrapped it).
    key_id: Option<String>,
    /// The HMAC key of request fingerprints: the create function's only.
    mac_key_id: Option<String>,
}

impl KmsDataKeys {
    /// `key_id`: a key id, key ARN, alias name or alias ARN.
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: Some(key_id.into()),
            mac_key_id: None,
        }
    }

    /// Fingerprints of idempotent creates come from this HMAC key.
    pub fn with_mac_key(self, mac_key_id: impl Into<String>) -> Self {
        Self {
            mac_key_id: Some(mac_key_id.into()),
            ..self
        }
    }

    /// Data keys that can only be unwrapped, never generated.
    pub fn unwrap_only(client: Client) -> Self {
        Self {
            client,
            key_id: None,
            mac_key_id: None,
        }
    }
}

impl DataKeys for KmsDataKeys {
    async fn generate(&self, context: EncryptionContext<'_>) -> Result<DataKey> {
        let key_id = self.key_id.as_deref().ok_or(Error::Internal {
            context: "generating a data key",
            source: Some("this function opens values only".into()),
        })?;
        let output = self
            .client
            .generate_data_key()
            .key_id(key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(|e| classify("generating a data key", e))?;
        let plaintext = take_data_key(output.plaintext.map(Blob::into_inner).unwrap_or_default())?;
        let wrapped = output
            .ciphertext_blob
            .map(Blob::into_inner)
            .filter(|wrapped| !wrapped.is_empty())
            .ok_or(Error::Internal {
                context: "generating a data key",
                source: Some("KMS returned no wrapped key".into()),
            })?;
        Ok(DataKey {
            plaintext,
            wrapped,
            wrapping_key_id: output.key_id.unwrap_or_else(|| key_id.to_owned()),
        })
    }

    async fn unwrap_key(
        &self,
        sealed: &SealedValue,
        context: EncryptionContext<'_>,
    ) -> Result<Zeroizing<[u8; DATA_KEY_LEN]>> {
        let output = self
            .client
            .decrypt()
            // Pinning the key makes KMS refuse a wrapped key from any other.
            .key_id(&sealed.wrapping_key_id)
            .ciphertext_blob(Blob::new(sealed.wrapped_key.clone()))
            .set_encryption_context(Some(kms_context(context)))
            .send()
            .await
            .map_err(|e| classify("unwrapping a data key", e))?;
        take_data_key(output.plaintext.map(Blob::into_inner).unwrap_or_default())
    }
}

/// The encryption context as KMS takes it: what IAM conditions on
/// `kms:EncryptionContext:*` see.
fn kms_context(context: EncryptionContext<'_>) -> HashMap<String, String> {
    context
        .pairs()
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

impl RequestMacs for KmsDataKeys {
    async fn mac(&self, digest: &[u8; 32]) -> Result<Vec<u8>> {
        let key_id = self.mac_key_id.as_deref().ok_or(Error::Internal {
            context: "fingerprinting a request",
            source: Some("this function has no MAC key".into()),
        })?;
        let output = self
            .client
            .generate_mac()
            .key_id(key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(digest.to_vec()))
            .send()
            .await
            .map_err(|e| classify("fingerprinting a request", e))?;
        output
            .mac
            .map(Blob::into_inner)
            .filter(|mac| !mac.is_empty())
            .ok_or(Error::Internal {
                context: "fingerprinting a request",
                source: Some("KMS returned no MAC".into()),
            })
    }
}
