//! One request from arrival to answer: the [`Telemetry`] it leaves, the
//! [`Trail`] its handler fills in as it learns who asks for what, the
//! record of its refusal (for audited functions), and its response.

use lambda_http::{Body, Request, Response};
use secrets_domain::Result;
use secrets_domain::audit::{Actor, Trail};
use secrets_domain::error::{Error, ErrorChain};
use secrets_domain::operation::Operation;
use secrets_domain::ports::SecretStore;
use secrets_domain::service::BatchEntry;

use crate::App;
use crate::refusals;
use crate::request::{path_tenant, signed_principal};
use crate::response::error_response;
use crate::telemetry::Telemetry;

pub struct Exchange<'a, S, K> {
    app: &'a App<S, K>,
    telemetry: Telemetry<'a>,
    trail: Trail,
}

impl<'a, S, K> Exchange<'a, S, K> {
    pub(crate) fn begin(app: &'a App<S, K>, request_id: String, operation: Operation) -> Self {
        Self {
            trail: Trail::new(operation, request_id.clone()),
            telemetry: Telemetry::begin(request_id, operation, &app.usage, &app.function_name),
            app,
        }
    }

    /// What the refusal of this request will record.
    pub fn trail(&mut self) -> &mut Trail {
        &mut self.trail
    }

    /// The caller of a signed (`AWS_IAM`) route: the principal API Gateway
    /// verified, acting for the tenant the path names; noted in the trail
    /// as soon as each is known, so that a refusal names them.
    pub fn signed_actor(&mut self, request: &Request) -> Result<Actor> {
        let principal = signed_principal(request)?;
        self.trail.subject(&principal);
        let tenant = path_tenant(request)?;
        Ok(self.trail.actor(&tenant, &principal))
    }

    /// The request's id, as its answers and records name it.
    pub fn request_id(&self) -> &str {
        self.telemetry.request_id()
    }
}

impl<S: SecretStore, K> Exchange<'_, S, K> {
    /// Records each entry of a batch resolve that reached no value, as a
    /// refusal by `actor` (best effort, as every refusal: one that cannot
    /// be stored goes to the log). The values handed out were recorded
    /// before they were.
    pub async fn record_refused_entries(&self, actor: &Actor, entries: &[BatchEntry]) {
        let now = self.app.secrets.clock().now();
        for (item, (key, result)) in entries.iter().enumerate() {
            if let (Err(error), Ok(item)) = (result, u16::try_from(item)) {
                // The request answers 200 whatever its entries met: a
                // server-side failure of one (a rolled-back value, KMS, the
                // audit table) is logged with its cause here, or nowhere.
                if error.http_status() >= 500 {
                    let (request_id, status) = (self.request_id(), error.http_status());
                    tracing::error!(request_id, batch_item = item, status, error = %ErrorChain(error), "batch entry failed");
                }
                let refusal = actor.refused(key, error, now).in_batch(item);
                refusals::record(refusal, self.app.secrets.store()).await;
            }
        }
    }

    /// The handler's result as the HTTP response, logged, measured and, if
    /// refused by an audited function, recorded.
    pub async fn respond(self, result: Result<Response<Body>>) -> Response<Body> {
        match result {
            Ok(response) => {
                self.close(Ok(response.status().as_u16())).await;
                response
            }
            Err(error) => {
                let response = error_response(&error, self.telemetry.request_id());
                self.close(Err(&error)).await;
                response
            }
        }
    }

    /// Refusals before authentication (401: no valid token) are not
    /// recorded: anyone on the internet could fill the audit table with
    /// them. They are logged and counted (the `Unauthenticated` metric).
    async fn close(self, outcome: std::result::Result<u16, &Error>) {
        let clock = self.app.secrets.clock();
        if let Err(error) = outcome
            && self.app.function.is_audited()
            && !matches!(error, Error::Unauthenticated { .. })
        {
            let refusal = self.trail.refused(error, clock.now());
            refusals::record(refusal, self.app.secrets.store()).await;
        }
        self.telemetry.finish(outcome, clock.now());
    }
}
