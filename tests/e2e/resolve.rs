//! The resolve function, invoked as a trusted internal system would: the
//! Lambda Invoke API (`cargo lambda watch` serves it locally), never the
//! public API.

use reqwest::{Client, Method};
use secrets_tests::required_env;
use serde_json::{Value, json};

use crate::api::{Api, Tenant};

/// The Lambda Invoke API of the stack under test.
pub struct Invoker {
    client: Client,
    url: String,
}

/// An invocation's outcome: the function's answer, or its function error.
#[derive(Debug)]
pub enum Invocation {
    Answer(Value),
    Failed { error_type: String, message: String },
}

impl Invoker {
    /// `E2E_INVOKE_URL`: the invoke endpoint `make test` starts. Against a
    /// deployment this suite cannot reach the function (it needs IAM
    /// credentials): skip these tests there with `--skip resolve`.
    pub fn from_env() -> Self {
        Self {
            client: Client::new(),
            url: format!(
                "{}/2015-03-31/functions/resolve-secret/invocations",
                required_env("E2E_INVOKE_URL").trim_end_matches('/')
            ),
        }
    }

    pub async fn invoke(&self, event: Value) -> Invocation {
        let response = self
            .client
            .post(&self.url)
            .body(event.to_string())
            .send()
            .await
            .expect("the invoke endpoint answers");
        let function_error = response.headers().contains_key("x-amz-function-error");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON answer");
        if function_error || status >= 400 {
            Invocation::Failed {
                error_type: body["errorType"].as_str().unwrap_or_default().to_owned(),
                message: body["errorMessage"].as_str().unwrap_or_default().to_owned(),
            }
        } else {
            Invocation::Answer(body)
        }
    }

    pub async fn value(&self, tenant: &str, tag_or_id: &str) -> Invocation {
        self.invoke(json!({"tenant": tenant, "tagOrId": tag_or_id, "caller": "e2e"}))
            .await
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
    let value = match Invoker::from_env().value(&tenant.name, tag_or_id).await {
        Invocation::Answer(answer) => answer["value"].as_str().map(str::to_owned),
        Invocation::Failed { .. } => None,
    };
    Observed {
        body: read.json(),
        etag: read.header("etag").map(str::to_owned),
        value,
    }
}

fn refused(invocation: Invocation, expected_type: &str) {
    match invocation {
        Invocation::Failed {
            error_type,
            message,
        } => {
            assert_eq!(error_type, expected_type, "{message}");
            assert!(!message.is_empty());
        }
        Invocation::Answer(answer) => panic!("expected {expected_type}, got {answer}"),
    }
}

#[tokio::test]
async fn resolve_round_trip_follows_every_change() {
    let (api, invoker) = (Api::from_env(), Invoker::from_env());
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
        match invoker.value(&tenant.name, key).await {
            Invocation::Answer(answer) => assert_eq!(
                answer,
                json!({"id": id, "name": "Database", "tag": "db", "value": "first value ✓"})
            ),
            failed => panic!("{failed:?}"),
        }
    }

    let reply = api.put(&tenant, "/db", json!({"secret": "second"})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    match invoker.value(&tenant.name, "db").await {
        Invocation::Answer(answer) => assert_eq!(answer["value"], "second"),
        failed => panic!("{failed:?}"),
    }

    // Another tenant cannot resolve it, by tag or by id.
    let other = api.tenant();
    for key in ["db", id.as_str()] {
        refused(invoker.value(&other.name, key).await, "NOT_FOUND");
    }

    assert_eq!(api.delete(&tenant, "/db").await.status, 200);
    refused(invoker.value(&tenant.name, &id).await, "NOT_FOUND");
}

#[tokio::test]
async fn resolve_refuses_malformed_events() {
    let invoker = Invoker::from_env();
    for event in [
        json!({}),
        json!({"tenant": "t"}),
        json!({"tenant": 7, "tagOrId": "db"}),
        json!(["db"]),
    ] {
        refused(invoker.invoke(event).await, "BAD_REQUEST");
    }
}

/// The public API has no route to the resolve function.
#[tokio::test]
async fn the_public_api_cannot_reach_resolve() {
    let api = Api::from_env();
    let tenant = api.tenant();
    api.create(&tenant, "unreachable").await;
    for path in [
        "/../../../2015-03-31/functions/resolve-secret/invocations",
        "/unreachable/resolve",
        "/unreachable/value",
    ] {
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
