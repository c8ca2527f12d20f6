//! Server-Sent Events (`text/event-stream`) decoding by the WHATWG HTML event-stream rules.
//!
//! [`SseDecoder`] turns body bytes into events as they arrive; [`sse_stream`] wraps a body
//! stream. It does not connect, reconnect or wait out `retry`: callers do that with the last
//! event ID and reconnection time it reports.

use std::collections::VecDeque;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::FusedStream;
use futures::Stream;

/// The default cap, in bytes, on one line and on one event's data: 16 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event type: the event's last `event` field, or `"message"` when it had none or it
    /// was empty.
    pub event: String,
    /// The event's `data` fields joined with `\n`, without a trailing newline.
    pub data: String,
    /// The last event ID in force when the event was dispatched. It is set by an `id` field of
    /// this event or of an earlier one, and is `None` until one is seen or after an empty `id`
    /// field resets it.
    pub id: Option<String>,
    /// The reconnection time, in milliseconds, from a valid `retry` field of this event.
    pub retry: Option<u64>,
}

/// What the decoder reads from an event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A dispatched event.
    Event(SseEvent),
    /// A comment line (one starting with `:`), which servers send as keep-alives. Holds the
    /// text after the colon, as it is.
    Comment(String),
}

/// How an event stream ended, as [`SseDecoder::finish`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseEnd {
    /// At an event boundary: every field line was followed by the blank line that ends its
    /// event.
    Clean,
    /// After complete field lines whose ending blank line never came; that event is discarded.
    MidEvent,
    /// Inside a line (bytes with no line end after them); the line and its event are discarded.
    MidLine,
}

/// An error from [`SseDecoder::feed`]. The decoder stays failed until [`SseDecoder::finish`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseDecodeError {
    /// A line is longer than the decoder's cap.
    #[error("an event-stream line is longer than the {limit}-byte limit")]
    LineTooLong {
        /// The cap, in bytes.
        limit: usize,
    },
    /// An event's data is larger than the decoder's cap.
    #[error("an event's data is larger than the {limit}-byte limit")]
    EventTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
}

/// An error from [`SseStream`] or [`SseItemStream`]. Each one ends the stream.
#[derive(Debug, thiserror::Error)]
pub enum SseError<E> {
    /// Reading the response body failed.
    #[error("reading the event-stream body failed")]
    Body(#[source] E),
    /// The bytes broke a limit of the decoder.
    #[error(transparent)]
    Decode(#[from] SseDecodeError),
    /// The body ended in the middle of an event, which is discarded. A body that ends at an
    /// event boundary ends the stream without an error instead.
    #[error("the event stream ended in the middle of {}", if *.mid_line { "a line" } else { "an event" })]
    UnexpectedEof {
        /// Whether the body ended inside a line, rather than after a complete line of an event
        /// whose ending blank line never came.
        mid_line: bool,
    },
}

/// A push decoder for `text/event-stream` bytes.
///
/// Feed it the body's chunks as they arrive, split anywhere; each call hands back the items
/// that chunk completed. Call [`finish`](Self::finish) at the end of the body.
#[derive(Debug, Clone)]
pub struct SseDecoder {
    max_size: usize,
    /// The bytes of a line not yet ended.
    line: Vec<u8>,
    /// The last byte read was a CR, so an LF right after it belongs to the same line end.
    after_cr: bool,
    /// How many bytes of a leading BOM have been matched, while still at the stream's start.
    bom_matched: Option<usize>,
    data: String,
    event_type: String,
    event_retry: Option<u64>,
    event_has_fields: bool,
    last_event_id: String,
    retry: Option<u64>,
    comments: u64,
    failed: Option<SseDecodeError>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder capping lines and event data at [`DEFAULT_MAX_EVENT_SIZE`].
    pub fn new() -> Self {
        Self::with_max_event_size(DEFAULT_MAX_EVENT_SIZE)
    }

    /// A decoder capping one line, and one event's data, at `limit` bytes.
    pub fn with_max_event_size(limit: usize) -> Self {
        Self {
            max_size: limit,
            line: Vec::new(),
            after_cr: false,
            bom_matched: Some(0),
            data: String::new(),
            event_type: String::new(),
            event_retry: None,
            event_has_fields: false,
            last_event_id: String::new(),
            retry: None,
            comments: 0,
            failed: None,
        }
    }

    /// The cap on one line and on one event's data, in bytes.
    pub fn max_event_size(&self) -> usize {
        self.max_size
    }

    /// The last event ID: what a reconnection sends as `Last-Event-ID`. `None` until an `id`
    /// field sets it, and after an empty one resets it. Kept across [`finish`](Self::finish).
    pub fn last_event_id(&self) -> Option<&str> {
        (!self.last_event_id.is_empty()).then_some(self.last_event_id.as_str())
    }

    /// The reconnection time, in milliseconds, from the last valid `retry` field, including one
    /// in an event that was not dispatched. Kept across [`finish`](Self::finish).
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// How many comment lines (keep-alives) have been read in all.
    pub fn comments_seen(&self) -> u64 {
        self.comments
    }

    /// Reads the next chunk of the body, pushing every item it completes onto `out` in stream
    /// order. An event is pushed as soon as the chunk holding its ending line end is fed.
    ///
    /// # Errors
    /// A line or an event's data over the cap. The items before it are still pushed; the
    /// decoder then refuses further input until [`finish`](Self::finish).
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseDecodeError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let result = self.feed_unchecked(chunk, out);
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// Ends the stream: says whether it ended at an event boundary, discards any unfinished
    /// line and event (as WHATWG says), and resets the decoder for a new stream, such as a
    /// reconnection's body. The last event ID, reconnection time and comment count are kept.
    ///
    /// After an error it tells where the decoder stopped: inside the line or the event that
    /// broke the cap.
    pub fn finish(&mut self) -> SseEnd {
        let partial_bom = matches!(self.bom_matched, Some(matched) if matched > 0);
        let end = if let Some(error) = &self.failed {
            match error {
                SseDecodeError::LineTooLong { .. } => SseEnd::MidLine,
                SseDecodeError::EventTooLarge { .. } => SseEnd::MidEvent,
            }
        } else if !self.line.is_empty() || partial_bom {
            SseEnd::MidLine
        } else if self.event_has_fields {
            SseEnd::MidEvent
        } else {
            SseEnd::Clean
        };
        self.line.clear();
        self.after_cr = false;
        self.bom_matched = Some(0);
        self.data.clear();
        self.event_type.clear();
        self.event_retry = None;
        self.event_has_fields = false;
        self.failed = None;
        end
    }
}

/// Decodes a body stream of `text/event-stream` bytes into its events, skipping comments.
///
/// Each event is yielded as soon as the chunk holding its last byte arrives. The stream ends
/// with `None` when the body ends at an event boundary, and with
/// [`SseError::UnexpectedEof`] when it ends mid-event: the caller decides which end means
/// success. A body error or a decoder limit is yielded once and ends the stream. Dropping the
/// stream drops the body.
pub fn sse_stream<S, E>(body: S) -> SseStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    SseStream::new(body, SseDecoder::new())
}

/// Like [`sse_stream`], but yields comments (keep-alives) too, for a caller whose idle timer
/// counts them.
pub fn sse_item_stream<S, E>(body: S) -> SseItemStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    SseItemStream::new(body, SseDecoder::new())
}

/// The stream of events of an event-stream body; see [`sse_stream`].
#[derive(Debug)]
pub struct SseStream<S> {
    items: SseItemStream<S>,
}

impl<S> SseStream<S> {
    /// Decodes `body` with `decoder`, such as one with another cap or one that already holds a
    /// last event ID.
    pub fn new(body: S, decoder: SseDecoder) -> Self {
        Self {
            items: SseItemStream::new(body, decoder),
        }
    }

    /// The decoder, for its last event ID, reconnection time and keep-alive count.
    pub fn decoder(&self) -> &SseDecoder {
        self.items.decoder()
    }
}

impl<S, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<SseEvent, SseError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let items = &mut self.get_mut().items;
        loop {
            match Pin::new(&mut *items).poll_next(cx) {
                Poll::Ready(Some(Ok(SseItem::Comment(_)))) => continue,
                Poll::Ready(Some(Ok(SseItem::Event(event)))) => {
                    return Poll::Ready(Some(Ok(event)))
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S, E> FusedStream for SseStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    fn is_terminated(&self) -> bool {
        self.items.is_terminated()
    }
}

/// The stream of events and comments of an event-stream body; see [`sse_item_stream`].
#[derive(Debug)]
pub struct SseItemStream<S> {
    /// `None` once the body has ended or failed, which drops it.
    body: Option<Pin<Box<S>>>,
    decoder: SseDecoder,
    scratch: Vec<SseItem>,
    ready: VecDeque<SseItem>,
    /// A decoder error to yield after the items that came before it.
    error: Option<SseDecodeError>,
}

impl<S> SseItemStream<S> {
    /// Decodes `body` with `decoder`, such as one with another cap or one that already holds a
    /// last event ID.
    pub fn new(body: S, decoder: SseDecoder) -> Self {
        Self {
            body: Some(Box::pin(body)),
            decoder,
            scratch: Vec::new(),
            ready: VecDeque::new(),
            error: None,
        }
    }

    /// The decoder, for its last event ID, reconnection time and keep-alive count.
    pub fn decoder(&self) -> &SseDecoder {
        &self.decoder
    }
}

impl<S, E> Stream for SseItemStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<SseItem, SseError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(error) = this.error.take() {
                return Poll::Ready(Some(Err(SseError::Decode(error))));
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    let result = this.decoder.feed(&chunk, &mut this.scratch);
                    this.ready.extend(this.scratch.drain(..));
                    if let Err(error) = result {
                        this.error = Some(error);
                        this.body = None;
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    this.body = None;
                    return Poll::Ready(Some(Err(SseError::Body(error))));
                }
                Poll::Ready(None) => {
                    this.body = None;
                    return Poll::Ready(match this.decoder.finish() {
                        SseEnd::Clean => None,
                        SseEnd::MidEvent => Some(Err(SseError::UnexpectedEof { mid_line: false })),
                        SseEnd::MidLine => Some(Err(SseError::UnexpectedEof { mid_line: true })),
                    });
                }
            }
        }
    }
}

impl<S, E> FusedStream for SseItemStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    fn is_terminated(&self) -> bool {
        self.body.is_none() && self.ready.is_empty() && self.error.is_none()
    }
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

impl SseDecoder {
    fn feed_unchecked(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<SseItem>,
    ) -> Result<(), SseDecodeError> {
        let mut rest = self.skip_bom(chunk);
        while !rest.is_empty() {
            if mem::take(&mut self.after_cr) {
                if let Some((b'\n', tail)) = rest.split_first() {
                    rest = tail;
                    continue;
                }
            }
            let Some(end) = memchr::memchr2(b'\n', b'\r', rest) else {
                self.check_line_len(rest.len())?;
                self.line.extend_from_slice(rest);
                break;
            };
            let (head, tail) = rest.split_at(end);
            let Some((&terminator, tail)) = tail.split_first() else {
                break;
            };
            self.after_cr = terminator == b'\r';
            rest = tail;
            self.check_line_len(head.len())?;
            if self.line.is_empty() {
                self.read_line(head, out)?;
            } else {
                let mut line = mem::take(&mut self.line);
                line.extend_from_slice(head);
                let result = self.read_line(&line, out);
                line.clear();
                self.line = line;
                result?;
            }
        }
        Ok(())
    }

    /// Drops a BOM at the very start of the stream, even one split across chunks.
    fn skip_bom<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        let Some(mut matched) = self.bom_matched else {
            return chunk;
        };
        let mut rest = chunk;
        while let (Some(&expected), Some((&byte, tail))) = (BOM.get(matched), rest.split_first()) {
            if byte != expected {
                break;
            }
            matched += 1;
            rest = tail;
        }
        if matched == BOM.len() {
            self.bom_matched = None;
        } else if rest.is_empty() {
            self.bom_matched = Some(matched);
        } else {
            // Not a BOM after all: the bytes matched so far start the first line.
            self.bom_matched = None;
            self.line
                .extend_from_slice(BOM.get(..matched).unwrap_or_default());
        }
        rest
    }

    /// Fails if the pending line plus `more` bytes would pass the cap.
    fn check_line_len(&self, more: usize) -> Result<(), SseDecodeError> {
        if self.line.len().saturating_add(more) > self.max_size {
            Err(SseDecodeError::LineTooLong {
                limit: self.max_size,
            })
        } else {
            Ok(())
        }
    }

    fn read_line(&mut self, line: &[u8], out: &mut Vec<SseItem>) -> Result<(), SseDecodeError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let (field, value) = line.split_at(colon);
                let value = value.get(1..).unwrap_or_default();
                (field, value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        if field.is_empty() {
            self.comments += 1;
            let text = line.get(1..).unwrap_or_default();
            out.push(SseItem::Comment(String::from_utf8_lossy(text).into_owned()));
            return Ok(());
        }
        self.event_has_fields = true;
        match field {
            b"event" => self.event_type = String::from_utf8_lossy(value).into_owned(),
            b"data" => {
                let value = String::from_utf8_lossy(value);
                if self.data.len().saturating_add(value.len()) > self.max_size {
                    return Err(SseDecodeError::EventTooLarge {
                        limit: self.max_size,
                    });
                }
                self.data.push_str(&value);
                self.data.push('\n');
            }
            // An id containing NUL is ignored.
            b"id" if !value.contains(&0) => {
                self.last_event_id = String::from_utf8_lossy(value).into_owned();
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                // All ASCII digits; a value past `u64` is ignored.
                if let Some(ms) = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                    self.retry = Some(ms);
                    self.event_retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A blank line: dispatches the event, unless its data buffer is empty.
    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        let retry = self.event_retry.take();
        let event_type = mem::take(&mut self.event_type);
        self.event_has_fields = false;
        if self.data.is_empty() {
            return;
        }
        let mut data = mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        out.push(SseItem::Event(SseEvent {
            event: if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type
            },
            data,
            id: self.last_event_id().map(str::to_owned),
            retry,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{FutureExt, StreamExt};
    use proptest::prelude::*;

    fn items_of(chunks: &[&[u8]]) -> Vec<SseItem> {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, &mut out).expect("within the cap");
        }
        out
    }

    fn events_of(chunks: &[&[u8]]) -> Vec<SseEvent> {
        items_of(chunks)
            .into_iter()
            .filter_map(|item| match item {
                SseItem::Event(event) => Some(event),
                SseItem::Comment(_) => None,
            })
            .collect()
    }

    fn datas_of(chunks: &[&[u8]]) -> Vec<String> {
        events_of(chunks).into_iter().map(|e| e.data).collect()
    }

    fn event(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.to_owned(),
            data: data.to_owned(),
            id: None,
            retry: None,
        }
    }

    /// Everything a decoder reports for `chunks`: items, errors and how the stream ended.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        Item(SseItem),
        Error(SseDecodeError),
        End(SseEnd, Option<String>, Option<u64>, u64),
    }

    fn outcome_of<'a>(limit: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<Outcome> {
        let mut decoder = SseDecoder::with_max_event_size(limit);
        let mut got = Vec::new();
        let mut out = Vec::new();
        for chunk in chunks {
            let result = decoder.feed(chunk, &mut out);
            got.extend(out.drain(..).map(Outcome::Item));
            if let Err(error) = result {
                got.push(Outcome::Error(error));
                break;
            }
        }
        let end = decoder.finish();
        got.push(Outcome::End(
            end,
            decoder.last_event_id().map(str::to_owned),
            decoder.retry(),
            decoder.comments_seen(),
        ));
        got
    }

    #[test]
    fn a_cr_at_the_end_of_a_chunk_pairs_with_the_next_lf() {
        let events = events_of(&[b"data: A\r\ndata: B\r", b"\ndata: C\r\n\r\n"]);
        assert_eq!(events, vec![event("message", "A\nB\nC")]);
    }

    #[test]
    fn comments_are_not_events_and_only_one_leading_space_is_stripped() {
        let input = b":\n\n: keepalive\n\nevent:message\ndata:{\"x\":1}\n\ndata:  two\n\n";
        let events = events_of(&[input]);
        assert_eq!(
            events,
            vec![event("message", "{\"x\":1}"), event("message", " two")]
        );
    }

    #[test]
    fn lf_crlf_and_cr_line_ends_are_all_accepted() {
        assert_eq!(datas_of(&[b"data: a\n\n"]), ["a"]);
        assert_eq!(datas_of(&[b"data: a\r\n\r\n"]), ["a"]);
        assert_eq!(datas_of(&[b"data: a\r\r"]), ["a"]);
        assert_eq!(datas_of(&[b"data: a\rdata: b\ndata: c\r\n\n"]), ["a\nb\nc"]);
    }

    #[test]
    fn a_cr_ending_a_chunk_ends_its_line_without_waiting_for_more() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder
            .feed(b"data: a\r\r", &mut out)
            .expect("within the cap");
        assert_eq!(out, vec![SseItem::Event(event("message", "a"))]);
        out.clear();
        // The LF after a CR that ended a blank line is part of that line end, not another one.
        decoder
            .feed(b"\ndata: b\n\n", &mut out)
            .expect("within the cap");
        assert_eq!(out, vec![SseItem::Event(event("message", "b"))]);
    }

    #[test]
    fn two_crs_are_two_line_ends_even_across_chunks() {
        assert_eq!(datas_of(&[b"data: a\r", b"\r"]), ["a"]);
        assert_eq!(
            datas_of(&[b"data: a\r", b"\r\n", b"data: b\n\n"]),
            ["a", "b"]
        );
    }

    #[test]
    fn multi_line_data_is_joined_with_newlines_without_the_last_one() {
        assert_eq!(
            datas_of(&[b"data: one\ndata: two\ndata:\ndata: four\n\n"]),
            ["one\ntwo\n\nfour"]
        );
    }

    #[test]
    fn data_with_no_space_after_the_colon_is_kept_whole() {
        assert_eq!(datas_of(&[b"data:x\n\n"]), ["x"]);
        assert_eq!(datas_of(&[b"data:\tx\n\n"]), ["\tx"]);
        assert_eq!(datas_of(&[b"data:x: y\n\n"]), ["x: y"]);
    }

    #[test]
    fn a_field_line_with_no_colon_is_the_field_name_with_an_empty_value() {
        assert_eq!(datas_of(&[b"data\n\n"]), [""]);
        assert_eq!(datas_of(&[b"data\ndata\n\n"]), ["\n"]);
        let events = events_of(&[b"event\ndata: x\n\n"]);
        assert_eq!(events, vec![event("message", "x")]);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let events = events_of(&[b"foo: bar\ndata: x\nDATA: y\nbaz\n\n"]);
        assert_eq!(events, vec![event("message", "x")]);
    }

    #[test]
    fn the_event_type_defaults_to_message_and_resets_after_each_event() {
        let events = events_of(&[b"event: deploy\ndata: a\n\ndata: b\n\nevent:\ndata: c\n\n"]);
        assert_eq!(
            events,
            vec![
                event("deploy", "a"),
                event("message", "b"),
                event("message", "c")
            ]
        );
    }

    #[test]
    fn the_last_event_id_persists_across_events_and_an_empty_id_resets_it() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        let input = b"id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 7\n\n";
        decoder.feed(input, &mut out).expect("within the cap");
        let ids: Vec<_> = out
            .iter()
            .map(|item| match item {
                SseItem::Event(event) => event.id.clone(),
                SseItem::Comment(_) => None,
            })
            .collect();
        assert_eq!(ids, [Some("1".to_owned()), Some("1".to_owned()), None]);
        // An `id` in an event with no data still sets the last event ID.
        assert_eq!(decoder.last_event_id(), Some("7"));
        assert_eq!(decoder.finish(), SseEnd::Clean);
        assert_eq!(decoder.last_event_id(), Some("7"));
    }

    #[test]
    fn an_id_containing_nul_is_ignored() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder
            .feed(b"id: 1\n\nid: 2\0x\ndata: a\n\n", &mut out)
            .expect("within the cap");
        assert_eq!(decoder.last_event_id(), Some("1"));
        assert_eq!(
            out,
            vec![SseItem::Event(SseEvent {
                id: Some("1".to_owned()),
                ..event("message", "a")
            })]
        );
    }

    #[test]
    fn retry_is_taken_only_when_it_is_all_ascii_digits() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder
            .feed(b"retry: 1500\ndata: a\n\n", &mut out)
            .expect("within the cap");
        for bad in [
            &b"retry: 15s\n"[..],
            b"retry: -1\n",
            b"retry:  20\n",
            b"retry:\n",
            b"retry: 1.5\n",
            b"retry: \xD9\xA1\n",
            b"retry: 99999999999999999999999\n",
        ] {
            decoder.feed(bad, &mut out).expect("within the cap");
        }
        decoder
            .feed(b"data: b\n\n", &mut out)
            .expect("within the cap");
        assert_eq!(decoder.retry(), Some(1500));
        let retries: Vec<_> = out
            .iter()
            .map(|item| match item {
                SseItem::Event(event) => event.retry,
                SseItem::Comment(_) => None,
            })
            .collect();
        assert_eq!(retries, [Some(1500), None]);
    }

    #[test]
    fn a_retry_in_an_event_without_data_still_sets_the_reconnection_time() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder
            .feed(b"retry: 250\n\n", &mut out)
            .expect("within the cap");
        assert!(out.is_empty());
        assert_eq!(decoder.retry(), Some(250));
    }

    #[test]
    fn an_event_with_an_empty_data_buffer_is_not_dispatched() {
        assert_eq!(events_of(&[b"event: ping\n\nid: 3\n\n\n\n"]), vec![]);
        // The event type of an undispatched event does not leak into the next one.
        assert_eq!(
            events_of(&[b"event: ping\n\ndata: x\n\n"]),
            vec![event("message", "x")]
        );
    }

    #[test]
    fn keep_alive_comments_are_reported_and_counted() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder
            .feed(b":\n: keepalive\n:ping\ndata: x\n: inside\n\n", &mut out)
            .expect("within the cap");
        assert_eq!(
            out,
            vec![
                SseItem::Comment(String::new()),
                SseItem::Comment(" keepalive".to_owned()),
                SseItem::Comment("ping".to_owned()),
                SseItem::Comment(" inside".to_owned()),
                SseItem::Event(event("message", "x")),
            ]
        );
        assert_eq!(decoder.comments_seen(), 4);
    }

    #[test]
    fn field_names_are_case_sensitive() {
        assert_eq!(events_of(&[b"Data: x\nEvent: y\n\n"]), vec![]);
    }

    #[test]
    fn a_bom_at_the_very_start_is_skipped_even_split_across_chunks() {
        assert_eq!(datas_of(&[b"\xEF\xBB\xBFdata: a\n\n"]), ["a"]);
        assert_eq!(datas_of(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"]), ["a"]);
        assert_eq!(
            datas_of(&[b"", b"\xEF\xBB", b"\xBF", b"data: a\n\n"]),
            ["a"]
        );
    }

    #[test]
    fn a_bom_anywhere_but_the_start_is_data() {
        assert_eq!(
            datas_of(&[b"data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: \xEF\xBB\xBFc\n\n"]),
            ["a", "\u{FEFF}c"]
        );
        // Only one BOM is skipped.
        assert_eq!(events_of(&[b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n"]), vec![]);
    }

    #[test]
    fn a_partial_bom_at_the_start_is_part_of_the_first_line() {
        // The first line is `\xEF\xBBdata: a`, an unknown field.
        assert_eq!(datas_of(&[b"\xEF\xBB", b"data: a\n\ndata: b\n\n"]), ["b"]);
        let mut decoder = SseDecoder::new();
        decoder
            .feed(b"\xEF", &mut Vec::new())
            .expect("within the cap");
        assert_eq!(decoder.finish(), SseEnd::MidLine);
    }

    #[test]
    fn a_multi_byte_character_split_across_chunks_decodes_intact() {
        assert_eq!(datas_of(&[b"data: caf\xC3", b"\xA9\n\n"]), ["café"]);
        assert_eq!(
            datas_of(&[b"data: \xF0\x9F", b"\x98", b"\x80!\n\n"]),
            ["😀!"]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_lossily() {
        assert_eq!(
            datas_of(&[b"data: a\xFFb\ndata: \xC3\n\n"]),
            ["a\u{FFFD}b\n\u{FFFD}"]
        );
    }

    #[test]
    fn finish_tells_whether_the_stream_ended_mid_event_and_discards_it() {
        let cases: [(&[u8], SseEnd); 7] = [
            (b"", SseEnd::Clean),
            (b"data: a\n\n", SseEnd::Clean),
            (b"data: a\n\n: keepalive\n", SseEnd::Clean),
            (b"data: a\n", SseEnd::MidEvent),
            (b"data: a\r", SseEnd::MidEvent),
            (b"id: 1\n", SseEnd::MidEvent),
            (b"data: a\n\ndata: b", SseEnd::MidLine),
        ];
        for (input, end) in cases {
            let mut decoder = SseDecoder::new();
            let mut out = Vec::new();
            decoder.feed(input, &mut out).expect("within the cap");
            assert_eq!(decoder.finish(), end, "{input:?}");
            // An unfinished event is discarded, not dispatched.
            let events = out.iter().filter(|i| matches!(i, SseItem::Event(_)));
            assert!(events.count() <= 1, "{input:?}");
        }
    }

    #[test]
    fn finish_resets_the_decoder_for_a_new_stream() {
        let mut decoder = SseDecoder::new();
        let mut out = Vec::new();
        decoder
            .feed(b"id: 9\ndata: lost\nevent: x\ndata: part", &mut out)
            .expect("within the cap");
        assert_eq!(decoder.finish(), SseEnd::MidLine);
        decoder
            .feed(b"\xEF\xBB\xBFdata: new\n\n", &mut out)
            .expect("within the cap");
        assert_eq!(
            out,
            vec![SseItem::Event(SseEvent {
                id: Some("9".to_owned()),
                ..event("message", "new")
            })]
        );
    }

    #[test]
    fn a_line_longer_than_the_cap_is_an_error_even_split_across_chunks() {
        let mut decoder = SseDecoder::with_max_event_size(8);
        let mut out = Vec::new();
        decoder
            .feed(b"data: 12\n\n", &mut out)
            .expect("eight bytes fit");
        assert_eq!(out.len(), 1);
        let mut decoder = SseDecoder::with_max_event_size(8);
        decoder.feed(b"data", &mut out).expect("within the cap");
        decoder.feed(b": 12", &mut out).expect("within the cap");
        let error = decoder.feed(b"3", &mut out).expect_err("over the cap");
        assert_eq!(error, SseDecodeError::LineTooLong { limit: 8 });
        assert_eq!(
            error.to_string(),
            "an event-stream line is longer than the 8-byte limit"
        );
    }

    #[test]
    fn event_data_larger_than_the_cap_is_an_error() {
        let mut decoder = SseDecoder::with_max_event_size(10);
        let mut out = Vec::new();
        decoder
            .feed(b"data:12345\ndata:6789\n\n", &mut out)
            .expect("the joined data is ten bytes");
        assert_eq!(out, vec![SseItem::Event(event("message", "12345\n6789"))]);
        let error = decoder
            .feed(b"data:12345\ndata:67890\n\n", &mut out)
            .expect_err("eleven bytes of data");
        assert_eq!(error, SseDecodeError::EventTooLarge { limit: 10 });
        assert_eq!(
            error.to_string(),
            "an event's data is larger than the 10-byte limit"
        );
        assert_eq!(decoder.finish(), SseEnd::MidEvent);
    }

    #[test]
    fn items_before_an_error_are_kept_and_the_decoder_stays_failed() {
        let mut decoder = SseDecoder::with_max_event_size(8);
        let mut out = Vec::new();
        let error = decoder
            .feed(b"data: a\n\ndata: 123456789\n\n", &mut out)
            .expect_err("over the cap");
        assert_eq!(out, vec![SseItem::Event(event("message", "a"))]);
        out.clear();
        assert_eq!(decoder.feed(b"data: b\n\n", &mut out), Err(error));
        assert!(out.is_empty());
        decoder.finish();
        decoder
            .feed(b"data: c\n\n", &mut out)
            .expect("reset by finish");
        assert_eq!(out, vec![SseItem::Event(event("message", "c"))]);
    }

    const FIXED: &[u8] =
        b"\xEF\xBB\xBF: hi\r\nid: 1\r\nevent: build\r\ndata: caf\xC3\xA9\r\ndata:two\r\r\
        retry: 300\ndata\n\n:\rid\rdata:  \xF0\x9F\x98\x80 \r\n\r\ndata: last\n";

    #[test]
    fn splitting_a_fixed_input_at_every_byte_position_gives_the_same_events() {
        let whole = outcome_of(DEFAULT_MAX_EVENT_SIZE, [FIXED]);
        let events = whole
            .iter()
            .filter(|o| matches!(o, Outcome::Item(SseItem::Event(_))))
            .count();
        assert_eq!(events, 3, "{whole:?}");
        for at in 0..=FIXED.len() {
            let (a, b) = FIXED.split_at(at);
            assert_eq!(
                outcome_of(DEFAULT_MAX_EVENT_SIZE, [a, b]),
                whole,
                "split at {at}"
            );
        }
        let bytes = FIXED.chunks(1);
        assert_eq!(outcome_of(DEFAULT_MAX_EVENT_SIZE, bytes), whole);
        let last = whole.last();
        let end = Outcome::End(SseEnd::MidEvent, None, Some(300), 2);
        assert_eq!(last, Some(&end));
    }

    #[derive(Debug, thiserror::Error)]
    #[error("connection reset")]
    struct Reset;

    fn body(chunks: Vec<Result<&'static [u8], Reset>>) -> impl Stream<Item = Result<Bytes, Reset>> {
        futures::stream::iter(chunks.into_iter().map(|c| c.map(Bytes::from_static)))
    }

    #[test]
    fn the_stream_yields_an_event_as_soon_as_the_chunk_with_its_last_byte_arrives() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, Reset>>();
        let mut events = sse_stream(rx);
        tx.unbounded_send(Ok(Bytes::from_static(b"data: a\n")))
            .expect("the stream is alive");
        assert!(events.next().now_or_never().is_none());
        tx.unbounded_send(Ok(Bytes::from_static(b"\ndata: b\r")))
            .expect("the stream is alive");
        let first = events.next().now_or_never().flatten();
        assert_eq!(first.map(|r| r.ok()), Some(Some(event("message", "a"))));
        tx.unbounded_send(Ok(Bytes::from_static(b"\r")))
            .expect("the stream is alive");
        let second = events.next().now_or_never().flatten();
        assert_eq!(second.map(|r| r.ok()), Some(Some(event("message", "b"))));
        assert!(events.next().now_or_never().is_none());
    }

    #[test]
    fn the_stream_ends_cleanly_at_an_event_boundary() {
        let events = sse_stream(body(vec![Ok(b": hi\n\ndata: a\n"), Ok(b"\n")]));
        let got: Vec<_> = futures::executor::block_on(events.collect());
        assert_eq!(got.len(), 1);
        assert!(matches!(&got[..], [Ok(e)] if e.data == "a"));
    }

    #[test]
    fn the_stream_ends_with_unexpected_eof_in_the_middle_of_an_event() {
        for (input, mid_line) in [
            (&b"data: a\n\ndata: b\n"[..], false),
            (b"data: a\n\ndata", true),
        ] {
            let events = sse_stream(body(vec![Ok(input)]));
            let got: Vec<_> = futures::executor::block_on(events.collect());
            assert_eq!(got.len(), 2);
            assert!(matches!(&got[0], Ok(e) if e.data == "a"));
            assert!(
                matches!(&got[1], Err(SseError::UnexpectedEof { mid_line: m }) if *m == mid_line)
            );
        }
        let error = SseError::<Reset>::UnexpectedEof { mid_line: false };
        assert_eq!(
            error.to_string(),
            "the event stream ended in the middle of an event"
        );
    }

    #[test]
    fn a_body_error_is_passed_on_and_ends_the_stream() {
        let events = sse_stream(body(vec![
            Ok(b"data: a\n\n"),
            Err(Reset),
            Ok(b"data: b\n\n"),
        ]));
        let got: Vec<_> = futures::executor::block_on(events.collect());
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], Err(SseError::Body(Reset))));
        let error = &got[1].as_ref().expect_err("a body error");
        assert_eq!(error.to_string(), "reading the event-stream body failed");
        assert!(std::error::Error::source(error).is_some());
    }

    #[test]
    fn a_decoder_limit_ends_the_stream_after_the_events_before_it() {
        let decoder = SseDecoder::with_max_event_size(8);
        let mut events = SseStream::new(
            body(vec![
                Ok(b"data: a\n\ndata: b\n\ndata: 123456789\n\n"),
                Ok(b"data: c\n\n"),
            ]),
            decoder,
        );
        let got: Vec<_> = futures::executor::block_on((&mut events).collect());
        assert_eq!(got.len(), 3);
        assert!(matches!(
            &got[2],
            Err(SseError::Decode(SseDecodeError::LineTooLong { limit: 8 }))
        ));
        assert!(events.is_terminated());
    }

    #[test]
    fn the_item_stream_yields_comments_and_the_decoder_keeps_the_last_event_id() {
        let mut items = sse_item_stream(body(vec![Ok(b": ka\n\nid: 4\ndata: a\n\n")]));
        let got: Vec<_> = futures::executor::block_on((&mut items).collect());
        assert!(matches!(&got[..], [Ok(SseItem::Comment(c)), Ok(SseItem::Event(_))] if c == " ka"));
        assert_eq!(items.decoder().last_event_id(), Some("4"));
        assert_eq!(items.decoder().comments_seen(), 1);
    }

    #[test]
    fn dropping_the_stream_drops_the_body() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, Reset>>();
        let events = sse_stream(rx);
        assert!(!tx.is_closed());
        drop(events);
        assert!(tx.is_closed());
    }

    #[test]
    fn the_stream_releases_the_body_as_soon_as_it_ends() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, Reset>>();
        let mut events = sse_stream(rx);
        tx.unbounded_send(Err(Reset)).expect("the stream is alive");
        let got = events.next().now_or_never().flatten();
        assert!(matches!(got, Some(Err(SseError::Body(Reset)))));
        assert!(tx.is_closed());
        assert!(events.next().now_or_never().flatten().is_none());
    }

    /// Bytes rich in the tokens the decoder cares about.
    fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"data:".to_vec()),
            Just(b"data: ".to_vec()),
            Just(b"event:".to_vec()),
            Just(b"id:".to_vec()),
            Just(b"retry:".to_vec()),
            Just(b":".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\xEF\xBB\xBF".to_vec()),
            Just(b"\xC3\xA9".to_vec()),
            Just(b"\0".to_vec()),
            Just(b"12".to_vec()),
            prop::collection::vec(any::<u8>(), 0..4),
        ];
        prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
    }

    /// Splits `bytes` at the given cut points (taken modulo the length, in any order).
    fn split_at_cuts(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts
            .iter()
            .map(|c| c % (bytes.len() + 1))
            .chain([0, bytes.len()])
            .collect();
        cuts.sort_unstable();
        cuts.windows(2)
            .filter_map(|w| bytes.get(w[0]..w[1]).map(<[u8]>::to_vec))
            .collect()
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            outcome_of(DEFAULT_MAX_EVENT_SIZE, [&bytes[..]]);
            outcome_of(16, bytes.chunks(7));
        }

        #[test]
        fn how_the_bytes_are_chunked_never_changes_the_result(
            bytes in stream_bytes(),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
            limit in prop_oneof![Just(DEFAULT_MAX_EVENT_SIZE), 4usize..24],
        ) {
            let whole = outcome_of(limit, [&bytes[..]]);
            let chunks = split_at_cuts(&bytes, &cuts);
            let chunked = outcome_of(limit, chunks.iter().map(Vec::as_slice));
            prop_assert_eq!(&chunked, &whole);
            prop_assert_eq!(&outcome_of(limit, bytes.chunks(1)), &whole);
        }
    }
}
