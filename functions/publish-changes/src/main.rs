//! The publish function: no route. Lambda hands it the audit table's
//! stream (an event source mapping, filtered to inserts of allowed
//! changes' records); it publishes one change event per committed change
//! to EventBridge and names the first record it could not publish, so
//! that the stream is retried from there: at least once, never for a
//! change that did not commit. It holds `events:PutEvents` and nothing
//! else of ours: no table, no key.

mod handler;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use secrets_aws::change_stream::StreamEvent;
use secrets_aws::event_bus::EventBus;
use secrets_lambda::{Function, start_events};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let bus = start_events(Function::PublishChanges).await?;
    // Lives as long as the process: every invocation borrows the one client.
    let bus: &'static EventBus = Box::leak(Box::new(bus));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| {
        handler::handle(bus, event.payload)
    }))
    .await
}
