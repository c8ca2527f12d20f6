//! Helpers for the API tests: an emulator with a client, spec validation of every JSON body,
//! and readers for SSE and NDJSON streams.
//!
//! Bodies are checked against `#/components/schemas/<Name>` of the vendored spec, with the
//! whole spec as the root document so `$ref`s resolve, and formats (date-time, uuid) enforced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use deno_deploy_emulator::{Emulator, EmulatorConfig};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

/// How long any wait in a test may take before it fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Gives rustls ring's crypto. In a workspace build, reqwest carries the client crate's
/// `rustls-no-provider` feature, and then builds no client without a provider installed.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An emulator and a client that carries its token.
pub struct Api {
    pub emulator: Emulator,
    pub http: reqwest::Client,
}

impl Api {
    /// An emulator with quick builds.
    pub fn start() -> Api {
        Api::with(EmulatorConfig::default().build_delay(Duration::from_millis(5)))
    }

    pub fn with(config: EmulatorConfig) -> Api {
        let emulator = Emulator::start_with(config).expect("the emulator starts");
        install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(PATIENCE)
            .build()
            .expect("a client");
        Api { emulator, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    /// A request to `base_url + path` with the bearer token.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(self.emulator.token())
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the request is answered");
        Reply::read(response).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(Method::POST, path).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(Method::PATCH, path).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(Method::DELETE, path)).await
    }

    /// Creates an app and returns it, checked against `App`.
    pub async fn create_app(&self, body: Value) -> Value {
        self.post("/apps", body).await.ok(200, "App")
    }

    /// Deploys and returns the 202's revision, checked against `Revision`.
    pub async fn deploy(&self, app: &str, body: Value) -> Value {
        self.post(&format!("/apps/{app}/deploy"), body)
            .await
            .ok(202, "Revision")
    }

    /// Polls getRevision until the revision has `status`.
    pub async fn wait_for_status(&self, revision: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let current = self
                .get(&format!("/revisions/{revision}"))
                .await
                .ok(200, "Revision");
            if current["status"] == status {
                return current;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "revision {revision} never reached {status}: {current}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Opens a stream with an `Accept` header (none when `None`).
    pub async fn open(&self, path: &str, accept: Option<&str>) -> reqwest::Response {
        let mut request = self.request(Method::GET, path);
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send().await.expect("the stream opens")
    }
}

/// A whole answer.
#[derive(Debug)]
pub struct Reply {
    /// The URL the request went to.
    pub url: reqwest::Url,
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let url = response.url().clone();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a whole body");
        let is_json = headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        let body = if is_json {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON {text}: {e}"))
        } else {
            Value::Null
        };
        Reply {
            url,
            status,
            headers,
            text,
            body,
        }
    }

    /// Asserts the status and that the body is a `schema`, and returns the body.
    #[track_caller]
    pub fn ok(self, status: u16, schema: &str) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        assert_schema(schema, &self.body);
        self.body
    }

    /// Asserts a 200 whose body is an array of `schema` items, and returns the items.
    #[track_caller]
    pub fn list(self, schema: &str) -> Vec<Value> {
        assert_eq!(self.status, 200, "unexpected answer: {}", self.text);
        let items = self.body.as_array().expect("an array").clone();
        for item in &items {
            assert_schema(schema, item);
        }
        items
    }

    /// Asserts an `Error` with this status and code, and returns its message.
    #[track_caller]
    pub fn error(self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "unexpected answer: {}", self.text);
        assert_schema("Error", &self.body);
        assert_eq!(self.body["code"], code, "unexpected error: {}", self.text);
        self.body["error"].as_str().expect("a message").to_owned()
    }

    /// The value of a header, or "" when absent.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("a text header").to_owned())
            .unwrap_or_default()
    }

    /// The URL of the `Link: <...>; rel="next"` header, if any: absolute, on the origin the
    /// request went to.
    pub fn next_link(&self) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        let target = link.strip_prefix('<')?.split_once('>')?.0;
        let url = reqwest::Url::parse(target).expect("an absolute URL");
        assert_eq!(url.origin(), self.url.origin(), "{link}");
        Some(url.to_string())
    }
}

/// Asserts that `value` is a valid `#/components/schemas/<name>` of the spec.
#[track_caller]
pub fn assert_schema(name: &str, value: &Value) {
    let validator = validator(name);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid {name}: {errors:?}\n{value:#}"
    );
}

fn validator(name: &str) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(name.to_owned())
        .or_insert_with(|| {
            let mut root = spec().clone();
            assert!(
                root["components"]["schemas"].get(name).is_some(),
                "the spec has no schema {name}"
            );
            root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
            root["$ref"] = json!(format!("#/components/schemas/{name}"));
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("schema {name} compiles: {e}"));
            Arc::new(validator)
        })
        .clone()
}

/// The vendored spec as JSON.
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/deno-deploy-v2-api-openapi.yml"
        );
        let text = std::fs::read_to_string(path).expect("the vendored spec");
        serde_yaml_ng::from_str(&text).expect("the spec is YAML")
    })
}

/// Assets holding a `main.ts`.
pub fn main_ts() -> Value {
    json!({"main.ts": {"kind": "file", "encoding": "utf-8", "content": "Deno.serve(() => new Response('hi'));"}})
}

/// One event of an SSE stream; a comment has `comment` set.
#[derive(Debug, Clone, Default)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
    pub comment: Option<String>,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{}: {e}", self.data))
    }
}

/// Reads a streamed body piece by piece.
pub struct StreamReader {
    response: reqwest::Response,
    buffer: String,
    ended: bool,
}

impl StreamReader {
    pub fn new(response: reqwest::Response) -> StreamReader {
        StreamReader {
            response,
            buffer: String::new(),
            ended: false,
        }
    }

    /// The next SSE event or comment; `None` when the stream ends.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse_event(&block));
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// The next NDJSON line (possibly blank); `None` when the stream ends.
    pub async fn next_line(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.find('\n') {
                let line: String = self.buffer.drain(..end + 1).collect();
                return Some(line.trim_end_matches('\n').to_owned());
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Reads the next chunk; false at the end. Panics if nothing comes within [`PATIENCE`].
    async fn fill(&mut self) -> bool {
        if self.ended {
            return false;
        }
        let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
            .await
            .expect("the stream goes on within the patience");
        match chunk {
            Ok(Some(bytes)) => {
                self.buffer
                    .push_str(std::str::from_utf8(&bytes).expect("UTF-8"));
                true
            }
            Ok(None) => {
                self.ended = true;
                false
            }
            Err(e) => panic!("the stream broke: {e}"),
        }
    }

    /// What has been read and not yet taken as an event or a line.
    pub fn buffered(&self) -> &str {
        &self.buffer
    }

    /// Reads the next chunk, reporting a broken stream instead of panicking; the size of the
    /// chunk, or `None` at the end.
    pub async fn try_chunk(&mut self) -> Result<Option<usize>, reqwest::Error> {
        let chunk = tokio::time::timeout(PATIENCE, self.response.chunk())
            .await
            .expect("the stream goes on within the patience")?;
        Ok(chunk.map(|b| {
            self.buffer.push_str(&String::from_utf8_lossy(&b));
            b.len()
        }))
    }
}

fn parse_event(block: &str) -> SseEvent {
    let mut event = SseEvent {
        event: "message".into(),
        ..SseEvent::default()
    };
    let mut data = Vec::new();
    for line in block.lines() {
        if let Some(comment) = line.strip_prefix(':') {
            event.comment = Some(comment.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
        } else if let Some(value) = line.strip_prefix("event:") {
            event.event = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("id:") {
            event.id = Some(value.trim().to_owned());
        }
    }
    event.data = data.join("\n");
    event
}
