//! Envelope encryption: a fresh data key per stored value, AES-256-GCM
//! locally, the tenant and secret id bound both as the KMS encryption context
//! and as the AEAD's associated data; since scheme v2 also the value's
//! version (in the associated data only, so no key is re-wrapped) and the
//! value padded to a size bucket ([`padding`]).

pub mod padding;
mod reseal;

pub use reseal::{ResealRequest, reseal};

use aws_lc_rs::aead::{
    AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, RandomizedNonceKey, UnboundKey,
};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::model::{SecretId, SecretValue, TenantId};
use crate::ports::DataKeys;

pub const DATA_KEY_LEN: usize = 32;

/// How a stored value was sealed; its name is stored with it, so that
/// values of every scheme keep opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherScheme {
    /// Tenant and secret id in the associated data; the value unpadded.
    V1,
    /// Also the value's version in the associated data, so an older
    /// ciphertext put back (a partial restore, a table writer) no longer
    /// opens as the current value; and the value padded to its bucket.
    V2 { value_version: u64 },
}

impl CipherScheme {
    const V1_NAME: &'static str = "AES-256-GCM/KMS-envelope/v1";
    const V2_NAME: &'static str = "AES-256-GCM/KMS-envelope/v2-versioned-padded";

    pub fn name(self) -> &'static str {
        match self {
            Self::V1 => Self::V1_NAME,
            Self::V2 { .. } => Self::V2_NAME,
        }
    }

    /// The scheme a stored item names, with the value version stored
    /// beside it (required by v2, meaningless to v1).
    pub fn from_stored(name: &str, value_version: Option<u64>) -> Option<Self> {
        match (name, value_version) {
            (Self::V1_NAME, _) => Some(Self::V1),
            (Self::V2_NAME, Some(value_version)) => Some(Self::V2 { value_version }),
            _ => None,
        }
    }

    /// The version bound into the ciphertext; `None` for v1 values.
    pub fn value_version(self) -> Option<u64> {
        match self {
            Self::V1 => None,
            Self::V2 { value_version } => Some(value_version),
        }
    }
}

/// How a stored value relates to the version its secret's record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Currency {
    /// The value the record names: it may be opened.
    Current,
    /// Written after the record was read (a concurrent update): read again.
    Newer,
    /// Older than the record, or of an older scheme than the record
    /// requires: put back, never to be opened as current.
    RolledBack,
}

/// Compares a stored value's scheme with the value version its secret's
/// record names (`None`: a record from before versions were bound, whose
/// value may be v1).
pub fn currency(expected: Option<u64>, sealed: &SealedValue) -> Currency {
    match (expected, sealed.scheme) {
        (None, CipherScheme::V1) => Currency::Current,
        (None, CipherScheme::V2 { .. }) => Currency::Newer,
        (Some(_), CipherScheme::V1) => Currency::RolledBack,
        (Some(expected), CipherScheme::V2 { value_version }) => {
            match value_version.cmp(&expected) {
                std::cmp::Ordering::Equal => Currency::Current,
                std::cmp::Ordering::Greater => Currency::Newer,
                std::cmp::Ordering::Less => Currency::RolledBack,
            }
        }
    }
}

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

    /// Associated data: the scheme, each pair and (v2) the value version,
    /// length-prefixed so that no two different bindings encode alike.
    fn associated_data(&self, scheme: CipherScheme) -> Vec<u8> {
        let version = scheme.value_version().map(|v| v.to_string());
        let mut aad = Vec::with_capacity(128);
        for part in std::iter::once(scheme.name())
            .chain(self.pairs().into_iter().flat_map(|(k, v)| [k, v]))
            .chain(
                version
                    .as_deref()
                    .map(|v| ["valueVersion", v])
                    .into_iter()
                    .flatten(),
            )
        {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }
}

/// What is stored for a value: scheme, ciphertext (with tag), nonce,
/// wrapped key.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub scheme: CipherScheme,
    pub ciphertext: Vec<u8>,
    pub nonce: [u8; NONCE_LEN],
    pub wrapped_key: Vec<u8>,
    pub wrapping_key_id: String,
}

impl std::fmt::Debug for SealedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedValue")
            .field("scheme", &self.scheme)
            .field("ciphertext_len", &self.ciphertext.len())
            .field("wrapping_key_id", &self.wrapping_key_id)
            .finish_non_exhaustive()
    }
}

/// Encrypts version `value_version` of a value under a fresh data key, with
/// the current scheme (v2). If no data key can be had, nothing is returned,
/// so nothing can be written.
pub async fn seal<K: DataKeys>(
    keys: &K,
    context: EncryptionContext<'_>,
    value_version: u64,
    value: &SecretValue,
) -> Result<SealedValue> {
    let scheme = CipherScheme::V2 { value_version };
    let data_key = keys.generate(context).await?;
    let cipher = RandomizedNonceKey::new(&AES_256_GCM, data_key.plaintext.as_ref())
        .map_err(|_| Error::internal("loading a data key", "AES-256-GCM rejected the key"))?;
    let mut buffer = padding::pad(value.as_bytes(), AES_256_GCM.tag_len())?;
    let nonce = cipher
        .seal_in_place_append_tag(Aad::from(context.associated_data(scheme)), &mut *buffer)
        .map_err(|_| Error::internal("encrypting a value", "AES-256-GCM sealing failed"))?;
    // Sealed in place: the buffer holds ciphertext only now.
    let ciphertext = std::mem::take(&mut *buffer);
    Ok(SealedValue {
        scheme,
        ciphertext,
        nonce: *nonce.as_ref(),
        wrapped_key: data_key.wrapped,
        wrapping_key_id: data_key.wrapping_key_id,
    })
}

/// Decrypts a value, checking that it belongs to `context` (and, for v2,
/// to the value version its scheme names: check [`currency`] first against
/// the version the secret's record names).
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
            Aad::from(context.associated_data(sealed.scheme)),
            &mut buffer,
        )
        .map_err(|_| {
            Error::internal(
                "decrypting a value",
                "authentication failed: wrong key, context, version or tampered ciphertext",
            )
        })?
        .len();
    buffer.truncate(plaintext_len);
    if let CipherScheme::V2 { .. } = sealed.scheme {
        let value_len = padding::unpadded_len(&buffer)?;
        buffer.truncate(value_len);
    }
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

    fn hunter2() -> SecretValue {
        SecretValue::parse(Zeroizing::new("hunter2".to_owned())).unwrap()
    }

    #[tokio::test]
    async fn the_aead_itself_checks_the_context_the_version_and_every_byte() {
        let key = OneKey([7; DATA_KEY_LEN]);
        let (tenant, other_tenant) = (
            TenantId::parse("tenant-a").unwrap(),
            TenantId::parse("tenant-b").unwrap(),
        );
        let id = SecretId::generate().unwrap();
        let context = EncryptionContext::new(&tenant, &id);
        let sealed = seal(&key, context, 2, &hunter2()).await.unwrap();
        assert_eq!(sealed.scheme, CipherScheme::V2 { value_version: 2 });
        assert_eq!(&*open(&key, context, &sealed).await.unwrap(), b"hunter2");
        // Even holding the right data key, a different context fails.
        let elsewhere = EncryptionContext::new(&other_tenant, &id);
        assert!(open(&key, elsewhere, &sealed).await.is_err());
        // So does a different version: the one a rolled-back item would
        // have to claim to pass for current.
        for value_version in [1, 3] {
            let relabelled = SealedValue {
                scheme: CipherScheme::V2 { value_version },
                ..sealed.clone()
            };
            assert!(open(&key, context, &relabelled).await.is_err());
        }
        // And claiming the older scheme, whose associated data has no version.
        let downgraded = SealedValue {
            scheme: CipherScheme::V1,
            ..sealed.clone()
        };
        assert!(open(&key, context, &downgraded).await.is_err());
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

    #[tokio::test]
    async fn stored_lengths_tell_only_the_bucket() {
        let key = OneKey([7; DATA_KEY_LEN]);
        let (tenant, id) = (
            TenantId::parse("acme").unwrap(),
            SecretId::generate().unwrap(),
        );
        let context = EncryptionContext::new(&tenant, &id);
        let pin = SecretValue::parse(Zeroizing::new("1234".to_owned())).unwrap();
        let api_key = SecretValue::parse(Zeroizing::new("k".repeat(40))).unwrap();
        let pin = seal(&key, context, 1, &pin).await.unwrap();
        let api_key = seal(&key, context, 1, &api_key).await.unwrap();
        assert_eq!(pin.ciphertext.len(), 256 + AES_256_GCM.tag_len());
        assert_eq!(pin.ciphertext.len(), api_key.ciphertext.len());
        assert_eq!(&*open(&key, context, &pin).await.unwrap(), b"1234");
    }

    // Written by another implementation (Python's `cryptography`, AESGCM)
    // from the layout documented above: key 07 x 32, nonce 00..0b, tenant
    // `acme`, secret `se0123456789abcdef`, value `hunter2`.
    const V1_HUNTER2: &str = "70f48704787beb0d947305635575a331bec71dcac2b0b8";
    const V2_HUNTER2: &str = concat!(
        "70f48704787bebc977b2e59ce2586cfae13cb68e1862773116ce63ba8ed76d05",
        "de6f46e297cf31fdf4e5c3b65cf7b533f4305c79d4d5e496714fb48ca0c01bcf",
        "4d4f03bc9a5318902835a7bc318f2b82aa52cbde463d27e3a0d9781654351241",
        "b7f0141f0e281e51d82b5307640f61879b0e679fdfee54e47a465fad8036f41c",
        "43da0bda3bbf0d04fcadf2d37bb50477939e88944f635069b90e5f2c9872b620",
        "f21bb58fa8a7f36fa44ba0263e0894c84e0b81d859e00024d93434e0b31aee50",
        "d5d8beae420df48694d67a9ab377c9157b937f048f6c087a6791f0670a33e20b",
        "aa51d2d35d98f9b187b000530f74f105d2b831f262badcea05406752d32e9ca8",
        "38f46dcd3772ba0958ba41b02d7f3048",
    );

    fn known(scheme: CipherScheme, hex: &str) -> SealedValue {
        let ciphertext = (0..hex.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
            .collect();
        SealedValue {
            scheme,
            ciphertext,
            nonce: std::array::from_fn(|i| i as u8),
            wrapped_key: Vec::new(),
            wrapping_key_id: "one".into(),
        }
    }

    #[tokio::test]
    async fn values_of_both_schemes_open_as_documented() {
        let key = OneKey([7; DATA_KEY_LEN]);
        let tenant = TenantId::parse("acme").unwrap();
        let id = SecretId::parse("se0123456789abcdef").unwrap();
        let context = EncryptionContext::new(&tenant, &id);
        let v1 = known(CipherScheme::V1, V1_HUNTER2);
        assert_eq!(&*open(&key, context, &v1).await.unwrap(), b"hunter2");
        let v2 = known(CipherScheme::V2 { value_version: 3 }, V2_HUNTER2);
        assert_eq!(v2.ciphertext.len(), 256 + 16);
        assert_eq!(&*open(&key, context, &v2).await.unwrap(), b"hunter2");
    }

    #[test]
    fn a_value_is_current_only_at_the_version_its_record_names() {
        let at = |scheme| SealedValue {
            scheme,
            ..known(CipherScheme::V1, V1_HUNTER2)
        };
        let v2 = |value_version| at(CipherScheme::V2 { value_version });
        assert_eq!(currency(None, &at(CipherScheme::V1)), Currency::Current);
        assert_eq!(currency(Some(3), &v2(3)), Currency::Current);
        assert_eq!(currency(Some(3), &v2(4)), Currency::Newer);
        assert_eq!(currency(None, &v2(1)), Currency::Newer);
        assert_eq!(currency(Some(3), &v2(2)), Currency::RolledBack);
        assert_eq!(
            currency(Some(1), &at(CipherScheme::V1)),
            Currency::RolledBack
        );
    }

    #[test]
    fn stored_scheme_names_are_read_back() {
        for scheme in [CipherScheme::V1, CipherScheme::V2 { value_version: 7 }] {
            assert_eq!(
                CipherScheme::from_stored(scheme.name(), scheme.value_version()),
                Some(scheme)
            );
        }
        assert_eq!(
            CipherScheme::from_stored(CipherScheme::V2 { value_version: 1 }.name(), None),
            None
        );
        assert_eq!(CipherScheme::from_stored("ROT13", Some(1)), None);
    }

    #[test]
    fn data_keys_of_the_wrong_length_are_refused() {
        assert!(take_data_key(vec![7; DATA_KEY_LEN]).is_ok());
        assert!(take_data_key(vec![7; 16]).is_err());
    }
}
