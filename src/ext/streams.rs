//! Revision progress and live runtime logs as `futures::Stream`s of typed items.
//!
//! The caller picks SSE or NDJSON; the parser follows the response's media type. A stream ends
//! with `None` only after its terminal event (SSE `done`, a finished build); a connection that
//! closes or stays silent past the idle timeout before that ends it with an error.

use std::{
    collections::{HashMap, VecDeque},
    hash::{Hash, Hasher},
    time::Duration,
};

use bytes::Bytes;
use futures::{stream::BoxStream, Stream, StreamExt};
use progenitor_client::{ClientHooks, ClientInfo, OperationInfo};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE};

use super::{call::CallContext, ndjson, sse};
use crate::{types, Client, Error};

/// The wire format of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamFormat {
    /// Server-Sent Events (`text/event-stream`).
    #[default]
    Sse,
    /// Newline-delimited JSON (`application/x-ndjson`).
    Ndjson,
}

impl StreamFormat {
    /// The `Accept` header value that asks for this format.
    pub fn accept(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            StreamFormat::Sse => "text/event-stream",
            StreamFormat::Ndjson => "application/x-ndjson",
        })
    }
}

/// A build stage of a revision, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Waiting for a builder.
    Queued,
    /// Preparing the build environment.
    Preparing,
    /// Installing dependencies.
    Installing,
    /// Running the build.
    Building,
    /// Rolling out to regions.
    Deploying,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 5] = [
        Stage::Queued,
        Stage::Preparing,
        Stage::Installing,
        Stage::Building,
        Stage::Deploying,
    ];

    /// The stage's name in the API (`queued`, `preparing`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Preparing => "preparing",
            Stage::Installing => "installing",
            Stage::Building => "building",
            Stage::Deploying => "deploying",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of each stage in a progress report, as the API spells it (`running`, ...).
pub fn stage_statuses(progress: &types::RevisionProgress) -> [(Stage, Option<String>); 5] {
    let status = |s: &Option<types::StageStatus>| {
        s.as_ref()
            .and_then(|s| s.status.as_ref())
            .map(|s| s.to_string())
    };
    let deploying = progress
        .deploying
        .as_ref()
        .and_then(|d| d.status.as_ref())
        .map(|s| s.to_string());
    [
        (Stage::Queued, status(&progress.queued)),
        (Stage::Preparing, status(&progress.preparing)),
        (Stage::Installing, status(&progress.installing)),
        (Stage::Building, status(&progress.building)),
        (Stage::Deploying, deploying),
    ]
}

/// The first failed stage of a progress report, if any.
pub fn failed_stage(progress: &types::RevisionProgress) -> Option<Stage> {
    stage_statuses(progress)
        .into_iter()
        .find(|(_, status)| status.as_deref() == Some("failed"))
        .map(|(stage, _)| stage)
}

/// Whether a progress report shows a finished build: deploying succeeded or skipped.
pub fn is_finished(progress: &types::RevisionProgress) -> bool {
    let deploying = &stage_statuses(progress)[4].1;
    matches!(deploying.as_deref(), Some("succeeded" | "skipped"))
}

/// A stream of progress reports; it ends after the build finishes.
pub type ProgressStream<'a> = BoxStream<'a, Result<types::RevisionProgress, Error>>;

/// A stream of runtime log entries; it ends only with an error or when dropped.
pub type LogStream<'a> = BoxStream<'a, Result<types::RuntimeLogEntry, Error>>;

/// A request for a revision's build progress; see [`Client::revision_progress`].
#[derive(Debug, Clone)]
#[must_use = "call .stream() to follow the progress"]
pub struct RevisionProgressRequest<'a> {
    client: &'a Client,
    revision: String,
    format: StreamFormat,
}

impl Client {
    /// Follows the build progress of `revision` (see [`RevisionProgressRequest::stream`]).
    pub fn revision_progress(&self, revision: impl Into<String>) -> RevisionProgressRequest<'_> {
        RevisionProgressRequest {
            client: self,
            revision: revision.into(),
            format: StreamFormat::Sse,
        }
    }

    /// Follows the runtime logs of `app` live, from `start` on (see [`FollowLogs::stream`]).
    pub fn follow_logs(
        &self,
        app: impl Into<String>,
        start: chrono::DateTime<chrono::Utc>,
    ) -> FollowLogs<'_> {
        FollowLogs {
            client: self,
            app: app.into(),
            start,
            revision_id: None,
            level: None,
            query: None,
            format: StreamFormat::Sse,
            max_reconnects: DEFAULT_MAX_RECONNECTS,
        }
    }
}

impl<'a> RevisionProgressRequest<'a> {
    /// The wire format to ask for (SSE by default).
    pub fn format(mut self, format: StreamFormat) -> Self {
        self.format = format;
        self
    }

    /// Connects and yields each progress report as it arrives.
    ///
    /// The stream ends after the terminal event: SSE `done`, or over NDJSON a report whose
    /// deploying stage finished. A report with a failed stage is yielded, then
    /// [`Error::RevisionFailed`] naming the stage; an SSE `error` event becomes
    /// [`Error::RevisionFailed`] with the server's message. A connection that closes before the
    /// terminal event, or is silent (not even a keep-alive) for longer than the client's
    /// stream idle timeout, ends the stream with [`Error::Stream`]. A request that gets no
    /// headers within that time is retried like any GET. Dropping the stream closes the
    /// connection.
    pub fn stream(self) -> ProgressStream<'a> {
        let RevisionProgressRequest {
            client,
            revision,
            format,
        } = self;
        let connect = async move {
            let context = CallContext {
                operation: "stream_revision_progress",
                accept: Some(format.accept()),
                ..CallContext::default()
            };
            let call = client
                .stream_revision_progress()
                .revision(revision.clone())
                .send();
            let idle = client.state().stream_idle_timeout();
            // Each attempt's wait for headers is bounded by the read timeout; this bounds them
            // all, for a caller's own client that has none.
            let deadline = client.state().stream_answer_deadline();
            let Ok((response, _)) = tokio::time::timeout(deadline, context.scope(call)).await
            else {
                return error_stream(no_answer(deadline));
            };
            let response = match response {
                Ok(response) => response,
                Err(raw) => return error_stream(Error::from_raw(raw).await),
            };
            let media = media_type(response.headers()).unwrap_or(match format {
                StreamFormat::Sse => Media::Sse,
                StreamFormat::Ndjson => Media::Ndjson,
            });
            let body = response.into_inner().into_inner();
            progress_items(frames(body, media, idle), revision).boxed()
        };
        futures::stream::once(connect).flatten().boxed()
    }
}

/// A live log request; see [`Client::follow_logs`].
#[derive(Debug, Clone)]
#[must_use = "call .stream() to follow the logs"]
pub struct FollowLogs<'a> {
    client: &'a Client,
    app: String,
    start: chrono::DateTime<chrono::Utc>,
    revision_id: Option<String>,
    level: Option<types::GetAppLogsLevel>,
    query: Option<String>,
    format: StreamFormat,
    max_reconnects: u32,
}

/// Reconnections in a row that may fail before a log stream gives up.
pub const DEFAULT_MAX_RECONNECTS: u32 = 10;

type LogConnection<'a> = BoxStream<'a, Result<(types::RuntimeLogEntry, Option<String>), Error>>;

/// Where a followed log stream stands: what it has delivered, so a reconnection can skip it.
#[derive(Debug, Default)]
struct Resume {
    /// The timestamp of the newest entry delivered.
    last_timestamp: Option<chrono::DateTime<chrono::Utc>>,
    /// The SSE id of the newest entry delivered.
    last_event_id: Option<String>,
    /// How many entries of each kind were delivered at `last_timestamp`. Only entries of that
    /// one instant are kept, which bounds the memory.
    delivered_at_last: HashMap<u64, u32>,
    /// How many of those this connection has replayed (and so skipped) so far.
    replayed_at_last: HashMap<u64, u32>,
}

impl Resume {
    /// Whether `entry` is new; records it when it is.
    fn admit(&mut self, entry: &types::RuntimeLogEntry, id: Option<&str>) -> bool {
        let Some(timestamp) = entry.timestamp else {
            // Without a timestamp there is no position to compare: deliver it.
            return true;
        };
        let print = fingerprint(entry);
        match self.last_timestamp {
            Some(last) if timestamp < last => return false,
            Some(last) if timestamp == last => {
                let delivered = self.delivered_at_last.get(&print).copied().unwrap_or(0);
                let replayed = self.replayed_at_last.entry(print).or_insert(0);
                if *replayed < delivered {
                    *replayed += 1;
                    return false;
                }
                *replayed += 1;
            }
            _ => {
                self.last_timestamp = Some(timestamp);
                self.delivered_at_last.clear();
                self.replayed_at_last.clear();
                self.replayed_at_last.insert(print, 1);
            }
        }
        *self.delivered_at_last.entry(print).or_insert(0) += 1;
        if let Some(id) = id {
            self.last_event_id = Some(id.to_owned());
        }
        true
    }

    /// A new connection replays from `last_timestamp`: nothing of it is skipped yet.
    fn reconnected(&mut self) {
        self.replayed_at_last.clear();
    }
}

fn fingerprint(entry: &types::RuntimeLogEntry) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(entry)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

struct Follow<'a> {
    request: FollowLogs<'a>,
    policy: crate::RetryPolicy,
    connection: Option<LogConnection<'a>>,
    resume: Resume,
    failures: u32,
    finished: bool,
}

impl<'a> Follow<'a> {
    async fn next_entry(&mut self) -> Option<Result<types::RuntimeLogEntry, Error>> {
        if self.finished {
            return None;
        }
        loop {
            if self.connection.is_none() {
                if self.failures > 0 {
                    tokio::time::sleep(self.policy_backoff()).await;
                }
                let start = self.resume.last_timestamp.unwrap_or(self.request.start);
                let id = self.resume.last_event_id.clone();
                match self.request.connect(start, id.as_deref()).await {
                    Ok(connection) => {
                        self.resume.reconnected();
                        self.connection = Some(connection);
                    }
                    Err(error) => match self.give_up(error) {
                        Some(error) => return Some(Err(error)),
                        None => continue,
                    },
                }
            }
            let connection = self.connection.as_mut()?;
            match connection.next().await {
                Some(Ok((entry, id))) => {
                    if self.resume.admit(&entry, id.as_deref()) {
                        self.failures = 0;
                        return Some(Ok(entry));
                    }
                }
                // Only a JSON page ends by itself: it is the whole answer.
                None => {
                    self.finished = true;
                    return None;
                }
                Some(Err(error)) => {
                    self.connection = None;
                    if let Some(error) = self.give_up(error) {
                        return Some(Err(error));
                    }
                }
            }
        }
    }

    /// Counts a failure; the error to end with, or `None` to reconnect.
    fn give_up(&mut self, error: Error) -> Option<Error> {
        let terminal = matches!(&error, Error::Api(api) if !api.is_retryable())
            // A malformed entry would come back on every replay: reconnecting cannot help.
            || matches!(
                error,
                Error::InvalidInput { .. }
                    | Error::Config(_)
                    | Error::ForeignOrigin { .. }
                    | Error::Decode { .. }
            );
        self.failures += 1;
        if terminal || self.failures > self.request.max_reconnects {
            self.finished = true;
            return Some(error);
        }
        tracing::warn!(
            operation = "get_app_logs",
            attempt = self.failures,
            cause = %error,
            "log stream lost; reconnecting"
        );
        None
    }

    fn policy_backoff(&self) -> Duration {
        self.policy.backoff(self.failures.saturating_sub(1))
    }
}

impl<'a> FollowLogs<'a> {
    /// Only entries of this revision.
    pub fn revision_id(mut self, revision_id: impl Into<String>) -> Self {
        self.revision_id = Some(revision_id.into());
        self
    }

    /// Only entries of this severity.
    pub fn level(mut self, level: types::GetAppLogsLevel) -> Self {
        self.level = Some(level);
        self
    }

    /// Only entries whose message contains this text.
    pub fn query(mut self, query: impl Into<String>) -> Self {
        self.query = Some(query.into());
        self
    }

    /// The wire format to ask for (SSE by default).
    pub fn format(mut self, format: StreamFormat) -> Self {
        self.format = format;
        self
    }

    /// How many reconnections in a row may fail (no entry received) before the stream gives
    /// up with the last error; the default is [`DEFAULT_MAX_RECONNECTS`]. 0 never reconnects.
    pub fn max_reconnects(mut self, reconnects: u32) -> Self {
        self.max_reconnects = reconnects;
        self
    }

    /// Yields each entry as it arrives: first those since `start`, then live ones, for as long
    /// as the stream is polled.
    ///
    /// When the connection closes, breaks, answers 5xx or stays silent (keep-alives count; no
    /// headers at all is silence too) past the client's stream idle timeout, it reconnects
    /// with backoff and resumes from the last entry received (its timestamp, and its SSE id as
    /// `Last-Event-ID`), skipping the entries already delivered, so each entry arrives exactly
    /// once and in order. It ends with an error on a 4xx answer, or when
    /// [`Self::max_reconnects`] reconnections in a row fail. A JSON answer (a server that does
    /// not stream) yields its entries and ends. Dropping the stream closes the connection.
    pub fn stream(self) -> LogStream<'a> {
        let follow = Follow {
            policy: *self.client.state().retry_policy(),
            request: self,
            connection: None,
            resume: Resume::default(),
            failures: 0,
            finished: false,
        };
        futures::stream::unfold(follow, |mut follow| async move {
            let item = follow.next_entry().await?;
            Some((item, follow))
        })
        .boxed()
    }

    /// One connection: the entries since `start`, with their SSE ids.
    async fn connect(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        last_event_id: Option<&str>,
    ) -> Result<LogConnection<'a>, Error> {
        let client = self.client;
        let idle = client.state().stream_idle_timeout();
        // Each attempt's wait for headers is bounded by the read timeout; this bounds them all,
        // for a caller's own client that has none.
        let deadline = client.state().stream_answer_deadline();
        let response = tokio::time::timeout(deadline, self.send(start, last_event_id))
            .await
            .map_err(|_| no_answer(deadline))??;
        let media = media_type(response.headers()).unwrap_or(match self.format {
            StreamFormat::Sse => Media::Sse,
            StreamFormat::Ndjson => Media::Ndjson,
        });
        Ok(log_items(frames(response.bytes_stream(), media, idle), media).boxed())
    }

    /// Sends the request through the client's hooks (auth, validation) and checks the status.
    async fn send(
        &self,
        start: chrono::DateTime<chrono::Utc>,
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response, Error> {
        let client = self.client;
        let url = format!(
            "{}/apps/{}/logs",
            client.baseurl(),
            progenitor_client::encode_path(&self.app)
        );
        let mut query: Vec<(&str, String)> = vec![(
            "start",
            start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        )];
        if let Some(id) = &self.revision_id {
            query.push(("revision_id", id.clone()));
        }
        if let Some(level) = &self.level {
            query.push(("level", level.to_string()));
        }
        if let Some(text) = &self.query {
            query.push(("query", text.clone()));
        }
        let mut request = client
            .client()
            .get(url)
            .query(&query)
            .header(ACCEPT, self.format.accept())
            .header("api-version", Client::api_version());
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let mut request = request.build().map_err(Error::Transport)?;
        let info = OperationInfo {
            operation_id: "get_app_logs",
        };
        client
            .pre::<types::Error>(&mut request, &info)
            .await
            .map_err(Error::from)?;
        let result = client.exec(request, &info).await;
        client
            .post::<types::Error>(&result, &info)
            .await
            .map_err(Error::from)?;
        let response = result.map_err(Error::Transport)?;
        if !response.status().is_success() {
            return Err(Error::from_response(response).await);
        }
        Ok(response)
    }
}

/// How a body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    Sse,
    Ndjson,
    Json,
}

/// The body framing named by `Content-Type` (case-insensitive, parameters ignored).
pub(crate) fn media_type(headers: &HeaderMap) -> Option<Media> {
    let value = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    match essence.as_str() {
        "text/event-stream" => Some(Media::Sse),
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/x-jsonlines" => Some(Media::Ndjson),
        "application/json" => Some(Media::Json),
        _ => None,
    }
}

/// One message of a stream, whatever its framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The SSE event type; `message` for NDJSON lines and JSON bodies.
    pub event: String,
    /// The message's JSON text.
    pub data: Vec<u8>,
    /// The SSE event id, when the server sent one.
    pub id: Option<String>,
    /// The NDJSON line number (from 1, blank lines counted).
    pub line: Option<u64>,
}

enum Decoder {
    Sse(sse::SseDecoder),
    Ndjson(ndjson::NdjsonDecoder),
    Json(Vec<u8>),
}

struct FrameState<S> {
    body: Option<std::pin::Pin<Box<S>>>,
    decoder: Decoder,
    ready: VecDeque<Result<Frame, Error>>,
    idle: Duration,
}

/// Splits a body into frames as its bytes arrive. The stream ends (`None`) when the body ends
/// cleanly; a body that breaks, ends mid-message or stays silent past `idle` yields an error.
pub(crate) fn frames<S>(
    body: S,
    media: Media,
    idle: Duration,
) -> impl Stream<Item = Result<Frame, Error>> + Send
where
    S: Stream<Item = reqwest::Result<Bytes>> + Send,
{
    let decoder = match media {
        Media::Sse => Decoder::Sse(sse::SseDecoder::new()),
        Media::Ndjson => Decoder::Ndjson(ndjson::NdjsonDecoder::new()),
        Media::Json => Decoder::Json(Vec::new()),
    };
    let state = FrameState {
        body: Some(Box::pin(body)),
        decoder,
        ready: VecDeque::new(),
        idle,
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(frame) = state.ready.pop_front() {
                return Some((frame, state));
            }
            let body = state.body.as_mut()?;
            match tokio::time::timeout(state.idle, body.next()).await {
                Err(_) => {
                    state.body = None;
                    let message = format!(
                        "no data for {:.1} s (not even a keep-alive); giving up on the connection",
                        state.idle.as_secs_f64()
                    );
                    return Some((Err(Error::Stream(message)), state));
                }
                Ok(Some(Ok(chunk))) => state.decoder.feed(&chunk, &mut state.ready),
                Ok(Some(Err(e))) => {
                    state.body = None;
                    let error = Error::Stream(format!("the connection broke: {e}"));
                    return Some((Err(error), state));
                }
                Ok(None) => {
                    state.body = None;
                    state.decoder.finish(&mut state.ready);
                }
            }
        }
    })
}

impl Decoder {
    fn feed(&mut self, chunk: &[u8], ready: &mut VecDeque<Result<Frame, Error>>) {
        match self {
            Decoder::Sse(decoder) => {
                let mut items = Vec::new();
                let result = decoder.feed(chunk, &mut items);
                ready.extend(items.into_iter().filter_map(sse_frame));
                if let Err(e) = result {
                    ready.push_back(Err(Error::Stream(e.to_string())));
                }
            }
            Decoder::Ndjson(decoder) => {
                decoder.feed(chunk, |line| ready.push_back(ndjson_frame(line)))
            }
            Decoder::Json(buffer) => buffer.extend_from_slice(chunk),
        }
    }

    fn finish(&mut self, ready: &mut VecDeque<Result<Frame, Error>>) {
        match self {
            Decoder::Sse(decoder) => match decoder.finish() {
                sse::SseEnd::Clean => {}
                sse::SseEnd::MidEvent | sse::SseEnd::MidLine => ready.push_back(Err(
                    Error::Stream("the connection closed in the middle of an event".into()),
                )),
            },
            Decoder::Ndjson(decoder) => decoder.finish(|line| ready.push_back(ndjson_frame(line))),
            Decoder::Json(buffer) => ready.push_back(Ok(Frame {
                event: "message".into(),
                data: std::mem::take(buffer),
                id: None,
                line: None,
            })),
        }
    }
}

fn sse_frame(item: sse::SseItem) -> Option<Result<Frame, Error>> {
    match item {
        sse::SseItem::Event(event) => Some(Ok(Frame {
            event: event.event,
            data: event.data.into_bytes(),
            id: event.id,
            line: None,
        })),
        sse::SseItem::Comment(_) => None,
    }
}

fn ndjson_frame(
    line: Result<ndjson::NdjsonLine<'_>, ndjson::NdjsonDecodeError>,
) -> Result<Frame, Error> {
    match line {
        Ok(line) => Ok(Frame {
            event: "message".into(),
            data: line.bytes.to_vec(),
            id: None,
            line: Some(line.number),
        }),
        Err(e) => Err(Error::Stream(e.to_string())),
    }
}

fn no_answer(waited: Duration) -> Error {
    Error::Stream(format!(
        "no answer for {:.1} s (not even the headers), retries included; giving up",
        waited.as_secs_f64()
    ))
}

fn error_stream<'a, T: Send + 'a>(error: Error) -> BoxStream<'a, Result<T, Error>> {
    futures::stream::once(async move { Err(error) }).boxed()
}

fn decode<T: serde::de::DeserializeOwned>(frame: &Frame, what: &str) -> Result<T, Error> {
    serde_json::from_slice(&frame.data).map_err(|e| Error::Decode {
        what: match frame.line {
            Some(line) => format!("{what} on line {line}"),
            None => what.into(),
        },
        message: e.to_string(),
    })
}

/// The server's `error` event: the API's `Error` JSON, or plain text.
fn server_message(frame: &Frame) -> String {
    match serde_json::from_slice::<types::Error>(&frame.data) {
        Ok(error) => error.error,
        Err(_) => String::from_utf8_lossy(&frame.data).into_owned(),
    }
}

/// Turns progress frames into reports, ending after the terminal event and failing on a
/// failed stage, an `error` event, or an end before either.
pub(crate) fn progress_items<'a>(
    frames: impl Stream<Item = Result<Frame, Error>> + Send + 'a,
    revision: String,
) -> impl Stream<Item = Result<types::RevisionProgress, Error>> + Send + 'a {
    struct State<F> {
        frames: std::pin::Pin<Box<F>>,
        revision: String,
        pending_error: Option<Error>,
        done: bool,
    }
    let state = State {
        frames: Box::pin(frames),
        revision,
        pending_error: None,
        done: false,
    };
    futures::stream::unfold(state, |mut state| async move {
        if let Some(error) = state.pending_error.take() {
            state.done = true;
            return Some((Err(error), state));
        }
        if state.done {
            return None;
        }
        loop {
            let Some(frame) = state.frames.next().await else {
                state.done = true;
                let error = Error::Stream(format!(
                    "the progress stream of revision {} ended before the build finished",
                    state.revision
                ));
                return Some((Err(error), state));
            };
            let frame = match frame {
                Ok(frame) => frame,
                Err(error) => {
                    state.done = true;
                    return Some((Err(error), state));
                }
            };
            match frame.event.as_str() {
                "message" => {
                    let progress: types::RevisionProgress = match decode(&frame, "progress event") {
                        Ok(progress) => progress,
                        Err(error) => {
                            state.done = true;
                            return Some((Err(error), state));
                        }
                    };
                    if let Some(stage) = failed_stage(&progress) {
                        state.pending_error = Some(Error::RevisionFailed {
                            revision_id: state.revision.clone(),
                            status: "failed".into(),
                            reason: format!("the build failed in the {stage} stage"),
                            revision: Box::new(None),
                        });
                    } else if is_finished(&progress) {
                        // NDJSON has no `done` event: a finished deploy is the end.
                        state.done = true;
                    }
                    return Some((Ok(progress), state));
                }
                "done" => return None,
                "error" => {
                    state.done = true;
                    let error = Error::RevisionFailed {
                        revision_id: state.revision.clone(),
                        status: "failed".into(),
                        reason: server_message(&frame),
                        revision: Box::new(None),
                    };
                    return Some((Err(error), state));
                }
                // Unknown event types are for newer clients; skip them.
                _ => continue,
            }
        }
    })
}

/// Turns log frames into entries. A JSON body is one RuntimeLogsResponse and ends the stream;
/// a live body has no natural end, so its end is reported as a lost connection.
fn log_items<'a>(
    frames: impl Stream<Item = Result<Frame, Error>> + Send + 'a,
    media: Media,
) -> impl Stream<Item = Result<(types::RuntimeLogEntry, Option<String>), Error>> + Send + 'a {
    let state = (Box::pin(frames), VecDeque::new(), false);
    futures::stream::unfold(state, move |(mut frames, mut ready, mut done)| async move {
        loop {
            if let Some(entry) = ready.pop_front() {
                return Some((Ok(entry), (frames, ready, done)));
            }
            if done {
                return None;
            }
            let error = match frames.next().await {
                None if media == Media::Json => return None,
                None => Error::Stream("the log stream's connection closed".into()),
                Some(Err(error)) => error,
                Some(Ok(frame)) if media == Media::Json => {
                    match decode::<types::RuntimeLogsResponse>(&frame, "logs response") {
                        Ok(body) => {
                            ready.extend(body.logs.into_iter().map(|entry| (entry, None)));
                            continue;
                        }
                        Err(error) => error,
                    }
                }
                Some(Ok(frame)) => match frame.event.as_str() {
                    "message" => match decode(&frame, "log entry") {
                        Ok(entry) => return Some((Ok((entry, frame.id)), (frames, ready, done))),
                        Err(error) => error,
                    },
                    "error" => Error::Stream(format!(
                        "the server ended the log stream: {}",
                        server_message(&frame)
                    )),
                    _ => continue,
                },
            };
            done = true;
            return Some((Err(error), (frames, ready, done)));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: chrono::DateTime<chrono::Utc>, message: &str) -> types::RuntimeLogEntry {
        types::RuntimeLogEntry {
            level: None,
            message: Some(message.to_owned()),
            region: None,
            revision_id: None,
            timestamp: Some(at),
        }
    }

    #[test]
    fn resuming_skips_what_was_delivered_and_remembers_only_the_last_instant() {
        let start = chrono::Utc::now();
        let at = |n: i64| start + chrono::Duration::microseconds(n);
        let mut resume = Resume::default();
        for n in 0..10_000 {
            assert!(resume.admit(&entry(at(n), &format!("#{n}")), None));
        }
        // Two entries share the last instant; the memory holds that instant only.
        assert!(resume.admit(&entry(at(9_999), "twin"), None));
        assert_eq!(resume.delivered_at_last.len(), 2);

        // A reconnection replays from the last instant: both are skipped, new ones pass.
        resume.reconnected();
        assert!(!resume.admit(&entry(at(9_998), "#9998"), None));
        assert!(!resume.admit(&entry(at(9_999), "#9999"), None));
        assert!(!resume.admit(&entry(at(9_999), "twin"), None));
        assert!(resume.admit(&entry(at(9_999), "a third at that instant"), None));
        assert!(resume.admit(&entry(at(10_000), "#10000"), None));
        assert_eq!(resume.delivered_at_last.len(), 1);
    }
}
