//! The Lambda Runtime API, as much of it as a function uses: `next` hands
//! out queued events, `response` and `error` complete them. It notes when
//! each `next` poll arrives, which is what a cold start measurement needs.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";

/// Where an invocation's response payload, or its error, is delivered.
type Completion = oneshot::Sender<Result<Vec<u8>, String>>;

#[derive(Default)]
struct State {
    queue: Mutex<VecDeque<(String, String)>>,
    queued: Notify,
    polls: Mutex<Vec<Instant>>,
    polled: Notify,
    pending: Mutex<HashMap<String, Completion>>,
    next_id: Mutex<u64>,
}

#[derive(Clone)]
pub struct RuntimeApi {
    address: String,
    state: Arc<State>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared.clone()));
            }
        });
        Self { address, state }
    }

    /// For `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// When the first `next` poll arrived after `since`.
    pub async fn first_poll_after(&self, since: Instant, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.state.polled.notified();
            if let Some(at) = self
                .state
                .polls
                .lock()
                .unwrap()
                .iter()
                .copied()
                .find(|at| *at >= since)
            {
                return Some(at);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    /// Hands `event` to the function and waits for its response payload.
    pub async fn invoke(&self, event: String) -> Result<Vec<u8>, String> {
        let id = {
            let mut next = self.state.next_id.lock().unwrap();
            *next += 1;
            format!("bench-{next}")
        };
        let (done, response) = oneshot::channel();
        self.state.pending.lock().unwrap().insert(id.clone(), done);
        self.state.queue.lock().unwrap().push_back((id, event));
        self.state.queued.notify_one();
        tokio::time::timeout(Duration::from_secs(30), response)
            .await
            .map_err(|_| "no response within 30 s".to_owned())?
            .map_err(|_| "the function went away".to_owned())?
    }
}

/// One HTTP/1.1 request from a kept-alive connection: its method, path
/// and body; `None` once the connection ends.
pub async fn read_request(
    read: &mut BufReader<OwnedReadHalf>,
) -> Option<(String, String, Vec<u8>)> {
    let mut request_line = String::new();
    if read.read_line(&mut request_line).await.unwrap_or(0) == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if read.read_line(&mut header).await.unwrap_or(0) == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    read.read_exact(&mut body).await.ok()?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    Some((method, path, body))
}

async fn serve(socket: TcpStream, state: Arc<State>) {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    while let Some((method, path, body)) = read_request(&mut read).await {
        let reply = if method == "GET" && path == NEXT {
            next_event(&state).await
        } else {
            complete(&state, &path, body);
            "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"
                .to_owned()
                .into_bytes()
        };
        if write.write_all(&reply).await.is_err() {
            return;
        }
    }
}

async fn next_event(state: &State) -> Vec<u8> {
    state.polls.lock().unwrap().push(Instant::now());
    state.polled.notify_waiters();
    let (id, event) = loop {
        let notified = state.queued.notified();
        if let Some(queued) = state.queue.lock().unwrap().pop_front() {
            break queued;
        }
        notified.await;
    };
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |now| now.as_millis() + 10_000);
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         lambda-runtime-aws-request-id: {id}\r\nlambda-runtime-deadline-ms: {deadline}\r\n\
         lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
         lambda-runtime-trace-id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\r\n",
        event.len()
    )
    .into_bytes();
    reply.extend_from_slice(event.as_bytes());
    reply
}

fn complete(state: &State, path: &str, body: Vec<u8>) {
    let Some(rest) = path.strip_prefix(INVOCATION) else {
        return; // an init error: the process will exit, and its waiter time out
    };
    let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
    if let Some(done) = state.pending.lock().unwrap().remove(id) {
        let _ = done.send(match kind {
            "response" => Ok(body),
            _ => Err(String::from_utf8_lossy(&body).into_owned()),
        });
    }
}
