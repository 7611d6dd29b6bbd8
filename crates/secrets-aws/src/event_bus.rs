//! Change events onto an EventBridge bus (`PutEvents`), in order.

use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use secrets_domain::change_event::{ChangeEvent, EVENT_DETAIL_TYPE, EVENT_SOURCE};
use secrets_domain::ports::ChangeEvents;

/// The most entries one `PutEvents` call takes.
pub const ENTRIES_PER_CALL: usize = 10;

#[derive(Clone)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    name: String,
}

impl EventBus {
    /// The bus `name` (`default`: the account's default bus).
    pub fn new(client: aws_sdk_eventbridge::Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    fn entry(&self, event: &ChangeEvent) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.name)
            .source(EVENT_SOURCE)
            .detail_type(EVENT_DETAIL_TYPE)
            .detail(event.detail())
            .time(DateTime::from_millis(
                i64::try_from(event.at().millis()).unwrap_or(i64::MAX),
            ))
            .build()
    }
}

impl ChangeEvents for EventBus {
    /// Ten a call, in order. EventBridge accepts or refuses each entry on
    /// its own; the count stops at the first refused (a throttle, an
    /// internal failure), since the retry starts from there.
    async fn publish(&self, events: &[ChangeEvent]) -> usize {
        let mut accepted = 0;
        for chunk in events.chunks(ENTRIES_PER_CALL) {
            let entries = chunk.iter().map(|event| self.entry(event)).collect();
            let output = match self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(output) => output,
                Err(error) => {
                    let error = aws_sdk_eventbridge::error::DisplayErrorContext(error);
                    tracing::warn!(%error, "publishing change events failed");
                    return accepted;
                }
            };
            // An answer holds one result per entry, in order.
            let results = output.entries();
            let refused = results
                .iter()
                .position(|result| result.error_code().is_some() || result.event_id().is_none());
            match refused {
                None if results.len() == chunk.len() => accepted += chunk.len(),
                refused => {
                    let at = refused.unwrap_or(results.len());
                    let code = results
                        .get(at)
                        .and_then(|r| r.error_code())
                        .unwrap_or("none");
                    tracing::warn!(code, "EventBridge refused a change event");
                    return accepted + at;
                }
            }
        }
        accepted
    }
}
