//! A small client for the API under test.

use jsonwebtoken::Header;
use reqwest::header::HeaderMap;
use reqwest::{Client, Method};
use secrets_testkit::tokens::Minter;
use secrets_tests::{required_env, unique};
use serde_json::{Value, json};

pub use secrets_testkit::tokens::PERMISSION;

pub struct Api {
    client: Client,
    base_url: String,
    /// Signs with the stack's HS256 secret, as its issuer.
    minter: Option<Minter>,
    given_token: Option<String>,
}

/// A tenant of its own for one test, with a token holding the permission.
pub struct Tenant {
    pub name: String,
    pub token: String,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the contract's `ErrorResponse` shape and returns the body.
    pub fn error(&self, status: u16, error_type: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.body
        );
        let body = self.json();
        assert_eq!(body["type"], error_type, "{body}");
        assert_eq!(body["httpStatus"], status, "{body}");
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert!(
            body["requestId"].as_str().is_some_and(|id| !id.is_empty()),
            "{body}"
        );
        body
    }
}

impl Api {
    /// `E2E_BASE_URL`, plus either the signing settings (`E2E_JWT_HS256_SECRET`,
    /// `E2E_JWT_ISSUER`, `E2E_JWT_AUDIENCE`) for the full suite, or a ready
    /// token (`E2E_TOKEN`) for the `smoke_` tests, or both.
    pub fn from_env() -> Self {
        let minter = std::env::var("E2E_JWT_HS256_SECRET").ok().map(|secret| {
            Minter::hs256(
                secret.as_bytes(),
                &required_env("E2E_JWT_ISSUER"),
                &required_env("E2E_JWT_AUDIENCE"),
            )
            .subject("e2e")
        });
        Self {
            client: Client::new(),
            base_url: required_env("E2E_BASE_URL")
                .trim_end_matches('/')
                .to_owned(),
            minter,
            given_token: std::env::var("E2E_TOKEN")
                .ok()
                .filter(|token| !token.is_empty()),
        }
    }

    /// The token given in `E2E_TOKEN`, as smoke tests against a deployment use.
    pub fn given_token(&self) -> Tenant {
        let token = self.given_token.clone().unwrap_or_else(|| {
            panic!("E2E_TOKEN is not set: `make smoke API_URL=... TOKEN=...` sets it")
        });
        Tenant {
            name: "given".into(),
            token,
        }
    }

    fn minter(&self) -> &Minter {
        self.minter.as_ref().unwrap_or_else(|| {
            panic!(
                "E2E_JWT_HS256_SECRET is not set: this test mints tokens; against a deployment \
                 only the smoke_ tests run (`make smoke`)"
            )
        })
    }

    pub fn token_with(&self, tenant: &str, permissions: &[&str], extra: Value) -> String {
        let minter = self.minter();
        let mut claims = minter.claims(tenant, permissions);
        for (key, value) in extra.as_object().into_iter().flatten() {
            claims[key] = value.clone();
        }
        minter.sign(&claims)
    }

    /// Signs arbitrary claims with the stack's secret, under `header`.
    pub fn sign_claims(&self, header: Header, claims: &Value) -> String {
        self.minter().sign_under(header, claims)
    }

    pub fn token(&self, tenant: &str, permissions: &[&str]) -> String {
        self.token_with(tenant, permissions, json!({}))
    }

    pub fn tenant(&self) -> Tenant {
        let name = unique("e2e");
        let token = self.token(&name, &[PERMISSION]);
        Tenant { name, token }
    }

    /// Sends a request; `path` is relative to `/api/v1/secrets`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> Reply {
        let body = body.map(|(content_type, body)| (content_type, body.into_bytes()));
        self.send_bytes(method, path, token, body).await
    }

    /// Sends any bytes as the body; an empty content type sends none.
    pub async fn send_bytes(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let path = format!("/api/v1/secrets{path}");
        self.send_with_headers(method, &path, token, &[], body)
            .await
    }

    /// A request of `tenant` with a JSON body (or none) and extra headers.
    pub async fn send_as(
        &self,
        method: Method,
        path: &str,
        tenant: &Tenant,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let body = body.map(|body| ("application/json", body.to_string().into_bytes()));
        let path = format!("/api/v1/secrets{path}");
        self.send_with_headers(method, &path, Some(&tenant.token), headers, body)
            .await
    }

    /// A page of `tenant`'s deleted secrets (`query`: `?after=…` and so on).
    pub async fn deleted(&self, tenant: &Tenant, query: &str) -> Reply {
        let path = format!("/api/v1/deleted-secrets{query}");
        self.send_with_headers(Method::GET, &path, Some(&tenant.token), &[], None)
            .await
    }

    /// `tenant`'s recovery of the deleted secret `id`.
    pub async fn recover(&self, tenant: &Tenant, id: &str) -> Reply {
        let path = format!("/api/v1/deleted-secrets/{id}/restore");
        self.send_with_headers(Method::POST, &path, Some(&tenant.token), &[], None)
            .await
    }

    /// `path` from the API's root.
    async fn send_with_headers(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base_url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, body)) = body {
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            request = request.body(body);
        }
        let response = request.send().await.expect("the API answers");
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: String::from_utf8_lossy(&response.bytes().await.expect("a body")).into_owned(),
        }
    }

    pub async fn get(&self, tenant: &Tenant, path: &str) -> Reply {
        self.send(Method::GET, path, Some(&tenant.token), None)
            .await
    }

    pub async fn delete(&self, tenant: &Tenant, path: &str) -> Reply {
        self.send(Method::DELETE, path, Some(&tenant.token), None)
            .await
    }

    pub async fn post(&self, tenant: &Tenant, body: Value) -> Reply {
        self.send(
            Method::POST,
            "",
            Some(&tenant.token),
            Some(("application/json", body.to_string())),
        )
        .await
    }

    pub async fn put(&self, tenant: &Tenant, path: &str, body: Value) -> Reply {
        self.send(
            Method::PUT,
            path,
            Some(&tenant.token),
            Some(("application/json", body.to_string())),
        )
        .await
    }

    /// Creates a secret and returns the response body.
    pub async fn create(&self, tenant: &Tenant, tag: &str) -> Value {
        let reply = self
            .post(
                tenant,
                json!({"tag": tag, "name": format!("Secret {tag}"), "secret": "s3cr3t"}),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    pub async fn total(&self, tenant: &Tenant) -> u64 {
        let reply = self.get(tenant, "?pageSize=1").await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()["total"].as_u64().expect("total")
    }
}
