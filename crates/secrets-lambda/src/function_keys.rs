//! The key source a function starts with, checked against what the
//! function needs: a function whose handler takes `()` as its keys can
//! never seal or open a value, and one started with the wrong key type
//! fails at start-up, not on its first request.

use secrets_aws::kms::KmsDataKeys;
use secrets_aws::metrics::CallCounter;
use secrets_aws::reseal::LambdaResealer;
use secrets_aws::sdk;
use secrets_domain::crypto::{DATA_KEY_LEN, EncryptionContext, ResealRequest, SealedValue};
use secrets_domain::error::Result as DomainResult;
use secrets_domain::ports::{DataKey, DataKeys, Reseal};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::function::{Function, KmsUse};

/// The AWS clients keys may need, each made only if asked for.
pub struct KeyClients<'a> {
    pub(crate) sdk: &'a aws_config::SdkConfig,
    pub(crate) usage: &'a CallCounter,
}

impl KeyClients<'_> {
    fn kms(&self) -> aws_sdk_kms::Client {
        sdk::kms_client(self.sdk, self.usage)
    }

    fn lambda(&self, timeouts: sdk::CallTimeouts) -> aws_sdk_lambda::Client {
        sdk::lambda_client(self.sdk, self.usage, timeouts)
    }
}

pub trait FunctionKeys: Sized {
    /// The keys of `function`, given its configuration and the clients it
    /// may make.
    fn start(function: Function, config: &Config, clients: &KeyClients<'_>)
    -> Result<Self, String>;
}

/// No keys at all: for the functions that use no KMS key.
impl FunctionKeys for () {
    fn start(
        function: Function,
        _config: &Config,
        _clients: &KeyClients<'_>,
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
        clients: &KeyClients<'_>,
    ) -> Result<Self, String> {
        let kms = || clients.kms();
        let key_id = || {
            config
                .kms_key_id
                .clone()
                .ok_or_else(|| "KMS_KEY_ID is required".to_owned())
        };
        match function.kms() {
            KmsUse::None => Err(format!("{} uses no KMS key", function.name())),
            KmsUse::Open => Ok(Self::unwrap_only(kms())),
            // Sealing under its key; opening under the key each envelope names.
            KmsUse::Seal | KmsUse::Reseal => Ok(Self::new(kms(), key_id()?)),
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

/// The update function's keys: it seals new values under data keys of its
/// own, and has a restore's earlier value resealed by the reseal function,
/// never opening one itself (its role has no `kms:Decrypt`).
pub struct UpdateKeys {
    kms: KmsDataKeys,
    resealer: LambdaResealer,
}

impl FunctionKeys for UpdateKeys {
    fn start(
        function: Function,
        config: &Config,
        clients: &KeyClients<'_>,
    ) -> Result<Self, String> {
        if function != Function::UpdateSecret {
            return Err(format!("{} restores no values", function.name()));
        }
        let reseal_function = config
            .reseal_function
            .clone()
            .ok_or_else(|| "RESEAL_FUNCTION_NAME is required".to_owned())?;
        Ok(Self {
            kms: KmsDataKeys::start(function, config, clients)?,
            resealer: LambdaResealer::new(clients.lambda(config.call_timeouts), reseal_function),
        })
    }
}

impl DataKeys for UpdateKeys {
    async fn generate(&self, context: EncryptionContext<'_>) -> DomainResult<DataKey> {
        self.kms.generate(context).await
    }

    async fn unwrap_key(
        &self,
        sealed: &SealedValue,
        context: EncryptionContext<'_>,
    ) -> DomainResult<Zeroizing<[u8; DATA_KEY_LEN]>> {
        // Refused by KMS for this function's role in any case.
        self.kms.unwrap_key(sealed, context).await
    }
}

impl Reseal for UpdateKeys {
    async fn reseal(&self, request: &ResealRequest) -> DomainResult<SealedValue> {
        self.resealer.reseal(request).await
    }
}
