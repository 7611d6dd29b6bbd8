//! The bad-input table: every row is a request no client should send, with
//! the exact status and error type it must get. None may produce a 5xx,
//! echo the secret it carried, or change what is stored.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, Tenant};
use crate::resolve::{Observed, observe};

const MARKER: &str = "hostile-secret-marker";
const JSON: &str = "application/json";

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: &'static str,
    body: Option<Vec<u8>>,
    status: u16,
    error_type: Option<&'static str>,
}

fn case(
    name: &'static str,
    method: Method,
    path: &str,
    status: u16,
    error_type: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        content_type: "",
        body: None,
        status,
        error_type: Some(error_type),
    }
}

impl Case {
    fn body(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = content_type;
        self.body = Some(body.into());
        self
    }

    fn accepted(mut self) -> Self {
        self.error_type = None;
        self
    }
}

fn create_with_tag(tag: &str) -> String {
    json!({"tag": tag, "name": "n", "secret": MARKER}).to_string()
}

fn nested(levels: usize) -> String {
    format!(
        r#"{{"tag":"deep","name":"n","secret":"{MARKER}","x":{}0{}}}"#,
        "[".repeat(levels),
        "]".repeat(levels)
    )
}

/// A body of `size` bytes that is otherwise a valid create request.
fn padded(size: usize) -> Vec<u8> {
    let mut body = format!(r#"{{"tag":"big","name":"n","secret":"{MARKER}","pad":""#).into_bytes();
    body.resize(size - 2, b'x');
    body.extend_from_slice(b"\"}");
    body
}

fn bodies() -> Vec<Case> {
    let post = |name, status| case(name, Method::POST, "", status, "BAD_REQUEST");
    let put = |name, status| case(name, Method::PUT, "/existing", status, "BAD_REQUEST");
    let invalid_utf8 = {
        let mut body = format!(r#"{{"tag":"utf","name":"n","secret":"{MARKER}"#).into_bytes();
        body.extend_from_slice(&[0xff, 0xfe, b'"', b'}']);
        body
    };
    let encoded_surrogate = {
        // U+D800 encoded as if it were a character (CESU-8): not UTF-8.
        let mut body = br#"{"tag":"sur","name":""#.to_vec();
        body.extend_from_slice(&[0xed, 0xa0, 0x80]);
        body.extend_from_slice(format!(r#"","secret":"{MARKER}"}}"#).as_bytes());
        body
    };
    vec![
        post("not JSON", 400).body(JSON, format!("secret={MARKER}")),
        post("truncated JSON", 400).body(JSON, format!(r#"{{"tag":"t","secret":"{MARKER}""#)),
        post("a JSON array", 400).body(JSON, format!(r#"["t","n","{MARKER}"]"#)),
        post("a JSON string", 400).body(JSON, format!(r#""{MARKER}""#)),
        post("a JSON number", 400).body(JSON, "42"),
        post("JSON null", 400).body(JSON, "null"),
        post("nested 40 deep", 400).body(JSON, nested(40)),
        post("nested 100000 deep", 400).body(JSON, nested(100_000)),
        post("over 400 KiB", 413).body(JSON, padded(450 * 1024)),
        post("over 6 MB", 413).body(JSON, padded(6 * 1024 * 1024 + 1024)),
        post("over 10 MB", 413).body(JSON, padded(10 * 1024 * 1024 + 1024)),
        post("invalid UTF-8", 400).body(JSON, invalid_utf8.clone()),
        post("invalid UTF-8, +json type", 400).body("application/vnd.api+json", invalid_utf8),
        post("an encoded lone surrogate", 400).body(JSON, encoded_surrogate),
        post("an escaped lone surrogate", 400).body(
            JSON,
            format!(r#"{{"tag":"t","name":"\ud800","secret":"{MARKER}"}}"#),
        ),
        post("a duplicate key", 400).body(
            JSON,
            format!(r#"{{"tag":"a","name":"n","secret":"{MARKER}","tag":"b"}}"#),
        ),
        post("a null field", 400).body(
            JSON,
            json!({"tag": "t", "name": null, "secret": MARKER}).to_string(),
        ),
        post("a number for a string", 400).body(
            JSON,
            json!({"tag": 7, "name": "n", "secret": MARKER}).to_string(),
        ),
        post("a boolean for a string", 400).body(
            JSON,
            json!({"tag": "t", "name": true, "secret": MARKER}).to_string(),
        ),
        post("an array for a string", 400).body(
            JSON,
            json!({"tag": "t", "name": "n", "secret": [MARKER]}).to_string(),
        ),
        post("an object for a string", 400).body(
            JSON,
            json!({"tag": "t", "name": "n", "secret": {"v": MARKER}}).to_string(),
        ),
        post("a missing field", 400).body(JSON, json!({"tag": "t", "secret": MARKER}).to_string()),
        post("no Content-Type", 400).body("", create_with_tag("no-type")),
        post("text/plain", 400).body("text/plain", create_with_tag("text")),
        post("form encoding", 400)
            .body("application/x-www-form-urlencoded", create_with_tag("form")),
        post("no body", 400).body(JSON, ""),
        put("PUT not JSON", 400).body(JSON, "{"),
        put("PUT a null secret", 400).body(JSON, r#"{"secret":null}"#),
        put("PUT no Content-Type", 400).body("", json!({"secret": MARKER}).to_string()),
        put("PUT over 400 KiB", 413).body(JSON, padded(450 * 1024)),
    ]
}

fn tags() -> Vec<Case> {
    let bad_tag = |name, tag: &str| {
        case(name, Method::POST, "", 400, "BAD_REQUEST").body(JSON, create_with_tag(tag))
    };
    vec![
        bad_tag("a Cyrillic look-alike", "ex\u{0430}mple"),
        bad_tag("a full-width look-alike", "\u{ff45}xample"),
        bad_tag("a zero-width space", "zero\u{200b}width"),
        bad_tag("a combining accent", "e\u{301}"),
        bad_tag("dot dot", ".."),
        bad_tag("an encoded slash", "a%2Fb"),
        bad_tag("a slash", "a/b"),
        bad_tag("a space", "a b"),
        bad_tag("empty", ""),
        bad_tag("101 characters", &"t".repeat(101)),
        bad_tag("id-shaped", "se0123456789abcdef"),
    ]
}

fn paths_and_queries() -> Vec<Case> {
    let get =
        |name, path: &str, status, error_type| case(name, Method::GET, path, status, error_type);
    let mut cases = vec![
        get("tagOrId percent-encoded", "/exist%69ng", 200, "").accepted(),
        get("tagOrId encoded slash", "/a%2Fb", 404, "NOT_FOUND"),
        get("tagOrId encoded dot dot", "/%2E%2E", 404, "NOT_FOUND"),
        get("tagOrId bad percent-encoding", "/%zz", 404, "NOT_FOUND"),
        get(
            "tagOrId 4000 characters",
            &format!("/{}", "x".repeat(4000)),
            404,
            "NOT_FOUND",
        ),
        get("tagOrId empty", "/", 404, "NOT_FOUND"),
        get(
            "tagOrId id-shaped, unknown",
            "/se0000000000000000",
            404,
            "NOT_FOUND",
        ),
        get("GET with a body and a Content-Type", "/existing", 200, "")
            .accepted()
            .body(JSON, r#"{"ignored":true}"#),
        get("list with a body and a Content-Type", "", 200, "")
            .accepted()
            .body("text/plain", "ignored"),
    ];
    for (name, query) in [
        ("page negative", "page=-1"),
        ("page past i32", "page=2147483648"),
        ("page huge", "page=99999999999999999999"),
        ("page fractional", "page=1.5"),
        ("page exponent", "page=1e3"),
        ("page non-numeric", "page=one"),
        ("page empty", "page="),
        ("page repeated", "page=0&page=1"),
        ("pageSize zero", "pageSize=0"),
        ("pageSize negative", "pageSize=-5"),
        ("pageSize over 1000", "pageSize=1001"),
        ("pageSize past i32", "pageSize=2147483648"),
        ("pageSize fractional", "pageSize=2.5"),
        ("pageSize repeated", "pageSize=10&pageSize=20"),
    ] {
        cases.push(get(name, &format!("?{query}"), 400, "BAD_REQUEST"));
    }
    cases
}

async fn snapshot(api: &Api, tenant: &Tenant) -> (Value, Observed) {
    (
        api.get(tenant, "?pageSize=1000").await.json(),
        observe(api, tenant, "existing").await,
    )
}

async fn run(api: &Api, tenant: &Tenant, cases: Vec<Case>) {
    let before = snapshot(api, tenant).await;
    for case in cases {
        let body = case.body.map(|body| (case.content_type, body));
        let reply = api
            .send_bytes(case.method.clone(), &case.path, Some(&tenant.token), body)
            .await;
        assert!(
            reply.status < 500,
            "{}: a server error: {}",
            case.name,
            reply.body
        );
        assert!(
            !reply.body.contains(MARKER),
            "{}: echoed the secret: {}",
            case.name,
            reply.body
        );
        match case.error_type {
            Some(error_type) => {
                reply.error(case.status, error_type);
            }
            None => assert_eq!(reply.status, case.status, "{}: {}", case.name, reply.body),
        }
        assert_eq!(
            snapshot(api, tenant).await,
            before,
            "{}: stored data changed",
            case.name
        );
    }
}

async fn tenant_with_a_secret(api: &Api) -> Tenant {
    let tenant = api.tenant();
    api.create(&tenant, "existing").await;
    tenant
}

#[tokio::test]
async fn hostile_bodies_get_4xx_and_change_nothing() {
    let api = Api::from_env();
    let tenant = tenant_with_a_secret(&api).await;
    run(&api, &tenant, bodies()).await;
}

#[tokio::test]
async fn hostile_tags_get_400_and_change_nothing() {
    let api = Api::from_env();
    let tenant = tenant_with_a_secret(&api).await;
    run(&api, &tenant, tags()).await;
}

#[tokio::test]
async fn hostile_paths_and_queries_get_4xx() {
    let api = Api::from_env();
    let tenant = tenant_with_a_secret(&api).await;
    run(&api, &tenant, paths_and_queries()).await;
}

#[tokio::test]
async fn a_delete_carrying_a_body_and_content_type_is_accepted() {
    let api = Api::from_env();
    let tenant = tenant_with_a_secret(&api).await;
    let reply = api
        .send_bytes(
            Method::DELETE,
            "/existing",
            Some(&tenant.token),
            Some((JSON, br#"{"x":1}"#.to_vec())),
        )
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (200, ""));
    assert_eq!(api.total(&tenant).await, 0);
}

#[tokio::test]
async fn undeclared_methods_get_405_with_allow() {
    let api = Api::from_env();
    let tenant = api.tenant();
    for (method, path, allow) in [
        (Method::PATCH, "", "GET, POST"),
        (Method::DELETE, "", "GET, POST"),
        (Method::PATCH, "/x", "DELETE, GET, PUT"),
        (Method::POST, "/x", "DELETE, GET, PUT"),
    ] {
        let reply = api
            .send(method.clone(), path, Some(&tenant.token), None)
            .await;
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.body);
        assert_eq!(reply.header("allow"), Some(allow));
        assert_eq!(reply.json()["type"], "BAD_REQUEST");
    }
}

/// The number of rows in each table, for the record.
#[test]
fn the_tables_have_the_documented_sizes() {
    assert_eq!(
        (bodies().len(), tags().len(), paths_and_queries().len()),
        (30, 11, 23)
    );
}
