//! The key source a function starts with, checked against what the
//! function needs: a function whose handler takes `()` as its keys can
//! never seal or open a value, and one started with the wrong key type
//! fails at start-up, not on its first request.

use secrets_aws::kms::KmsDataKeys;

use crate::config::Config;
use crate::function::{Function, KmsUse};

pub trait FunctionKeys: Sized {
    /// The keys of `function`, given its configuration and a way to make a
    /// KMS client (made only if needed).
    fn start(
        function: Function,
        config: &Config,
        kms: impl FnOnce() -> aws_sdk_kms::Client,
    ) -> Result<Self, String>;
}

/// No keys at all: for the functions that use no KMS key.
impl FunctionKeys for () {
    fn start(
        function: Function,
        _config: &Config,
        _kms: impl FnOnce() -> aws_sdk_kms::Client,
    ) -> Result<Self, String> {
        match function.kms() {
            KmsUse::None => Ok(()),
            _ => Err(format!("{} needs KMS keys", function.name())),
        }
    }
}

impl FunctionKeys for KmsDataKeys {
    fn start(
        function: Function,
        config: &Config,
        kms: impl FnOnce() -> aws_sdk_kms::Client,
    ) -> Result<Self, String> {
        let key_id = || {
            config
                .kms_key_id
                .clone()
                .ok_or_else(|| "KMS_KEY_ID is required".to_owned())
        };
        match function.kms() {
            KmsUse::None => Err(format!("{} uses no KMS key", function.name())),
            KmsUse::Open => Ok(Self::unwrap_only(kms())),
            KmsUse::Seal => Ok(Self::new(kms(), key_id()?)),
            KmsUse::SealAndFingerprint => {
                let mac_key_id = config
                    .mac_key_id
                    .clone()
                    .ok_or_else(|| "IDEMPOTENCY_MAC_KEY_ID is required".to_owned())?;
                Ok(Self::new(kms(), key_id()?).with_mac_key(mac_key_id))
            }
        }
    }
}
