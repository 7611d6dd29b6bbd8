//! Envelope encryption: a fresh data key per stored value, AES-256-GCM
//! locally, the tenant and secret id bound both as the KMS encryption context
//! and as the AEAD's associated data.

use std::future::Future;

use aws_lc_rs::aead::{
    AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, RandomizedNonceKey, UnboundKey,
};
use zeroize::{Zeroize, Zeroizing};

use crate::domain::{SecretId, SecretValue, TenantId};
use crate::error::{Error, Result};

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

/// A plaintext data key with its KMS-wrapped form. The plaintext half is
/// wiped when dropped.
pub struct DataKey {
    pub plaintext: Zeroizing<[u8; DATA_KEY_LEN]>,
    pub wrapped: Vec<u8>,
    /// The key (ARN) that wrapped it, pinned on decrypt.
    pub wrapping_key_id: String,
}

/// The source of data keys: KMS in production, a local stand-in in tests.
pub trait DataKeys: Send + Sync {
    fn generate(
        &self,
        context: EncryptionContext<'_>,
    ) -> impl Future<Output = Result<DataKey>> + Send;

    fn unwrap_key(
        &self,
        sealed: &SealedValue,
        context: EncryptionContext<'_>,
    ) -> impl Future<Output = Result<Zeroizing<[u8; DATA_KEY_LEN]>>> + Send;
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

#[cfg(any(test, feature = "test-support"))]
pub use local::LocalDataKeys;

#[cfg(any(test, feature = "test-support"))]
mod local {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// Wraps data keys with a process-local AES key, binding the encryption
    /// context exactly as KMS does, and counts calls. For tests only.
    pub struct LocalDataKeys {
        master: LessSafeKey,
        mac_key: aws_lc_rs::hmac::Key,
        generated: AtomicUsize,
        failing: AtomicBool,
    }

    impl Default for LocalDataKeys {
        fn default() -> Self {
            let mut master = [0u8; DATA_KEY_LEN];
            aws_lc_rs::rand::fill(&mut master).expect("CSPRNG");
            let mac_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &master);
            aws_lc_rs::rand::fill(&mut master).expect("CSPRNG");
            Self {
                master: LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &master).expect("key")),
                mac_key,
                generated: AtomicUsize::new(0),
                failing: AtomicBool::new(false),
            }
        }
    }

    impl LocalDataKeys {
        pub fn generated(&self) -> usize {
            self.generated.load(Ordering::SeqCst)
        }

        /// Makes every later call fail as an unavailable KMS would.
        pub fn fail(&self) {
            self.failing.store(true, Ordering::SeqCst);
        }

        fn check_available(&self) -> Result<()> {
            if self.failing.load(Ordering::SeqCst) {
                return Err(Error::Unavailable {
                    retry_after_secs: 1,
                    source: Some("local data keys told to fail".into()),
                });
            }
            Ok(())
        }
    }

    impl crate::idempotency::RequestMacs for LocalDataKeys {
        async fn mac(&self, digest: &[u8; 32]) -> Result<Vec<u8>> {
            self.check_available()?;
            Ok(aws_lc_rs::hmac::sign(&self.mac_key, digest)
                .as_ref()
                .to_vec())
        }
    }

    impl DataKeys for LocalDataKeys {
        async fn generate(&self, context: EncryptionContext<'_>) -> Result<DataKey> {
            self.check_available()?;
            self.generated.fetch_add(1, Ordering::SeqCst);
            let mut plaintext = Zeroizing::new([0u8; DATA_KEY_LEN]);
            aws_lc_rs::rand::fill(plaintext.as_mut()).expect("CSPRNG");
            let mut nonce = [0u8; NONCE_LEN];
            aws_lc_rs::rand::fill(&mut nonce).expect("CSPRNG");
            let mut wrapped = plaintext.to_vec();
            self.master
                .seal_in_place_append_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(context.associated_data()),
                    &mut wrapped,
                )
                .expect("seal");
            wrapped.extend_from_slice(&nonce);
            Ok(DataKey {
                plaintext,
                wrapped,
                wrapping_key_id: "local".into(),
            })
        }

        async fn unwrap_key(
            &self,
            sealed: &SealedValue,
            context: EncryptionContext<'_>,
        ) -> Result<Zeroizing<[u8; DATA_KEY_LEN]>> {
            self.check_available()?;
            let wrapped = &sealed.wrapped_key;
            let split = wrapped.len().checked_sub(NONCE_LEN).ok_or(Error::internal(
                "unwrapping a data key",
                "wrapped key too short",
            ))?;
            let nonce: [u8; NONCE_LEN] = wrapped[split..].try_into().expect("length checked");
            let mut buffer = wrapped[..split].to_vec();
            let plaintext = self
                .master
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(context.associated_data()),
                    &mut buffer,
                )
                .map_err(|_| Error::internal("unwrapping a data key", "context mismatch"))?
                .to_vec();
            buffer.zeroize();
            take_data_key(plaintext)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> SecretValue {
        SecretValue::parse(Zeroizing::new(text.to_owned())).unwrap()
    }

    fn ids() -> (TenantId, TenantId, SecretId, SecretId) {
        (
            TenantId::parse("tenant-a").unwrap(),
            TenantId::parse("tenant-b").unwrap(),
            SecretId::generate().unwrap(),
            SecretId::generate().unwrap(),
        )
    }

    #[tokio::test]
    async fn a_sealed_value_opens_only_in_its_own_context() {
        let keys = LocalDataKeys::default();
        let (tenant, other_tenant, id, other_id) = ids();
        let sealed = seal(
            &keys,
            EncryptionContext::new(&tenant, &id),
            &value("hunter2"),
        )
        .await
        .unwrap();
        assert!(!sealed.ciphertext.windows(7).any(|w| w == b"hunter2"));
        let opened = open(&keys, EncryptionContext::new(&tenant, &id), &sealed)
            .await
            .unwrap();
        assert_eq!(opened.as_slice(), b"hunter2");
        for wrong in [
            EncryptionContext::new(&other_tenant, &id),
            EncryptionContext::new(&tenant, &other_id),
        ] {
            assert!(open(&keys, wrong, &sealed).await.is_err());
        }
    }

    #[tokio::test]
    async fn the_aead_itself_checks_the_context_and_every_byte() {
        let keys = LocalDataKeys::default();
        let (tenant, other_tenant, id, _) = ids();
        let context = EncryptionContext::new(&tenant, &id);
        let sealed = seal(&keys, context, &value("hunter2")).await.unwrap();
        let key = keys.unwrap_key(&sealed, context).await.unwrap();
        assert!(open_with_key(&key, context, &sealed).is_ok());
        // Even holding the right data key, a different context fails.
        assert!(open_with_key(&key, EncryptionContext::new(&other_tenant, &id), &sealed).is_err());
        for index in 0..sealed.ciphertext.len() {
            let mut tampered = sealed.clone();
            tampered.ciphertext[index] ^= 0x01;
            assert!(
                open_with_key(&key, context, &tampered).is_err(),
                "byte {index}"
            );
        }
        let mut tampered = sealed.clone();
        tampered.nonce[0] ^= 0x80;
        assert!(open_with_key(&key, context, &tampered).is_err());
    }

    #[tokio::test]
    async fn every_value_gets_a_fresh_data_key_and_nonce() {
        let keys = LocalDataKeys::default();
        let (tenant, _, id, _) = ids();
        let context = EncryptionContext::new(&tenant, &id);
        let first = seal(&keys, context, &value("same")).await.unwrap();
        let second = seal(&keys, context, &value("same")).await.unwrap();
        assert_eq!(keys.generated(), 2);
        assert_ne!(first.wrapped_key, second.wrapped_key);
        assert_ne!(first.nonce, second.nonce);
        assert_ne!(first.ciphertext, second.ciphertext);
    }

    #[tokio::test]
    async fn no_data_key_means_no_ciphertext() {
        let keys = LocalDataKeys::default();
        keys.fail();
        let (tenant, _, id, _) = ids();
        let error = seal(&keys, EncryptionContext::new(&tenant, &id), &value("v"))
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), 503);
    }

    #[test]
    fn data_keys_of_the_wrong_length_are_refused() {
        assert!(take_data_key(vec![7; DATA_KEY_LEN]).is_ok());
        assert!(take_data_key(vec![7; 16]).is_err());
    }
}
