//! A function process under measurement: started against the bench's
//! Runtime API, its CPU time and peak memory read from /proc, its metric
//! records read from its standard output.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::runtime_api::RuntimeApi;

pub struct Function {
    pub name: String,
    child: Child,
    pid: u32,
    records: Arc<Mutex<Vec<Value>>>,
    api: RuntimeApi,
    /// From process start to the first poll of the Runtime API.
    pub cold_start: Duration,
}

impl Function {
    /// Starts `binary` and waits for its first poll of the Runtime API.
    pub async fn start(binary: &Path, env: &[(String, String)]) -> Result<Self, String> {
        let api = RuntimeApi::start().await;
        let name = binary
            .file_name()
            .map_or("?".into(), |n| n.to_string_lossy().into_owned());
        let started = Instant::now();
        let mut child = Command::new(binary)
            .envs(env.iter().cloned())
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let pid = child.id().ok_or("no pid")?;
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = records.clone();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with('{')
                    && line.contains("\"_aws\"")
                    && let Ok(record) = serde_json::from_str(&line)
                {
                    sink.lock().unwrap().push(record);
                }
            }
        });
        let polled = api
            .first_poll_after(started, Duration::from_secs(20))
            .await
            .ok_or_else(|| format!("{name} never polled for an event"))?;
        Ok(Self {
            name,
            child,
            pid,
            records,
            api,
            cold_start: polled - started,
        })
    }

    /// Its Runtime API, to hand it events from elsewhere (an Invoke API).
    pub fn runtime_api(&self) -> RuntimeApi {
        self.api.clone()
    }

    pub async fn invoke(&self, event: String) -> Result<Value, String> {
        let payload = self.api.invoke(event).await?;
        serde_json::from_slice(&payload)
            .map_err(|e| format!("{}: not a JSON response: {e}", self.name))
    }

    /// CPU time of all the process's threads, user and system, in ns;
    /// None if /proc does not tell (no thread's schedstat could be read).
    pub fn cpu_ns(&self) -> Option<u64> {
        let tasks = PathBuf::from(format!("/proc/{}/task", self.pid));
        let times: Vec<u64> = std::fs::read_dir(tasks)
            .ok()?
            .flatten()
            .map(|task| {
                let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
                stat.split_whitespace().next()?.parse::<u64>().ok()
            })
            .collect::<Option<_>>()?;
        (!times.is_empty()).then(|| times.iter().sum())
    }

    /// The high-water mark of resident memory, in KiB; None if /proc does
    /// not tell.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
    }

    /// The metric records printed since the last call.
    pub async fn take_records(&self) -> Vec<Value> {
        // The records of the last response may still be in the pipe.
        tokio::time::sleep(Duration::from_millis(50)).await;
        std::mem::take(&mut *self.records.lock().unwrap())
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
