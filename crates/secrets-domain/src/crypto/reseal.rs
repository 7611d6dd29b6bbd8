//! Resealing: an earlier version's value sealed again as a new version,
//! for a restore. The plaintext exists only inside [`reseal`], in a buffer
//! that wipes itself; what leaves is a new envelope. In production this
//! runs in a function of its own with no route, the only holder of both
//! `kms:Decrypt` and `kms:GenerateDataKey` (docs/design.md, "Restore
//! without a public decrypter").

use zeroize::{Zeroize, Zeroizing};

use super::{Currency, EncryptionContext, SealedValue, currency, open, seal};
use crate::error::{Error, Result};
use crate::model::{FIRST_VERSION, SecretId, SecretValue, TenantId};
use crate::ports::DataKeys;

/// What a reseal is asked: version `from` of a secret's value, as stored,
/// to be sealed again as version `to`, in the secret's own context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResealRequest {
    pub tenant: TenantId,
    pub secret_id: SecretId,
    pub sealed: SealedValue,
    pub from: u64,
    pub to: u64,
}

/// Opens `request.sealed` (only if it is sealed as version `from`: a
/// relabelled value does not pass) and seals its value as version `to`
/// under a fresh data key, in the same encryption context.
pub async fn reseal<K: DataKeys>(keys: &K, request: &ResealRequest) -> Result<SealedValue> {
    let sealed_as_from = currency(Some(request.from), &request.sealed) == Currency::Current
        || (request.from == FIRST_VERSION && request.sealed.scheme.value_version().is_none());
    if !sealed_as_from || request.to <= request.from {
        return Err(Error::internal(
            "resealing a value",
            "the value is not sealed as the version named, or the new version is not newer",
        ));
    }
    let context = EncryptionContext::new(&request.tenant, &request.secret_id);
    let mut plaintext = open(keys, context, &request.sealed).await?;
    // Moved, not copied, into the self-wiping string a value is kept in.
    let text = String::from_utf8(std::mem::take(&mut *plaintext)).map_err(|error| {
        error.into_bytes().zeroize();
        Error::internal("resealing a value", "a stored value is not UTF-8")
    })?;
    let value = SecretValue::parse(Zeroizing::new(text))?;
    seal(keys, context, request.to, &value).await
}
