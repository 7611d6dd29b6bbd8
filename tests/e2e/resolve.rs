//! The resolve route, called as a trusted internal system calls it: a GET of
//! `/internal/v1/tenants/{tenant}/secrets/{tagOrId}` signed with AWS SigV4
//! by the AWS SDK's own signer. API Gateway (locally, the gateway shim)
//! checks the signature and the caller's IAM policy for that tenant's path.
//! Against a deployment, give real credentials of a role whose policy
//! allows the route (`E2E_RESOLVE_*`).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use reqwest::{Client, Method};
use secrets_tests::required_env;
use serde_json::{Value, json};

use crate::api::{Api, Tenant};

/// A caller of the resolve route: one IAM principal's keys.
pub struct Resolver {
    client: Client,
    base_url: String,
    region: String,
    credentials: Credentials,
}

/// What the route answered: the value, or the contract-shaped refusal.
#[derive(Debug)]
pub enum Invocation {
    Answer(Value),
    Failed { status: u16, body: Value },
}

impl Resolver {
    /// The principal allowed every tenant: `E2E_RESOLVE_ACCESS_KEY_ID`,
    /// `E2E_RESOLVE_SECRET_ACCESS_KEY` (and `E2E_RESOLVE_SESSION_TOKEN`
    /// for temporary credentials), in `E2E_RESOLVE_REGION`; its ARN, as
    /// the audit records it, is `E2E_RESOLVE_PRINCIPAL_ARN`.
    pub fn from_env() -> Self {
        Self::with_keys("E2E_RESOLVE")
    }

    /// The principal allowed `E2E_RESOLVE_SCOPED_TENANT` only.
    pub fn scoped_from_env() -> (Self, String) {
        (
            Self::with_keys("E2E_RESOLVE_SCOPED"),
            required_env("E2E_RESOLVE_SCOPED_TENANT"),
        )
    }

    fn with_keys(prefix: &str) -> Self {
        Self {
            client: Client::new(),
            base_url: required_env("E2E_BASE_URL")
                .trim_end_matches('/')
                .to_owned(),
            region: required_env("E2E_RESOLVE_REGION"),
            credentials: Credentials::new(
                required_env(&format!("{prefix}_ACCESS_KEY_ID")),
                required_env(&format!("{prefix}_SECRET_ACCESS_KEY")),
                std::env::var(format!("{prefix}_SESSION_TOKEN")).ok(),
                None,
                "e2e",
            ),
        }
    }

    pub fn url(&self, tenant: &str, tag_or_id: &str) -> String {
        format!(
            "{}/internal/v1/tenants/{tenant}/secrets/{tag_or_id}",
            self.base_url
        )
    }

    /// The headers SigV4 adds to a GET of `url` (`X-Amz-Date`,
    /// `Authorization`, and the session token if any).
    fn signature(&self, url: &str) -> Vec<(String, String)> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("execute-api")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .expect("signing parameters")
            .into();
        let request =
            SignableRequest::new("GET", url, std::iter::empty(), SignableBody::Bytes(&[]))
                .expect("a signable request");
        let (instructions, _) = sign(request, &params).expect("signed").into_parts();
        instructions
            .headers()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    /// A signed GET of `url`, as sent.
    pub async fn get(&self, url: &str) -> Invocation {
        let mut request = self.client.request(Method::GET, url);
        for (name, value) in self.signature(url) {
            request = request.header(name, value);
        }
        answer(request.send().await.expect("the API answers")).await
    }

    pub async fn value(&self, tenant: &str, tag_or_id: &str) -> Invocation {
        self.get(&self.url(tenant, tag_or_id)).await
    }

    /// A batch resolve of `keys` (tags and ids, URL-safe as they are).
    pub async fn values(&self, tenant: &str, keys: &[&str]) -> Invocation {
        let query: Vec<String> = keys.iter().map(|key| format!("tagOrId={key}")).collect();
        let url = format!(
            "{}/internal/v1/tenants/{tenant}/secrets?{}",
            self.base_url,
            query.join("&")
        );
        self.get(&url).await
    }
}

async fn answer(response: reqwest::Response) -> Invocation {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON answer");
    if status == 200 {
        Invocation::Answer(body)
    } else {
        Invocation::Failed { status, body }
    }
}

/// A secret as everyone sees it: its body and `ETag` through the public
/// API, its value through resolve. A refused write must leave all three.
#[derive(Debug, PartialEq)]
pub struct Observed {
    pub body: Value,
    pub etag: Option<String>,
    pub value: Option<String>,
}

pub async fn observe(api: &Api, tenant: &Tenant, tag_or_id: &str) -> Observed {
    let read = api.get(tenant, &format!("/{tag_or_id}")).await;
    let value = match Resolver::from_env().value(&tenant.name, tag_or_id).await {
        Invocation::Answer(answer) => answer["value"].as_str().map(str::to_owned),
        Invocation::Failed { .. } => None,
    };
    Observed {
        body: read.json(),
        etag: read.header("etag").map(str::to_owned),
        value,
    }
}

fn refused(invocation: Invocation, expected_status: u16, expected_type: &str) {
    match invocation {
        Invocation::Failed { status, body } => {
            assert_eq!(
                (status, body["type"].as_str()),
                (expected_status, Some(expected_type)),
                "{body}"
            );
            assert!(body["message"].is_string(), "{body}");
        }
        Invocation::Answer(answer) => panic!("expected {expected_status}, got {answer}"),
    }
}

#[tokio::test]
async fn resolve_round_trip_follows_every_change() {
    let (api, resolver) = (Api::from_env(), Resolver::from_env());
    let tenant = api.tenant();
    let reply = api
        .post(
            &tenant,
            json!({"tag": "db", "name": "Database", "secret": "first value ✓"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    for key in ["db", id.as_str()] {
        match resolver.value(&tenant.name, key).await {
            Invocation::Answer(answer) => assert_eq!(
                answer,
                json!({"id": id, "name": "Database", "tag": "db", "value": "first value ✓"})
            ),
            failed => panic!("{failed:?}"),
        }
    }

    let reply = api.put(&tenant, "/db", json!({"secret": "second"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    match resolver.value(&tenant.name, "db").await {
        Invocation::Answer(answer) => assert_eq!(answer["value"], "second"),
        failed => panic!("{failed:?}"),
    }

    // Another tenant's path does not lead to it, by tag or by id.
    let other = api.tenant();
    for key in ["db", id.as_str()] {
        refused(resolver.value(&other.name, key).await, 404, "NOT_FOUND");
    }

    assert_eq!(api.delete(&tenant, "/db").await.status, 200);
    refused(resolver.value(&tenant.name, &id).await, 404, "NOT_FOUND");
}

/// IAM alone keeps a consumer to its tenant: its policy names one tenant's
/// path, and another tenant's is refused before any function runs.
#[tokio::test]
async fn a_caller_scoped_to_one_tenant_is_refused_every_other() {
    let api = Api::from_env();
    let (scoped, own_tenant) = Resolver::scoped_from_env();
    let own = Tenant {
        token: api.token(&own_tenant, &[crate::api::PERMISSION]),
        name: own_tenant,
    };
    let tag = secrets_tests::unique("scoped");
    let reply = api
        .post(
            &own,
            json!({"tag": tag, "name": "Mine", "secret": "scoped value"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    match scoped.value(&own.name, &tag).await {
        Invocation::Answer(answer) => assert_eq!(answer["value"], "scoped value"),
        failed => panic!("{failed:?}"),
    }

    let other = api.tenant();
    api.create(&other, &tag).await;
    let denied = scoped.value(&other.name, &tag).await;
    refused(denied, 403, "FORBIDDEN");
    // A tenant whose name starts like its own is another tenant.
    refused(
        scoped.value(&format!("{}x", own.name), &tag).await,
        403,
        "FORBIDDEN",
    );
    // The platform principal, allowed every tenant, reaches it.
    assert!(matches!(
        Resolver::from_env().value(&other.name, &tag).await,
        Invocation::Answer(_)
    ));
}

/// No signature, a bearer token, or a signature of another request: no
/// function runs, no value leaves.
#[tokio::test]
async fn unsigned_and_forged_requests_reach_no_value() {
    let (api, resolver) = (Api::from_env(), Resolver::from_env());
    let tenant = api.tenant();
    api.create(&tenant, "guarded").await;
    let url = resolver.url(&tenant.name, "guarded");
    let client = Client::new();
    let unsigned = client.get(&url).send().await.unwrap();
    let with_token = client
        .get(&url)
        .bearer_auth(&tenant.token)
        .send()
        .await
        .unwrap();
    let mut replayed = client.get(resolver.url(&tenant.name, "other"));
    for (name, value) in resolver.signature(&url) {
        replayed = replayed.header(name, value);
    }
    let replayed = replayed.send().await.unwrap();
    for (what, response) in [
        ("unsigned", unsigned),
        ("bearer", with_token),
        ("replayed", replayed),
    ] {
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(status == 403 || status == 404, "{what}: {status} {body}");
        assert!(!body.contains("s3cr3t"), "{what} leaked the value: {body}");
    }
}

#[tokio::test]
async fn malformed_paths_are_refused_in_the_contract_shape() {
    let resolver = Resolver::from_env();
    refused(resolver.value("a~b", "nope").await, 404, "NOT_FOUND");
    refused(resolver.value("a%2Ab", "db").await, 400, "BAD_REQUEST");
    refused(
        resolver.value("e2e", "not%20a%20tag").await,
        404,
        "NOT_FOUND",
    );
}

/// The public API's routes lead to no value. (Dot segments are not tried:
/// the client normalises them away before sending.)
#[tokio::test]
async fn the_public_api_cannot_reach_resolve() {
    let api = Api::from_env();
    let tenant = api.tenant();
    api.create(&tenant, "unreachable").await;
    for path in ["/unreachable/resolve", "/unreachable/value"] {
        for method in [Method::GET, Method::POST] {
            let reply = api.send(method, path, Some(&tenant.token), None).await;
            assert!(
                !reply.body.contains("s3cr3t"),
                "{path} leaked the value: {}",
                reply.body
            );
            assert!(reply.status >= 400, "{path}: {}", reply.status);
        }
    }
}

/// A batch over the route: each secret answered on its own, in order; a
/// principal scoped to one tenant refused another's batch before any
/// function runs; more than 20 keys refused whole.
#[tokio::test]
async fn a_batch_answers_each_secret_and_keeps_to_the_callers_tenants() {
    let api = Api::from_env();
    let (scoped, own_tenant) = Resolver::scoped_from_env();
    let own = Tenant {
        token: api.token(&own_tenant, &[crate::api::PERMISSION]),
        name: own_tenant,
    };
    let (first, second) = (
        secrets_tests::unique("batch-a"),
        secrets_tests::unique("batch-b"),
    );
    let mut ids = Vec::new();
    for (tag, value) in [(&first, "first value"), (&second, "second value")] {
        let reply = api
            .post(&own, json!({"tag": tag, "name": "Batch", "secret": value}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        ids.push(reply.json()["id"].as_str().unwrap().to_owned());
    }
    let missing = secrets_tests::unique("batch-missing");
    let keys = [first.as_str(), ids[1].as_str(), missing.as_str()];
    let answer = match scoped.values(&own.name, &keys).await {
        Invocation::Answer(answer) => answer,
        failed => panic!("{failed:?}"),
    };
    let results = answer["results"].as_array().unwrap();
    let summary: Vec<(Value, Value, Value)> = results
        .iter()
        .map(|r| {
            (
                r["tagOrId"].clone(),
                r["status"].clone(),
                r["secret"]["value"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!(first), json!(200), json!("first value")),
            (json!(ids[1]), json!(200), json!("second value")),
            (json!(missing), json!(404), Value::Null),
        ]
    );
    assert_eq!(results[2]["error"]["type"], "NOT_FOUND");

    let other = api.tenant();
    api.create(&other, &first).await;
    refused(
        scoped.values(&other.name, &[first.as_str()]).await,
        403,
        "FORBIDDEN",
    );
    let too_many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let too_many: Vec<&str> = too_many.iter().map(String::as_str).collect();
    refused(
        scoped.values(&own.name, &too_many).await,
        400,
        "BAD_REQUEST",
    );
}
