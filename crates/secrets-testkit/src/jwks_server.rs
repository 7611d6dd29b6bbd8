//! A JWKS endpoint on localhost for tests: serves a swappable response and
//! counts the requests it gets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub struct JwksServer {
    pub url: String,
    hits: Arc<AtomicUsize>,
    response: Arc<Mutex<(&'static str, String)>>,
}

impl JwksServer {
    pub async fn start(status: &'static str, body: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let response = Arc::new(Mutex::new((status, body)));
        let (counter, current) = (hits.clone(), response.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                counter.fetch_add(1, Ordering::SeqCst);
                let (status, body) = current.lock().unwrap().clone();
                let reply = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        Self {
            url,
            hits,
            response,
        }
    }

    pub fn serve(&self, status: &'static str, body: String) {
        *self.response.lock().unwrap() = (status, body);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
