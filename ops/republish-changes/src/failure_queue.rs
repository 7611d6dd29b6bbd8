//! The mapping's on-failure queue (`ChangeEventsFailedQueue`): one
//! message per batch the publish function gave up on.

use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;

/// How long a received message stays hidden from other readers: longer
/// than republishing one batch takes, so that a run never meets a message
/// twice; the ones a run keeps are shown again when it ends.
pub const HIDDEN_WHILE_REPUBLISHING: Duration = Duration::from_secs(900);
/// The most messages one receive returns (SQS's own bound).
pub const MESSAGES_PER_RECEIVE: usize = 10;

pub struct FailureQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

/// A received message: its body, and the handle that deletes it.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub body: String,
    receipt: String,
}

impl FailureQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    /// Up to `most` messages (at most ten), waiting a second for any.
    pub async fn receive(&self, most: usize) -> Result<Vec<Received>, String> {
        let most = most.clamp(1, MESSAGES_PER_RECEIVE);
        let answer = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(most).unwrap_or(1))
            .visibility_timeout(seconds(HIDDEN_WHILE_REPUBLISHING))
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|error| DisplayErrorContext(error).to_string())?;
        Ok(answer
            .messages()
            .iter()
            .map(|message| Received {
                id: message.message_id().unwrap_or_default().to_owned(),
                body: message.body().unwrap_or_default().to_owned(),
                receipt: message.receipt_handle().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    /// Removes a message whose batch has been republished.
    pub async fn delete(&self, message: &Received) -> Result<(), String> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map(drop)
            .map_err(|error| DisplayErrorContext(error).to_string())
    }

    /// Shows a kept message to readers again at once, for the next run.
    pub async fn show_again(&self, message: &Received) -> Result<(), String> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(&message.receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map(drop)
            .map_err(|error| DisplayErrorContext(error).to_string())
    }
}

fn seconds(duration: Duration) -> i32 {
    i32::try_from(duration.as_secs()).unwrap_or(i32::MAX)
}
