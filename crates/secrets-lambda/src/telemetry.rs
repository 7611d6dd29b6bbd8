//! What each request leaves behind for operators: one log line and one
//! CloudWatch Embedded Metric Format record, with its time, status and AWS
//! usage. Never a token, a body or a debug representation.

use std::io::Write;
use std::time::Instant;

use secrets_aws::metrics::CallCounter;
use secrets_domain::clock::Timestamp;
use secrets_domain::error::{Error, ErrorChain};
use secrets_domain::operation::Operation;

pub struct Telemetry<'a> {
    request_id: String,
    operation: Operation,
    started: Instant,
    usage: &'a CallCounter,
    function_name: &'a str,
}

impl<'a> Telemetry<'a> {
    pub fn begin(
        request_id: String,
        operation: Operation,
        usage: &'a CallCounter,
        function_name: &'a str,
    ) -> Self {
        usage.take(); // whatever happened before this request is not its cost
        Self {
            request_id,
            operation,
            started: Instant::now(),
            usage,
            function_name,
        }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The request's log line and metrics record, at `now`. Errors are
    /// logged by their public message, plus their causes for 5xx.
    pub fn finish(self, outcome: Result<u16, &Error>, now: Timestamp) {
        let elapsed_ms = self.started.elapsed().as_millis() as u64;
        let (request_id, operation) = (self.request_id.as_str(), self.operation.as_str());
        let status = match outcome {
            Ok(status) => {
                tracing::info!(request_id, operation, status, elapsed_ms, "request served");
                status
            }
            Err(error) => {
                let status = error.http_status();
                if status >= 500 {
                    tracing::error!(request_id, operation, status, elapsed_ms, error = %ErrorChain(error), "request failed");
                } else {
                    tracing::info!(request_id, operation, status, elapsed_ms, error = %error, "request refused");
                }
                status
            }
        };
        // EMF records are read by CloudWatch from stdout, one JSON per line.
        let mut record = self.usage.take().to_emf(
            operation,
            self.function_name,
            status,
            u128::from(now.millis()),
        );
        record.push('\n');
        // In one write: `println!` hands stdout's 1 KiB line buffer the
        // record in pieces, and a longer record leaves in several writes,
        // which another process sharing the stream (locally, the function's
        // other instances under `cargo lambda watch`) can come between. One
        // write to a pipe of at most 4 KiB is never split.
        let _ = std::io::stdout().lock().write_all(record.as_bytes());
    }
}
