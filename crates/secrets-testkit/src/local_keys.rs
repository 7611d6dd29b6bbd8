//! Data keys and MACs without KMS.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrets_domain::crypto::{
    DATA_KEY_LEN, EncryptionContext, ResealRequest, SealedValue, take_data_key,
};
use secrets_domain::error::{Error, Result};
use secrets_domain::ports::{DataKey, DataKeys, RequestMacs, Reseal};
use zeroize::{Zeroize, Zeroizing};

/// Wraps data keys with a process-local AES key, binding the encryption
/// context to the wrapped key as KMS does, signs MACs with a local HMAC
/// key, and counts the data keys generated.
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

/// The encryption context as the wrapping's associated data: each pair,
/// length-prefixed, as KMS binds its context map to a ciphertext.
fn bound_context(context: EncryptionContext<'_>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for part in context.pairs().into_iter().flat_map(|(k, v)| [k, v]) {
        bytes.extend_from_slice(&(part.len() as u32).to_be_bytes());
        bytes.extend_from_slice(part.as_bytes());
    }
    bytes
}

impl RequestMacs for LocalDataKeys {
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
                Aad::from(bound_context(context)),
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
                Aad::from(bound_context(context)),
                &mut buffer,
            )
            .map_err(|_| Error::internal("unwrapping a data key", "context mismatch"))?
            .to_vec();
        buffer.zeroize();
        take_data_key(plaintext)
    }
}

/// The reseal function's work, done in-process over the local keys: for
/// handler and service tests of restores.
impl Reseal for LocalDataKeys {
    async fn reseal(&self, request: &ResealRequest) -> Result<SealedValue> {
        secrets_domain::crypto::reseal(self, request).await
    }
}
