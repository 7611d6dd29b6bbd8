//! The floor of a function that reads: floor-clients plus one consistent
//! `GetItem` per request, of the item named by the request's `pk` and `sk`
//! query parameters, and nothing else (no token, no logging, no parsing of
//! the item). The CPU one DynamoDB call costs, with which no real function
//! can do better than.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, RequestExt, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sdk = secrets_bench_floors::sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = std::env::var("TABLE_NAME")?;
    let (dynamodb, table) = (&dynamodb, table.as_str());
    run(service_fn(move |request: Request| async move {
        let query = request.query_string_parameters();
        let key = |name: &str| AttributeValue::S(query.first(name).unwrap_or_default().to_owned());
        let found = dynamodb
            .get_item()
            .table_name(table)
            .key("pk", key("pk"))
            .key("sk", key("sk"))
            .consistent_read(true)
            .send()
            .await?
            .item
            .is_some();
        Ok::<_, Error>(Response::new(Body::from(if found {
            "found"
        } else {
            "none"
        })))
    }))
    .await
}
