//! Lambda's Invoke API for one function the bench started, as much of it
//! as the update function's restore uses: it invokes the reseal function
//! (`AWS_ENDPOINT_URL_LAMBDA` points here), so a restore is measured with
//! the Lambda call it makes in production. As Lambda answers: the payload
//! in a 200, a function error in a 200 with `X-Amz-Function-Error`.

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::runtime_api::{RuntimeApi, read_request};

pub struct InvokeApi {
    address: String,
}

impl InvokeApi {
    /// Serves every invocation, whatever function it names, to `function`.
    pub async fn start(function: RuntimeApi) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, function.clone()));
            }
        });
        Self { address }
    }

    /// For `AWS_ENDPOINT_URL_LAMBDA`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

async fn serve(socket: TcpStream, function: RuntimeApi) {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    while let Some((_, _, body)) = read_request(&mut read).await {
        let event = String::from_utf8_lossy(&body).into_owned();
        let (payload, function_error) = match function.invoke(event).await {
            Ok(payload) => (payload, ""),
            Err(error) => (error.into_bytes(), "x-amz-function-error: Unhandled\r\n"),
        };
        let mut reply = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             x-amz-executed-version: 1\r\n{function_error}\r\n",
            payload.len()
        )
        .into_bytes();
        reply.extend_from_slice(&payload);
        if write.write_all(&reply).await.is_err() {
            return;
        }
    }
}
