//! Requests shaped exactly like API Gateway REST (v1) and HTTP (v2) events,
//! for handler tests and the bench.

use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};

/// An HTTP request to be delivered as either kind of API Gateway event.
#[derive(Clone, Debug)]
pub struct TestRequest {
    method: &'static str,
    path: String,
    path_parameters: Map<String, Value>,
    query: Vec<(String, String)>,
    headers: Map<String, Value>,
    body: Option<String>,
    /// The route's path template, when it has parameters.
    resource: Option<&'static str>,
    /// The IAM principal API Gateway verified (SigV4), for IAM routes.
    signed_by: Option<String>,
}

/// The versions list's route, as template.yaml declares it.
pub const VERSIONS_ROUTE: &str = "/api/v1/secrets/{tagOrId}/versions";
/// The restore route, as template.yaml declares it.
pub const RESTORE_ROUTE: &str = "/api/v1/secrets/{tagOrId}/versions/{valueVersion}/restore";
/// The recovery route, as template.yaml declares it.
pub const RECOVER_ROUTE: &str = "/api/v1/deleted-secrets/{id}/restore";
/// The resolve route, as template.yaml declares it.
pub const RESOLVE_ROUTE: &str = "/internal/v1/tenants/{tenant}/secrets/{tagOrId}";
/// The batch resolve route.
pub const RESOLVE_MANY_ROUTE: &str = "/internal/v1/tenants/{tenant}/secrets";

impl TestRequest {
    pub fn new(method: &'static str, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            path_parameters: Map::new(),
            query: Vec::new(),
            headers: Map::new(),
            body: None,
            resource: None,
            signed_by: None,
        }
    }

    /// A request to `/api/v1/secrets/{tagOrId}`, routed with the parameter.
    pub fn for_secret(method: &'static str, tag_or_id: &str) -> Self {
        let mut request = Self::new(method, &format!("/api/v1/secrets/{tag_or_id}"));
        request
            .path_parameters
            .insert("tagOrId".into(), Value::String(tag_or_id.to_owned()));
        request
    }

    /// A request to `/api/v1/secrets/{tagOrId}/versions`, routed with the
    /// parameter.
    pub fn for_versions(tag_or_id: &str) -> Self {
        let mut request = Self::for_secret("GET", tag_or_id);
        request.path.push_str("/versions");
        request.resource = Some(VERSIONS_ROUTE);
        request
    }

    /// A restore of version `value_version` (any text, as sent) of
    /// `tag_or_id`, routed with both parameters.
    pub fn for_restore(tag_or_id: &str, value_version: &str) -> Self {
        let mut request = Self::for_secret("POST", tag_or_id);
        request.path = format!("/api/v1/secrets/{tag_or_id}/versions/{value_version}/restore");
        request.resource = Some(RESTORE_ROUTE);
        request.path_parameters.insert(
            "valueVersion".into(),
            Value::String(value_version.to_owned()),
        );
        request
    }

    /// A recovery of the deleted secret `id` (any text, as sent), routed
    /// with the parameter.
    pub fn for_recovery(id: &str) -> Self {
        let mut request = Self::new("POST", &format!("/api/v1/deleted-secrets/{id}/restore"));
        request.resource = Some(RECOVER_ROUTE);
        request
            .path_parameters
            .insert("id".into(), Value::String(id.to_owned()));
        request
    }

    /// A request to the resolve route for `tenant`'s `tag_or_id`, routed
    /// with both parameters; unsigned until [`Self::signed_by`].
    pub fn for_resolve(tenant: &str, tag_or_id: &str) -> Self {
        let mut request = Self::new(
            "GET",
            &format!("/internal/v1/tenants/{tenant}/secrets/{tag_or_id}"),
        );
        request.resource = Some(RESOLVE_ROUTE);
        for (name, value) in [("tenant", tenant), ("tagOrId", tag_or_id)] {
            request
                .path_parameters
                .insert(name.into(), Value::String(value.to_owned()));
        }
        request
    }

    /// A batch resolve of `tenant`'s secrets named by `keys`, each a
    /// `tagOrId` query parameter.
    pub fn for_resolve_many(tenant: &str, keys: &[&str]) -> Self {
        let mut request = Self::new("GET", &format!("/internal/v1/tenants/{tenant}/secrets"));
        request.resource = Some(RESOLVE_MANY_ROUTE);
        request
            .path_parameters
            .insert("tenant".into(), Value::String(tenant.to_owned()));
        keys.iter()
            .fold(request, |request, key| request.query("tagOrId", key))
    }

    /// As API Gateway delivers a request whose SigV4 signature it verified
    /// for `principal_arn` (an IAM-authorized route).
    pub fn signed_by(mut self, principal_arn: &str) -> Self {
        self.signed_by = Some(principal_arn.to_owned());
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .insert(name.to_owned(), Value::String(value.to_owned()));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn json(self, body: &str) -> Self {
        self.header("Content-Type", "application/json").body(body)
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    /// As API Gateway REST APIs (v1 proxy integration) deliver it.
    pub fn rest_v1(&self) -> Request {
        lambda_http::request::from_str(&self.rest_v1_json()).expect("a valid REST API event")
    }

    /// The raw REST API (v1) event, as the Lambda runtime receives it.
    pub fn rest_v1_json(&self) -> String {
        let resource = self.resource.unwrap_or(if self.path_parameters.is_empty() {
            "/api/v1/secrets"
        } else {
            "/api/v1/secrets/{tagOrId}"
        });
        let mut single = Map::new();
        let mut multi: Map<String, Value> = Map::new();
        for (name, value) in &self.query {
            single.insert(name.clone(), json!(value));
            multi
                .entry(name.clone())
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("array")
                .push(json!(value));
        }
        let multi_headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), json!([value])))
            .collect();
        let event = json!({
            "resource": resource,
            "path": self.path,
            "httpMethod": self.method,
            "headers": self.headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": if single.is_empty() { Value::Null } else { Value::Object(single) },
            "multiValueQueryStringParameters": if multi.is_empty() { Value::Null } else { Value::Object(multi) },
            "pathParameters": if self.path_parameters.is_empty() { Value::Null } else { Value::Object(self.path_parameters.clone()) },
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "resourceId": "abc123",
                "stage": "prod",
                "requestId": "v1-request-id",
                "identity": {
                    "sourceIp": "203.0.113.7",
                    "userArn": self.signed_by,
                    "caller": self.signed_by.as_ref().map(|_| "AROAEXAMPLE:session"),
                    "accessKey": self.signed_by.as_ref().map(|_| "ASIAEXAMPLE"),
                    "accountId": self.signed_by.as_ref().map(|_| "123456789012"),
                },
                "resourcePath": resource,
                "httpMethod": self.method,
                "apiId": "api123",
                "path": format!("/prod{}", self.path),
            },
            "body": self.body,
            "isBase64Encoded": false,
        });
        event.to_string()
    }

    /// As API Gateway HTTP APIs (payload 2.0) and `cargo lambda watch` deliver it.
    pub fn http_v2(&self) -> Request {
        let raw_query = self
            .query
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&");
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": self.headers,
            "pathParameters": self.path_parameters,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api123",
                "domainName": "api.test",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.7",
                    "userAgent": "test",
                },
                "requestId": "v2-request-id",
                "authorizer": self.signed_by.as_ref().map(|arn| json!({"iam": {
                    "accessKey": "ASIAEXAMPLE",
                    "accountId": "123456789012",
                    "callerId": "AROAEXAMPLE:session",
                    "userArn": arn,
                    "userId": "AROAEXAMPLE:session",
                }})),
                "routeKey": "$default",
                "stage": "$default",
                "time": "26/Nov/2026:10:00:00 +0000",
                "timeEpoch": 1_795_000_000_000_i64,
            },
            "body": self.body,
            "isBase64Encoded": false,
        });
        lambda_http::request::from_str(&event.to_string()).expect("a valid HTTP API event")
    }

    /// Both event shapes, for tests that must hold for either.
    pub fn both(&self) -> [Request; 2] {
        [self.rest_v1(), self.http_v2()]
    }
}

/// The response body as JSON (`Null` for an empty body).
pub fn json_body(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Empty => Value::Null,
        Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        Body::Binary(bytes) => serde_json::from_slice(bytes).expect("a JSON body"),
        _ => Value::Null,
    }
}
