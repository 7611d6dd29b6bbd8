//! `republish-changes --queue-url URL [--event-bus NAME] [--dry-run]
//! [--max-messages N] [--audit-table NAME]`, with the operator's AWS
//! credentials and region from the environment. `--audit-table` reads each
//! batch's changes from the audit table by its times, for batches past the
//! stream's retention (a Scan of the whole table per batch). One JSON line per message; exit status 0 when every
//! message taken was republished (or, dry, read), 1 when some are kept in
//! the queue, 2 for a usage error.

use std::process::ExitCode;
use std::time::Duration;

use republish_changes::failure_queue::FailureQueue;
use republish_changes::republish::{Options, republish};
use republish_changes::source::ChangeSource;
use republish_changes::stream_range::AuditStream;
use secrets_aws::event_bus::EventBus;
use secrets_aws::metrics::CallCounter;
use secrets_aws::sdk::{self, CallTimeouts};

const USAGE: &str = "usage: republish-changes --queue-url URL [--event-bus NAME] [--dry-run] [--max-messages N] \
     [--audit-table NAME]";
/// The publish function's default: the account's default bus.
const DEFAULT_BUS: &str = "default";
const DEFAULT_MAX_MESSAGES: usize = 100;

#[derive(Debug)]
struct Arguments {
    queue_url: String,
    event_bus: String,
    audit_table: Option<String>,
    options: Options,
}

fn parse(mut arguments: impl Iterator<Item = String>) -> Result<Arguments, String> {
    let (mut queue_url, mut event_bus, mut audit_table) = (None, DEFAULT_BUS.to_owned(), None);
    let mut options = Options {
        dry_run: false,
        max_messages: DEFAULT_MAX_MESSAGES,
    };
    while let Some(argument) = arguments.next() {
        let mut value = || arguments.next().ok_or(format!("{argument} needs a value"));
        match argument.as_str() {
            "--queue-url" => queue_url = Some(value()?),
            "--event-bus" => event_bus = value()?,
            "--audit-table" => audit_table = Some(value()?),
            "--max-messages" => {
                options.max_messages = value()?
                    .parse()
                    .ok()
                    .filter(|&most| most > 0)
                    .ok_or("--max-messages takes a whole number above 0")?;
            }
            "--dry-run" => options.dry_run = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Arguments {
        queue_url: queue_url.ok_or("--queue-url is required")?,
        event_bus,
        audit_table,
        options,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let arguments = match parse(std::env::args().skip(1)) {
        Ok(arguments) => arguments,
        Err(problem) => {
            eprintln!("{problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sdk = sdk::load(CallTimeouts {
        attempt: Duration::from_secs(5),
        operation: Duration::from_secs(20),
    })
    .await;
    let queue = FailureQueue::new(aws_sdk_sqs::Client::new(&sdk), arguments.queue_url);
    let source = match arguments.audit_table {
        Some(table) => ChangeSource::AuditTable {
            client: aws_sdk_dynamodb::Client::new(&sdk),
            table,
        },
        None => ChangeSource::Stream(AuditStream::new(aws_sdk_dynamodbstreams::Client::new(&sdk))),
    };
    let bus = EventBus::new(
        sdk::eventbridge_client(&sdk, &CallCounter::default()),
        arguments.event_bus,
    );
    match republish(&queue, &source, &bus, arguments.options).await {
        Err(problem) => {
            eprintln!("the failure queue cannot be read: {problem}");
            ExitCode::FAILURE
        }
        Ok(reports) => {
            for report in &reports {
                println!(
                    "{}",
                    serde_json::to_string(report).expect("a report serializes")
                );
            }
            let kept = reports.iter().filter(|r| r.outcome.is_kept()).count();
            eprintln!(
                "{} message(s) taken, {kept} kept in the queue",
                reports.len()
            );
            if kept == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(line: &str) -> Result<Arguments, String> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn a_queue_is_required_and_the_rest_has_defaults() {
        let parsed = arguments("--queue-url https://q").unwrap();
        assert_eq!(parsed.queue_url, "https://q");
        assert_eq!(parsed.event_bus, "default");
        assert!(!parsed.options.dry_run);
        assert_eq!(parsed.options.max_messages, 100);
        assert_eq!(parsed.audit_table, None);
        assert!(arguments("--dry-run").unwrap_err().contains("--queue-url"));
    }

    #[test]
    fn every_option_is_read_and_a_bad_one_refused() {
        let parsed =
            arguments("--dry-run --queue-url q --event-bus ops --max-messages 5 --audit-table a")
                .unwrap();
        assert!(parsed.options.dry_run);
        assert_eq!(parsed.event_bus, "ops");
        assert_eq!(parsed.options.max_messages, 5);
        assert_eq!(parsed.audit_table.as_deref(), Some("a"));
        assert!(arguments("--queue-url q --max-messages 0").is_err());
        assert!(arguments("--queue-url q --max-messages many").is_err());
        assert!(
            arguments("--queue-url")
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            arguments("--queue-url q --verbose")
                .unwrap_err()
                .contains("--verbose")
        );
    }
}
