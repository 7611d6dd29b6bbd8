//! Logs: the level Lambda's advanced logging controls (or `RUST_LOG`) ask
//! for, JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`, and a ceiling that no
//! setting can lift for the dependencies that log payloads when verbose:
//! at TRACE the Lambda runtime logs each raw event (request bodies, secret
//! values included) and the AWS SDK each HTTP request and response.

use std::io::Write;

use lambda_http::tracing::subscriber::filter::{LevelFilter, Targets};
use lambda_http::tracing::subscriber::fmt::MakeWriter;
use lambda_http::tracing::subscriber::layer::SubscriberExt;
use lambda_http::tracing::subscriber::util::SubscriberInitExt;
use lambda_http::tracing::subscriber::{Layer, fmt};
use tracing::Subscriber;

/// Targets whose TRACE (and for some DEBUG) output can carry payloads.
const PAYLOAD_LOGGERS: &[(&str, LevelFilter)] = &[
    ("lambda_runtime", LevelFilter::DEBUG),
    ("lambda_http", LevelFilter::DEBUG),
    ("aws_smithy_runtime", LevelFilter::DEBUG),
    ("aws_smithy_runtime_api", LevelFilter::DEBUG),
    ("aws_smithy_http", LevelFilter::DEBUG),
    ("aws_smithy_http_client", LevelFilter::DEBUG),
    ("aws_sdk_dynamodb", LevelFilter::DEBUG),
    ("aws_sdk_kms", LevelFilter::DEBUG),
    ("aws_runtime", LevelFilter::DEBUG),
    ("aws_sigv4", LevelFilter::INFO),
    ("hyper", LevelFilter::INFO),
    ("hyper_util", LevelFilter::INFO),
    ("h2", LevelFilter::INFO),
    ("rustls", LevelFilter::INFO),
];

/// The ceiling: everything else may log at any level.
pub fn payload_ceiling() -> Targets {
    PAYLOAD_LOGGERS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, (target, level)| targets.with_target(*target, *level),
    )
}

/// The level asked for: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else INFO.
/// `RUST_LOG` may name targets (`info,secrets_domain=debug`); span and field
/// directives are not supported, which keeps a regex engine out of the
/// binaries.
fn requested() -> Targets {
    let asked = std::env::var("AWS_LAMBDA_LOG_LEVEL").or_else(|_| std::env::var("RUST_LOG"));
    parse_level(&asked.unwrap_or_default())
}

fn parse_level(asked: &str) -> Targets {
    let info = Targets::new().with_default(LevelFilter::INFO);
    match asked.trim() {
        "" => info,
        // Lambda's advanced logging controls have FATAL; tracing has not.
        fatal if fatal.eq_ignore_ascii_case("fatal") => {
            Targets::new().with_default(LevelFilter::ERROR)
        }
        // Targets not named stay at INFO; what does not parse means INFO.
        directives => match directives.parse::<Targets>() {
            Ok(targets) if targets.default_level().is_none() => {
                targets.with_default(LevelFilter::INFO)
            }
            Ok(targets) => targets,
            Err(_) => info,
        },
    }
}

/// A subscriber writing to `writer` with `filter` under the ceiling.
pub fn subscriber<W>(writer: W, filter: Targets, json: bool) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    let format = if json {
        format.json().boxed()
    } else {
        format.boxed()
    };
    lambda_http::tracing::subscriber::registry()
        .with(format.with_filter(filter).with_filter(payload_ceiling()))
}

pub fn init() {
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT")
        .is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    // A second initialization (tests) keeps the first subscriber.
    let _ = subscriber(std::io::stdout, requested(), json).try_init();
}

/// Captures everything the process logs from now on, at every level the
/// ceiling allows: for tests of what reaches the logs. Process-wide, since
/// a thread's own subscriber can miss events of callsites that other
/// threads hit first.
pub fn capture_all() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let subscriber = subscriber(
                captured.clone(),
                Targets::new().with_default(LevelFilter::TRACE),
                false,
            );
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in tests");
            captured
        })
        .clone()
}

/// A writer collecting everything into memory, for tests of what is logged.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Captured {
    type Writer = Captured;

    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_loggers_stay_quiet_at_trace_whatever_is_asked() {
        let captured = Captured::default();
        let everything = parse_level("trace,lambda_runtime=trace,aws_smithy_runtime=trace");
        let _guard =
            tracing::subscriber::set_default(subscriber(captured.clone(), everything, false));
        tracing::trace!(target: "lambda_runtime::layers::api_response", body = "raw-event-marker", "raw JSON event received from Lambda");
        tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", response = "http-body-marker", "read HTTP response body");
        tracing::debug!(target: "aws_smithy_runtime::client::retries", "retry-debug-marker");
        tracing::trace!(target: "secrets_aws::dynamo", "our-trace-marker");
        let text = captured.text();
        assert!(!text.contains("raw-event-marker"), "{text}");
        assert!(!text.contains("http-body-marker"), "{text}");
        assert!(text.contains("retry-debug-marker"), "{text}");
        assert!(text.contains("our-trace-marker"), "{text}");
    }

    #[test]
    fn levels_are_read_as_lambda_and_rust_log_spell_them() {
        let at = |asked: &str, target: &str| {
            let targets = parse_level(asked);
            [
                LevelFilter::TRACE,
                LevelFilter::DEBUG,
                LevelFilter::INFO,
                LevelFilter::WARN,
                LevelFilter::ERROR,
            ]
            .into_iter()
            .find(|level| {
                level
                    .into_level()
                    .is_some_and(|level| targets.would_enable(target, &level))
            })
        };
        assert_eq!(at("", "secrets_domain"), Some(LevelFilter::INFO));
        assert_eq!(at("DEBUG", "secrets_domain"), Some(LevelFilter::DEBUG));
        assert_eq!(at("FATAL", "secrets_domain"), Some(LevelFilter::ERROR));
        assert_eq!(
            at("not a level!", "secrets_domain"),
            Some(LevelFilter::INFO)
        );
        assert_eq!(at("other=debug", "secrets_domain"), Some(LevelFilter::INFO));
        let mixed = "warn,secrets_domain=trace";
        assert_eq!(
            at(mixed, "secrets_domain::service"),
            Some(LevelFilter::TRACE)
        );
        assert_eq!(at(mixed, "secrets_lambda"), Some(LevelFilter::WARN));
    }

    #[test]
    fn json_logs_are_json() {
        let captured = Captured::default();
        let _guard = tracing::subscriber::set_default(subscriber(
            captured.clone(),
            parse_level("info"),
            true,
        ));
        tracing::error!(operation = "getSecret", "{}", crate::refusals::NOT_STORED);
        let line: serde_json::Value = serde_json::from_str(captured.text().trim()).unwrap();
        assert_eq!(line["fields"]["operation"], "getSecret");
        // Where the template's metric filter for unstored audit records
        // looks (template.yaml, `$.fields.message`).
        assert_eq!(line["fields"]["message"], "audit record not stored");
    }
}
