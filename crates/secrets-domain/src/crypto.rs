//! Envelope encryption: a fresh data key per stored value, AES-256-GCM
//! locally, the tenant and secret id bound both as the KMS encryption context
//! and as the AEAD's associated data.

use aws_lc_rs::aead::{
    AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, RandomizedNonceKey, UnboundKey,
};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::model::{SecretId, SecretValue, TenantId};
use crate::ports::DataKeys;

pub const DATA_KEY_LEN: usize = 32;

/// Names the scheme in stored items so that a future scheme can coexist.
pub const CIPHER_SCHEME: &str = "AES-256-GCM/KMS-envelope/v1";

/// What a ciphertext is bound to. A value moved to another secret or another
/// tenant fails to decrypt, at KMS (wrong context) and at AES-GCM (wrong AAD).
#[derive(Debug, Clone, Copy)]
pub struct EncryptionContext<'a> {
    pub tenant: &'a TenantId,
    pub secret_id: &'a SecretId,
}

impl<'a> EncryptionContext<'a> {
    pub fn new(tenant: &'a TenantId, secret_id: &'a SecretId) -> Self {
        Self { tenant, secret_id }
    }

    /// The KMS encryption context: these exact keys are what IAM conditions
    /// (`kms:EncryptionContext:tenant`, `kms:EncryptionContext:secretId`) see.
    pub fn pairs(&self) -> [(&'static str, &'a str); 2] {
        [
            ("tenant", self.tenant.as_str()),
            ("secretId", self.secret_id.as_str()),
        ]
    }

    /// Associated data: the scheme and each pair, length-prefixed so that no
    /// two different contexts can encode to the same bytes.
    fn associated_data(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(96);
        for part in
            std::iter::once(CIPHER_SCHEME).chain(self.pairs().into_iter().flat_map(|(k, v)| [k, v]))
        {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// What is stored for a value: ciphertext (with tag), nonce, wrapped key.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub ciphertext: Vec<u8>,
    pub nonce: [u8; NONCE_LEN],
    pub wrapped_key: Vec<u8>,
    pub wrapping_key_id: String,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedValue")
            .field("ciphertext_len", &self.ciphertext.len())
            .field("wrapping_key_id", &self.wrapping_key_id)
            .finish_non_exhaustive()
    }
}

/// Encrypts a value under a fresh data key. If no data key can be had,
/// nothing is returned, so nothing can be written.
pub async fn seal<K: DataKeys>(
    keys: &K,
    context: EncryptionContext<'_>,
    value: &SecretValue,
) -> Result<SealedValue> {
    let data_key = keys.generate(context).await?;
    let cipher = RandomizedNonceKey::new(&AES_256_GCM, data_key.plaintext.as_ref())
        .map_err(|_| Error::internal("loading a data key", "AES-256-GCM rejected the key"))?;
    let mut ciphertext = Vec::with_capacity(value.as_bytes().len() + AES_256_GCM.tag_len());
    ciphertext.extend_from_slice(value.as_bytes());
    let nonce = cipher
        .seal_in_place_append_tag(Aad::from(context.associated_data()), &mut ciphertext)
        .map_err(|_| Error::internal("encrypting a value", "AES-256-GCM sealing failed"))?;
    Ok(SealedValue {
        ciphertext,
        nonce: *nonce.as_ref(),
        wrapped_key: data_key.wrapped,
        wrapping_key_id: data_key.wrapping_key_id,
    })
}

/// Decrypts a value, checking that it belongs to `context`.
pub async fn open<K: DataKeys>(
    keys: &K,
    context: EncryptionContext<'_>,
    sealed: &SealedValue,
) -> Result<Zeroizing<Vec<u8>>> {
    let key = keys.unwrap_key(sealed, context).await?;
    open_with_key(&key, context, sealed)
}

fn open_with_key(
    key: &[u8; DATA_KEY_LEN],
    context: EncryptionContext<'_>,
    sealed: &SealedValue,
) -> Result<Zeroizing<Vec<u8>>> {
    let cipher = UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| Error::internal("loading a data key", "AES-256-GCM rejected the key"))?;
    let mut buffer = Zeroizing::new(sealed.ciphertext.clone());
    let plaintext_len = cipher
        .open_in_place(
            Nonce::assume_unique_for_key(sealed.nonce),
            Aad::from(context.associated_data()),
            &mut buffer,
        )
        .map_err(|_| {
            Error::internal(
                "decrypting a value",
                "authentication failed: wrong key, context or tampered ciphertext",
            )
        })?
        .len();
    buffer.truncate(plaintext_len);
    Ok(buffer)
}

/// Copies a plaintext data key out of a KMS response buffer and wipes the
/// buffer, so that the only remaining copy is one that wipes itself.
pub fn take_data_key(mut plaintext: Vec<u8>) -> Result<Zeroizing<[u8; DATA_KEY_LEN]>> {
    let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    let fits = plaintext.len() == DATA_KEY_LEN;
    if fits {
        key.copy_from_slice(&plaintext);
    }
    plaintext.zeroize();
    if fits {
        Ok(key)
    } else {
        Err(Error::internal(
            "reading a data key",
            "KMS returned a data key of unexpected length",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::DataKey;

    /// One fixed data key, whatever the context: so that only the AEAD
    /// stands between a ciphertext and a reader in the wrong context.
    struct OneKey([u8; DATA_KEY_LEN]);

    impl DataKeys for OneKey {
        async fn generate(&self, _: EncryptionContext<'_>) -> Result<DataKey> {
            Ok(DataKey {
                plaintext: Zeroizing::new(self.0),
                wrapped: Vec::new(),
                wrapping_key_id: "one".into(),
            })
        }

        async fn unwrap_key(
            &self,
            _: &SealedValue,
            _: EncryptionContext<'_>,
        ) -> Result<Zeroizing<[u8; DATA_KEY_LEN]>> {
            Ok(Zeroizing::new(self.0))
        }
    }

    #[tokio::test]
    async fn the_aead_itself_checks_the_context_and_every_byte() {
        let key = OneKey([7; DATA_KEY_LEN]);
        let (tenant, other_tenant) = (
            TenantId::parse("tenant-a").unwrap(),
            TenantId::parse("tenant-b").unwrap(),
        );
        let id = SecretId::generate().unwrap();
        let context = EncryptionContext::new(&tenant, &id);
        let value = SecretValue::parse(Zeroizing::new("hunter2".to_owned())).unwrap();
        let sealed = seal(&key, context, &value).await.unwrap();
        assert!(open(&key, context, &sealed).await.is_ok());
        // Even holding the right data key, a different context fails.
        let elsewhere = EncryptionContext::new(&other_tenant, &id);
        assert!(open(&key, elsewhere, &sealed).await.is_err());
        for index in 0..sealed.ciphertext.len() {
            let mut tampered = sealed.clone();
            tampered.ciphertext[index] ^= 0x01;
            assert!(
                open(&key, context, &tampered).await.is_err(),
                "byte {index}"
            );
        }
        let mut tampered = sealed.clone();
        tampered.nonce[0] ^= 0x80;
        assert!(open(&key, context, &tampered).await.is_err());
    }

    #[test]
    fn data_keys_of_the_wrong_length_are_refused() {
        assert!(take_data_key(vec![7; DATA_KEY_LEN]).is_ok());
        assert!(take_data_key(vec![7; 16]).is_err());
    }
}
