//! A scripted HTTP/1.1 server on 127.0.0.1 for tests that need exact bytes on the wire.
//!
//! Each connection gets the next scripted response: status, headers, and body chunks written
//! one by one (chunked encoding), with pauses or a hold between them. Unscripted requests get
//! an explicit 599 "unexpected request". The server stops when dropped.

#![allow(dead_code)]

pub mod fixtures;

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{oneshot, Notify, Semaphore},
    task::JoinHandle,
};

/// One step of a response body.
#[derive(Debug, Clone)]
pub enum Step {
    /// Write these bytes as one chunk.
    Chunk(Vec<u8>),
    /// Wait this long.
    Pause(Duration),
    /// Wait until the test calls [`Server::release`].
    Hold,
    /// Close the connection at once, without the terminating chunk.
    Abort,
}

/// A scripted response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

impl Reply {
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            steps: Vec::new(),
        }
    }

    pub fn json(status: u16, body: &str) -> Self {
        Self::new(status)
            .header("content-type", "application/json")
            .chunk(body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn chunk(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.steps.push(Step::Chunk(bytes.as_ref().to_vec()));
        self
    }

    pub fn chunks<I: IntoIterator<Item = B>, B: AsRef<[u8]>>(mut self, chunks: I) -> Self {
        for chunk in chunks {
            self = self.chunk(chunk);
        }
        self
    }

    pub fn step(mut self, step: Step) -> Self {
        self.steps.push(step);
        self
    }
}

/// What the server saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
    release: Semaphore,
    closed_early: Notify,
}

/// The running server.
pub struct Server {
    pub base_url: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts a server that answers requests with `replies`, in order.
    pub async fn start(replies: impl IntoIterator<Item = Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            replies: Mutex::default(),
            seen: Mutex::default(),
            release: Semaphore::new(0),
            closed_early: Notify::new(),
        });
        shared.replies.lock().unwrap().extend(replies);
        let for_task = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let shared = for_task.clone();
                tokio::spawn(async move { serve(socket, shared).await });
            }
        });
        Server {
            base_url: format!("http://127.0.0.1:{port}/v2"),
            shared,
            task,
        }
    }

    /// Lets every response waiting at a [`Step::Hold`] go on.
    pub fn release(&self) {
        self.shared.release.add_permits(1 << 20);
    }

    /// Waits until a connection closed while its response was still being written.
    pub async fn closed_early(&self) {
        self.shared.closed_early.notified().await;
    }

    /// The requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// A client for this server, with a small idle timeout for streams.
    pub fn client(&self) -> deno_deploy::Client {
        deno_deploy::Client::builder()
            .base_url(&self.base_url)
            .token("ddo_test_token")
            .stream_idle_timeout(Duration::from_secs(5))
            .build()
            .expect("client")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>) {
    loop {
        let Some(seen) = read_head(&mut socket).await else {
            return;
        };
        shared.seen.lock().unwrap().push(seen);
        let reply = shared
            .replies
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| {
                Reply::json(
                    599,
                    r#"{"error":"unexpected request","code":"unexpected_request"}"#,
                )
            });
        if !write_reply(&mut socket, reply, &shared).await {
            return;
        }
    }
}

async fn read_head(socket: &mut TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        buffer.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buffer).into_owned();
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    // Requests in these tests carry small bodies at most; read and drop them.
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    socket.read_exact(&mut body).await.ok()?;
    Some(Seen {
        method,
        target,
        headers,
    })
}

/// Writes the reply; false when the connection must close afterwards.
async fn write_reply(socket: &mut TcpStream, reply: Reply, shared: &Shared) -> bool {
    let mut head = format!(
        "HTTP/1.1 {} X\r\ntransfer-encoding: chunked\r\n",
        reply.status
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    if socket.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    for step in reply.steps {
        let written = match step {
            Step::Chunk(bytes) if bytes.is_empty() => Ok(()),
            Step::Chunk(bytes) => {
                let mut frame = format!("{:x}\r\n", bytes.len()).into_bytes();
                frame.extend_from_slice(&bytes);
                frame.extend_from_slice(b"\r\n");
                match socket.write_all(&frame).await {
                    Ok(()) => socket.flush().await,
                    Err(e) => Err(e),
                }
            }
            Step::Pause(duration) => {
                tokio::time::sleep(duration).await;
                Ok(())
            }
            Step::Hold => {
                // Wake either on release or when the peer goes away (a read of 0 bytes).
                let mut probe = [0u8; 1];
                tokio::select! {
                    _ = shared.release.acquire() => Ok(()),
                    read = socket.read(&mut probe) => match read {
                        Ok(0) | Err(_) => Err(std::io::ErrorKind::ConnectionAborted.into()),
                        Ok(_) => Ok(()),
                    },
                }
            }
            Step::Abort => return false,
        };
        if written.is_err() {
            shared.closed_early.notify_one();
            return false;
        }
    }
    socket.write_all(b"0\r\n\r\n").await.is_ok()
}

/// Waits for `future`, failing the test instead of hanging it.
pub async fn within<F: std::future::Future>(seconds: u64, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(seconds), future)
        .await
        .expect("the test took too long")
}

/// A one-shot signal, for tests that coordinate with a server task.
pub fn signal() -> (oneshot::Sender<()>, oneshot::Receiver<()>) {
    oneshot::channel()
}

/// Everything a `tracing` subscriber wrote, as text.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The captured lines that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every `tracing` event at `level` and above on this thread (a current-thread
/// runtime runs the whole test, connections included), and every `log` record, which is how
/// reqwest logs, until the guard is dropped.
pub fn capture(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
    // Once per test binary; a second call finds it installed.
    let _ = tracing_log::LogTracer::init();
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}
