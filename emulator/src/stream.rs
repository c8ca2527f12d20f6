//! Streamed answers: the choice of format from `Accept`, and SSE or NDJSON framing.
//!
//! A stream is a bounded channel of ready-made frames, filled by a task that ends as soon as
//! the client goes away (the channel closes); every frame is one body chunk.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::{ApiError, ApiResult};

/// The media type of `text/event-stream`.
pub(crate) const SSE: &str = "text/event-stream";
/// The media type of newline-delimited JSON.
pub(crate) const NDJSON: &str = "application/x-ndjson";

/// How an answer is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Sse,
    Ndjson,
    Json,
}

/// Picks a format from `Accept`: media ranges are taken in the order given, matched
/// case-insensitively with their parameters (`q` included) ignored; none or `*/*` is SSE.
pub(crate) fn negotiate(headers: &HeaderMap, offer_json: bool) -> ApiResult<Format> {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let ranges: Vec<String> = accept
        .split(',')
        .map(|r| {
            r.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|r| !r.is_empty())
        .collect();
    if ranges.is_empty() {
        return Ok(Format::Sse);
    }
    for range in &ranges {
        match range.as_str() {
            SSE | "text/*" | "*/*" => return Ok(Format::Sse),
            NDJSON | "application/ndjson" => return Ok(Format::Ndjson),
            "application/json" if offer_json => return Ok(Format::Json),
            "application/*" if offer_json => return Ok(Format::Json),
            "application/*" => return Ok(Format::Ndjson),
            _ => {}
        }
    }
    let offered = if offer_json {
        format!("{SSE}, {NDJSON} or application/json")
    } else {
        format!("{SSE} or {NDJSON}")
    };
    // The spec lists no 406; it is the status for an Accept nothing here can satisfy.
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "not_acceptable",
        format!("Accept `{accept}` matches nothing served here; ask for {offered}"),
    ))
}

/// One message: an SSE event (with an `id:` when given) or an NDJSON line.
pub(crate) fn message(format: Format, id: Option<u64>, data: &Value) -> Bytes {
    match format {
        Format::Sse => named_event("message", id, data),
        Format::Ndjson | Format::Json => Bytes::from(format!("{data}\n")),
    }
}

/// An SSE event with a name (`done`, `error`, ...).
pub(crate) fn named_event(name: &str, id: Option<u64>, data: &Value) -> Bytes {
    let id = id.map(|id| format!("id: {id}\n")).unwrap_or_default();
    Bytes::from(format!("{id}event: {name}\ndata: {data}\n\n"))
}

/// The keep-alive frame: an SSE comment, or a blank NDJSON line.
pub(crate) fn keepalive(format: Format) -> Bytes {
    match format {
        Format::Sse => Bytes::from_static(b": keepalive\n\n"),
        Format::Ndjson | Format::Json => Bytes::from_static(b"\n"),
    }
}

/// A channel whose frames become a streamed 200 response of the given format.
pub(crate) fn channel(format: Format) -> (mpsc::Sender<Bytes>, Response) {
    let (tx, rx) = mpsc::channel::<Bytes>(32);
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|frame| (Ok::<_, Infallible>(frame), rx))
    });
    let content_type = match format {
        Format::Sse => SSE,
        Format::Ndjson | Format::Json => NDJSON,
    };
    let response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(frames),
    )
        .into_response();
    (tx, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(accept: Option<&str>, offer_json: bool) -> Option<Format> {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        negotiate(&headers, offer_json).ok()
    }

    #[test]
    fn accept_picks_the_first_known_media_type() {
        assert_eq!(pick(None, false), Some(Format::Sse));
        assert_eq!(pick(Some("*/*"), false), Some(Format::Sse));
        assert_eq!(
            pick(Some("Application/X-NDJSON; q=0.9"), false),
            Some(Format::Ndjson)
        );
        assert_eq!(
            pick(Some("text/html, TEXT/EVENT-STREAM"), false),
            Some(Format::Sse)
        );
        assert_eq!(pick(Some("application/json"), true), Some(Format::Json));
        assert_eq!(pick(Some("application/json"), false), None);
    }

    #[test]
    fn an_sse_event_carries_its_id_and_name() {
        let frame = named_event("message", Some(7), &serde_json::json!({"a": 1}));
        assert_eq!(&frame[..], b"id: 7\nevent: message\ndata: {\"a\":1}\n\n");
    }
}
