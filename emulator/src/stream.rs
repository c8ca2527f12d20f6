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

/// What the progress stream offers, in order of preference.
pub(crate) const STREAMS: &[Format] = &[Format::Sse, Format::Ndjson];
/// What a live log query offers: a stream, or the page up to now (`application/json`).
pub(crate) const LOG_STREAMS: &[Format] = &[Format::Sse, Format::Json, Format::Ndjson];
/// What a bounded log query offers: the page.
pub(crate) const PAGE: &[Format] = &[Format::Json];

impl Format {
    /// The media types that name it.
    fn media_types(self) -> &'static [&'static str] {
        match self {
            Format::Sse => &[SSE],
            Format::Ndjson => &[NDJSON, "application/ndjson"],
            Format::Json => &["application/json"],
        }
    }
}

/// One media range of `Accept`, lowercased, with its quality.
struct Range {
    media: String,
    q: f32,
}

impl Range {
    /// How specifically it names a media type: 2 exactly, 1 as `type/*`, 0 as `*/*`; `None`
    /// when it does not match.
    fn specificity(&self, media: &str) -> Option<u8> {
        if self.media == media {
            return Some(2);
        }
        if self.media == "*/*" {
            return Some(0);
        }
        let (kind, _) = media.split_once('/')?;
        (self.media.strip_suffix("/*") == Some(kind)).then_some(1)
    }
}

/// Picks one of `offers` from `Accept`. Each offer takes the quality of the most specific
/// range that matches it, and `q=0` or no matching range makes it unacceptable; the highest
/// quality wins, then the range listed first, then the order of `offers`. No `Accept` (or an
/// empty one) is `*/*`: the first offer. Nothing acceptable is a 406 with an `Error` body.
pub(crate) fn negotiate(headers: &HeaderMap, offers: &[Format]) -> ApiResult<Format> {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let ranges: Vec<Range> = accept.split(',').filter_map(range).collect();
    if ranges.is_empty() {
        return Ok(offers[0]);
    }

    // Score every offer: (quality, position of its range), keeping the best.
    let mut best: Option<(f32, usize, Format)> = None;
    for &offer in offers {
        let matched = offer
            .media_types()
            .iter()
            .flat_map(|media| {
                ranges
                    .iter()
                    .enumerate()
                    .filter_map(move |(i, r)| r.specificity(media).map(|s| (s, i, r.q)))
            })
            // The most specific range decides; among equally specific ones, the first.
            .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let Some((_, position, q)) = matched else {
            continue;
        };
        if q <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_q, best_position, _)) => {
                q > best_q || (q == best_q && position < best_position)
            }
        };
        if better {
            best = Some((q, position, offer));
        }
    }
    if let Some((_, _, format)) = best {
        return Ok(format);
    }

    let offered: Vec<&str> = offers.iter().map(|f| f.media_types()[0]).collect();
    // The spec lists no 406; it is the status for an Accept nothing here can satisfy.
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "not_acceptable",
        format!(
            "Accept `{accept}` matches nothing served here; ask for {}",
            one_of(&offered)
        ),
    ))
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// Parses one media range (`type/subtype;q=0.5`); an empty one is `None`. A `q` that does not
/// parse counts as 1, and it is kept within 0..=1.
fn range(text: &str) -> Option<Range> {
    let mut parts = text.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    if media.is_empty() {
        return None;
    }
    let q = parts
        .filter_map(|p| p.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
        .and_then(|(_, value)| value.trim().parse::<f32>().ok())
        .map_or(1.0, |q| q.clamp(0.0, 1.0));
    Some(Range { media, q })
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

    fn pick(accept: Option<&str>, offers: &[Format]) -> Option<Format> {
        let mut headers = HeaderMap::new();
        if let Some(a) = accept {
            headers.insert(header::ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        negotiate(&headers, offers).ok()
    }

    #[test]
    fn accept_picks_the_first_known_media_type() {
        assert_eq!(pick(None, STREAMS), Some(Format::Sse));
        assert_eq!(pick(Some("*/*"), STREAMS), Some(Format::Sse));
        assert_eq!(
            pick(Some("Application/X-NDJSON; q=0.9"), STREAMS),
            Some(Format::Ndjson)
        );
        assert_eq!(
            pick(Some("text/html, TEXT/EVENT-STREAM"), STREAMS),
            Some(Format::Sse)
        );
        assert_eq!(
            pick(Some("application/json"), LOG_STREAMS),
            Some(Format::Json)
        );
        assert_eq!(pick(Some("application/*"), LOG_STREAMS), Some(Format::Json));
        assert_eq!(pick(Some("application/*"), STREAMS), Some(Format::Ndjson));
        assert_eq!(pick(Some("application/json"), STREAMS), None);
    }

    #[test]
    fn accept_weighs_quality_and_q_zero_refuses() {
        let refused = "text/event-stream;q=0, application/x-ndjson;q=0";
        assert_eq!(pick(Some(refused), STREAMS), None);
        assert_eq!(pick(Some(refused), LOG_STREAMS), None);
        assert_eq!(
            pick(Some("text/event-stream;q=0, */*"), STREAMS),
            Some(Format::Ndjson)
        );
        assert_eq!(
            pick(
                Some("text/event-stream;q=0.2, application/x-ndjson;q=0.8"),
                STREAMS
            ),
            Some(Format::Ndjson)
        );
        assert_eq!(pick(Some("*/*;q=0"), STREAMS), None);
        assert_eq!(
            pick(Some("text/*;Q=0, */*;q=0.1"), STREAMS),
            Some(Format::Ndjson)
        );
    }

    #[test]
    fn a_bounded_log_query_serves_only_its_json_page() {
        assert_eq!(pick(None, PAGE), Some(Format::Json));
        assert_eq!(pick(Some("*/*"), PAGE), Some(Format::Json));
        assert_eq!(pick(Some("application/*"), PAGE), Some(Format::Json));
        assert_eq!(pick(Some("application/xml"), PAGE), None);
        assert_eq!(pick(Some("application/json;q=0, */*"), PAGE), None);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/xml"));
        let err = negotiate(&headers, PAGE).unwrap_err();
        assert_eq!(err.status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(err.code, "not_acceptable");
        assert_eq!(
            err.message,
            "Accept `application/xml` matches nothing served here; ask for application/json"
        );
    }

    #[test]
    fn an_sse_event_carries_its_id_and_name() {
        let frame = named_event("message", Some(7), &serde_json::json!({"a": 1}));
        assert_eq!(&frame[..], b"id: 7\nevent: message\ndata: {\"a\":1}\n\n");
    }
}
