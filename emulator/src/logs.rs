//! Runtime logs: getAppLogs, and the entries the library appends for tests.
//!
//! Entries are kept in one strictly increasing order (their timestamps never repeat), so a
//! position is a cursor, an SSE `id:` and a `Last-Event-ID` alike. The range is `start <= t < end`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::error::{json_response, ApiError, ApiResult};
use crate::query::{decode_cursor, encode_cursor, CursorKind, QueryParams};
use crate::store::{LogRecord, Shared};
use crate::stream::{self, Format};

/// The severity of a runtime log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogLevel {
    /// `debug`
    Debug,
    /// `info`
    Info,
    /// `warn`
    Warn,
    /// `error`
    Error,
}

impl LogLevel {
    /// The spec's name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown log level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level `{0}`; expected debug, info, warn or error")]
pub struct UnknownLogLevel(pub String);

impl FromStr for LogLevel {
    type Err = UnknownLogLevel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
        .ok_or_else(|| UnknownLogLevel(s.to_owned()))
    }
}

/// A runtime log entry to append with [`crate::Emulator::push_log`]; its timestamp is the time
/// it is appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Its severity.
    pub level: LogLevel,
    /// Its text.
    pub message: String,
    /// Its region; `None` is the first region (`us-east`).
    pub region: Option<String>,
    /// The revision that produced it; `None` is the app's running revision, if any.
    pub revision_id: Option<String>,
}

impl LogEntry {
    /// An entry from the app's running revision in the first region.
    pub fn new(level: LogLevel, message: impl Into<String>) -> Self {
        LogEntry {
            level,
            message: message.into(),
            region: None,
            revision_id: None,
        }
    }

    /// The same entry from another region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The same entry from another revision.
    pub fn revision(mut self, revision_id: impl Into<String>) -> Self {
        self.revision_id = Some(revision_id.into());
        self
    }
}

/// `GET /v2/apps/{app}/logs`. With `end`: a JSON page. Without: a stream per `Accept` that
/// replays from `start` and then follows; `Accept: application/json` gets the page up to now.
/// Both negotiate `Accept` as the progress stream does: nothing acceptable is a 406.
pub(crate) async fn get(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult {
    let app_id = {
        let store = shared.store();
        let index = store
            .app_index(&app)
            .ok_or_else(|| ApiError::app_not_found(&app))?;
        store.apps[index].id
    };
    let query = QueryParams::parse(raw.as_deref());
    let start = query.date_time("start")?.ok_or_else(|| {
        ApiError::bad_request(
            "missing_parameter",
            "start is required: the RFC 3339 date-time the logs begin at",
        )
    })?;
    let end = query.date_time("end")?;
    if end.is_some_and(|end| end < start) {
        return Err(ApiError::bad_request(
            "invalid_time_range",
            "end must not be before start",
        ));
    }
    let limit = query.limit(100, 1000)?;
    let level = query.one_of("level", &["debug", "info", "warn", "error"])?;
    let filter = Filter {
        app_id,
        start,
        end,
        revision_id: query.get("revision_id").map(str::to_owned),
        level: level.and_then(|l| l.parse().ok()),
        text: query.get("query").map(str::to_lowercase),
    };
    let after = query
        .get("cursor")
        .map(|c| decode_cursor(CursorKind::Logs, c))
        .transpose()?
        .unwrap_or(0);
    // A bounded query is a page; a live one is a stream, or the page up to now.
    let offers = match end {
        Some(_) => stream::PAGE,
        None => stream::LOG_STREAMS,
    };
    let format = stream::negotiate(&headers, offers)?;
    if format == Format::Json {
        return Ok(page(&shared, &filter, after, limit));
    }
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(after, |id| id.max(after));
    let (tx, response) = stream::channel(format);
    tokio::spawn(follow(shared, filter, resume, format, tx));
    Ok(response)
}

/// What a log query keeps.
#[derive(Debug, Clone)]
struct Filter {
    app_id: Uuid,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    revision_id: Option<String>,
    level: Option<LogLevel>,
    /// Lowercased; matched case-insensitively anywhere in the message.
    text: Option<String>,
}

impl Filter {
    fn keeps(&self, entry: &LogRecord) -> bool {
        entry.app_id == self.app_id
            && entry.timestamp >= self.start
            && self.end.is_none_or(|end| entry.timestamp < end)
            && self
                .revision_id
                .as_ref()
                .is_none_or(|r| entry.revision_id.as_ref() == Some(r))
            && self.level.is_none_or(|l| entry.level == l)
            && self
                .text
                .as_ref()
                .is_none_or(|t| entry.message.to_lowercase().contains(t))
    }
}

/// A `RuntimeLogsResponse` of up to `limit` entries after position `after`.
fn page(shared: &Shared, filter: &Filter, after: u64, limit: usize) -> axum::response::Response {
    let store = shared.store();
    let from = store.logs.partition_point(|l| l.seq <= after);
    let mut matching = store.logs[from..].iter().filter(|l| filter.keeps(l));
    let entries: Vec<&LogRecord> = matching.by_ref().take(limit).collect();
    let more = matching.next().is_some();
    let mut body = json!({
        "logs": entries.iter().map(|e| e.to_json()).collect::<Vec<Value>>(),
    });
    if let (true, Some(last)) = (more, entries.last()) {
        body["cursor"] = Value::from(encode_cursor(CursorKind::Logs, last.seq));
    }
    json_response(StatusCode::OK, &body)
}

/// Feeds a log stream: the entries after `after`, then new ones as they come, with
/// keep-alives while idle; ends when the client leaves or the app is deleted.
async fn follow(
    shared: Arc<Shared>,
    filter: Filter,
    mut after: u64,
    format: Format,
    tx: mpsc::Sender<Bytes>,
) {
    let mut changes = shared.subscribe();
    let period = shared.settings.keepalive;
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        changes.borrow_and_update();
        let (frames, gone) = {
            let store = shared.store();
            let gone = store.app_by_id(filter.app_id).is_none();
            let from = store.logs.partition_point(|l| l.seq <= after);
            let frames: Vec<Bytes> = store.logs[from..]
                .iter()
                .filter(|l| filter.keeps(l))
                .map(|l| stream::message(format, Some(l.seq), &l.to_json()))
                .collect();
            if let Some(last) = store.logs.last() {
                after = after.max(last.seq);
            }
            (frames, gone)
        };
        for frame in frames {
            if tx.send(frame).await.is_err() {
                return;
            }
        }
        if gone {
            return;
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = keepalive.tick() => {
                if tx.send(stream::keepalive(format)).await.is_err() {
                    return;
                }
            }
            _ = tx.closed() => return,
        }
    }
}
