//! Create, with or without an `Idempotency-Key` (see [`crate::idempotency`]).

use crate::audit::Actor;
use crate::crypto::{EncryptionContext, seal};
use crate::error::{Error, Result};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord, request_digest};
use crate::input::CreateSecret;
use crate::model::{FIRST_VERSION, SecretId, SecretSummary};
use crate::ports::{DataKeys, NewSecret, RequestMacs, SecretStore};

use super::Secrets;

/// What a create answers: the secret, and whether it is the replayed answer
/// to an earlier request with the same `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub secret: SecretSummary,
    pub replayed: bool,
}

impl<S: SecretStore, K: DataKeys + RequestMacs> Secrets<S, K> {
    pub async fn create(&self, actor: &Actor, request: CreateSecret) -> Result<SecretSummary> {
        Ok(self.create_with_key(actor, request, None).await?.secret)
    }

    /// With an `Idempotency-Key`, a retry of a create that succeeded answers
    /// as it did (a new audit record says so) and the key with another
    /// request is a 422.
    pub async fn create_with_key(
        &self,
        actor: &Actor,
        request: CreateSecret,
        key: Option<&IdempotencyKey>,
    ) -> Result<Created> {
        let tenant = &actor.tenant;
        let claim = match key {
            Some(key) => {
                let subject = &actor.subject;
                let fingerprint = self
                    .keys
                    .mac(&request_digest(tenant, subject, key, &request))
                    .await?;
                let key_digest = key.digest(subject);
                if let Some(earlier) = self.live_record(actor, &key_digest).await? {
                    return self.replay(actor, &earlier, &fingerprint).await;
                }
                Some((key_digest, fingerprint))
            }
            None => None,
        };
        let id = SecretId::generate()?;
        let sealed = seal(
            &self.keys,
            EncryptionContext::new(tenant, &id),
            FIRST_VERSION,
            &request.secret,
        )
        .await?;
        // Read after every call that precedes the write, so that the time a
        // stored record is judged expired against is never earlier than the
        // time it was found expired at.
        let at = self.clock.now();
        let summary = SecretSummary {
            id,
            name: request.name,
            tag: request.tag,
            version: FIRST_VERSION,
            value_version: Some(FIRST_VERSION),
        };
        let idempotency = claim.map(|(key_digest, fingerprint)| {
            IdempotencyRecord::new(key_digest, fingerprint, summary.clone(), at)
        });
        let new_secret = NewSecret {
            summary: summary.clone(),
            sealed,
            idempotency: idempotency.clone(),
            at,
            author: actor.subject.clone(),
        };
        let record = actor.allowed(&summary, at).made_current(FIRST_VERSION);
        match (
            self.store.insert(tenant, new_secret, Some(&record)).await,
            idempotency,
        ) {
            (Ok(()), _) => Ok(Created {
                secret: summary,
                replayed: false,
            }),
            // A concurrent request with the same key won the race.
            (Err(Error::IdempotencyKeyReused), Some(ours)) => {
                match self.live_record(actor, &ours.key_digest).await? {
                    Some(earlier) => self.replay(actor, &earlier, &ours.fingerprint).await,
                    None => Err(Error::IdempotencyKeyReused),
                }
            }
            (Err(error), _) => Err(error),
        }
    }

    /// The record of the key, unless it has expired: DynamoDB's TTL removes
    /// records late, so a record past its time counts as absent.
    async fn live_record(
        &self,
        actor: &Actor,
        key_digest: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let record = self
            .store
            .idempotency_record(&actor.tenant, key_digest)
            .await?;
        let now = self.clock.now();
        Ok(record.filter(|record| record.is_live(now)))
    }

    async fn replay(
        &self,
        actor: &Actor,
        earlier: &IdempotencyRecord,
        fingerprint: &[u8],
    ) -> Result<Created> {
        if !earlier.matches(fingerprint) {
            return Err(Error::IdempotencyKeyReused);
        }
        let record = actor.allowed(&earlier.secret, self.clock.now()).replayed();
        self.store.record(&record).await?;
        Ok(Created {
            secret: earlier.secret.clone(),
            replayed: true,
        })
    }
}
