//! Newline-delimited JSON (NDJSON, JSON Lines) decoding, for streamed log and progress bodies.
//!
//! [`NdjsonDecoder`] splits body bytes into lines as they arrive and decodes each one with
//! `serde_json`; [`ndjson_stream`] wraps a body stream. It does not check the content type and
//! does not reconnect.

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::stream::FusedStream;
use futures::Stream;
use serde::de::DeserializeOwned;

/// The default cap on one line, in bytes: 16 MiB.
pub const DEFAULT_MAX_LINE_LEN: usize = 16 * 1024 * 1024;

/// One complete line that is not blank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdjsonLine<'a> {
    /// The line's number, from 1, counting blank lines too.
    pub number: u64,
    /// The line's bytes, without its line end (`\n` or `\r\n`).
    pub bytes: &'a [u8],
}

/// An error in one line. The decoder goes on with the next line.
#[derive(Debug, thiserror::Error)]
pub enum NdjsonDecodeError {
    /// The line is not JSON of the expected shape.
    #[error("line {line} of the NDJSON body could not be decoded")]
    Json {
        /// The line's number, from 1, counting blank lines too.
        line: u64,
        /// What `serde_json` reported.
        #[source]
        error: serde_json::Error,
    },
    /// The line is longer than the decoder's cap; its bytes are skipped.
    #[error("line {line} of the NDJSON body is longer than the {limit}-byte line limit")]
    LineTooLong {
        /// The line's number, from 1, counting blank lines too.
        line: u64,
        /// The cap, in bytes.
        limit: usize,
    },
}

impl NdjsonDecodeError {
    /// The number of the line in error, from 1, counting blank lines too.
    pub fn line(&self) -> u64 {
        match self {
            Self::Json { line, .. } | Self::LineTooLong { line, .. } => *line,
        }
    }
}

/// An error from [`NdjsonStream`].
#[derive(Debug, thiserror::Error)]
pub enum NdjsonError<E> {
    /// Reading the response body failed. This ends the stream.
    #[error("reading the NDJSON body failed")]
    Body(#[source] E),
    /// One line could not be decoded. The stream goes on with the next line.
    #[error(transparent)]
    Line(#[from] NdjsonDecodeError),
}

/// A push decoder for NDJSON bytes.
///
/// Feed it the body's chunks as they arrive, split anywhere. Lines are `\n`-terminated, a `\r`
/// before the `\n` is dropped, and blank (whitespace-only) lines are skipped. A line that sits
/// whole inside one chunk is handed out without being copied.
#[derive(Debug, Clone)]
pub struct NdjsonDecoder {
    max_len: usize,
    /// The start of a line not yet ended, or a line just handed out from it.
    carry: Vec<u8>,
    /// `carry` holds a line already handed out: clear it before reading on.
    carry_ended: bool,
    /// How many lines have ended.
    lines: u64,
    /// The line not yet ended is over the cap (already reported): skip it up to its end.
    skipping: bool,
}

impl Default for NdjsonDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl NdjsonDecoder {
    /// A decoder capping lines at [`DEFAULT_MAX_LINE_LEN`].
    pub fn new() -> Self {
        Self::with_max_line_len(DEFAULT_MAX_LINE_LEN)
    }

    /// A decoder capping one line at `limit` bytes, counting a `\r` before the `\n`.
    pub fn with_max_line_len(limit: usize) -> Self {
        Self {
            max_len: limit,
            carry: Vec::new(),
            carry_ended: false,
            lines: 0,
            skipping: false,
        }
    }

    /// The cap on one line, in bytes.
    pub fn max_line_len(&self) -> usize {
        self.max_len
    }

    /// How many lines have ended so far, blank ones included.
    pub fn lines_read(&self) -> u64 {
        self.lines
    }

    /// Reads the next chunk of the body, calling `on_line` for each line that the chunk
    /// completes, in order, and for each line over the cap (as an error, once, as soon as it
    /// passes the cap).
    pub fn feed(
        &mut self,
        chunk: &[u8],
        mut on_line: impl FnMut(Result<NdjsonLine<'_>, NdjsonDecodeError>),
    ) {
        let mut at = 0;
        while let Some(line) = self.next_line(chunk, &mut at) {
            on_line(line);
        }
    }

    /// Ends the body: hands out its last line if it had no line end, then resets the decoder
    /// for a new body, numbering lines from 1 again.
    pub fn finish(&mut self, mut on_line: impl FnMut(Result<NdjsonLine<'_>, NdjsonDecodeError>)) {
        self.release_carry();
        if !self.skipping && !is_blank(&self.carry) {
            on_line(Ok(NdjsonLine {
                number: self.lines + 1,
                bytes: strip_cr(&self.carry),
            }));
        }
        self.carry.clear();
        self.lines = 0;
        self.skipping = false;
    }

    /// Like [`feed`](Self::feed), but decodes each line as a `T`, adding the results to `out`.
    pub fn feed_values<T: DeserializeOwned>(
        &mut self,
        chunk: &[u8],
        out: &mut impl Extend<Result<T, NdjsonDecodeError>>,
    ) {
        self.feed(chunk, |line| out.extend(Some(line.and_then(decode_line))));
    }

    /// Like [`finish`](Self::finish), but decodes the last line as a `T`, adding the result to
    /// `out`.
    pub fn finish_values<T: DeserializeOwned>(
        &mut self,
        out: &mut impl Extend<Result<T, NdjsonDecodeError>>,
    ) {
        self.finish(|line| out.extend(Some(line.and_then(decode_line))));
    }
}

/// Decodes one line as a `T`.
///
/// # Errors
/// [`NdjsonDecodeError::Json`] with the line's number when the line is not JSON of that shape.
pub fn decode_line<T: DeserializeOwned>(line: NdjsonLine<'_>) -> Result<T, NdjsonDecodeError> {
    serde_json::from_slice(line.bytes).map_err(|error| NdjsonDecodeError::Json {
        line: line.number,
        error,
    })
}

/// Decodes a body stream of NDJSON bytes into one `T` per line.
///
/// Each value is yielded as soon as the chunk ending its line arrives; a last line without a
/// line end is decoded when the body ends, and then the stream ends. A line in error is
/// yielded as an error and the stream goes on; a body error is yielded once and ends the
/// stream, discarding an unfinished line. Dropping the stream drops the body.
pub fn ndjson_stream<T, S, E>(body: S) -> NdjsonStream<T, S>
where
    T: DeserializeOwned,
    S: Stream<Item = Result<Bytes, E>>,
{
    NdjsonStream::new(body, NdjsonDecoder::new())
}

/// The stream of values of an NDJSON body; see [`ndjson_stream`].
#[derive(Debug)]
pub struct NdjsonStream<T, S> {
    /// `None` once the body has ended or failed, which drops it.
    body: Option<Pin<Box<S>>>,
    decoder: NdjsonDecoder,
    /// The chunk being read, and how far: each poll decodes one line of it.
    chunk: Option<Bytes>,
    at: usize,
    _values: PhantomData<fn() -> T>,
}

impl<T, S> NdjsonStream<T, S> {
    /// Decodes `body` with `decoder`, such as one with another line cap.
    pub fn new(body: S, decoder: NdjsonDecoder) -> Self {
        Self {
            body: Some(Box::pin(body)),
            decoder,
            chunk: None,
            at: 0,
            _values: PhantomData,
        }
    }
}

impl<T, S, E> Stream for NdjsonStream<T, S>
where
    T: DeserializeOwned,
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<T, NdjsonError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(chunk) = &this.chunk {
                match this.decoder.next_line(chunk, &mut this.at) {
                    Some(line) => {
                        let value = line.and_then(decode_line).map_err(NdjsonError::Line);
                        return Poll::Ready(Some(value));
                    }
                    None => this.chunk = None,
                }
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match body.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    this.chunk = Some(chunk);
                    this.at = 0;
                }
                Poll::Ready(Some(Err(error))) => {
                    this.body = None;
                    return Poll::Ready(Some(Err(NdjsonError::Body(error))));
                }
                Poll::Ready(None) => {
                    this.body = None;
                    let mut last = None;
                    this.decoder
                        .finish(|line| last = Some(line.and_then(decode_line)));
                    return Poll::Ready(last.map(|value| value.map_err(NdjsonError::Line)));
                }
            }
        }
    }
}

impl<T, S, E> FusedStream for NdjsonStream<T, S>
where
    T: DeserializeOwned,
    S: Stream<Item = Result<Bytes, E>>,
{
    fn is_terminated(&self) -> bool {
        self.body.is_none() && self.chunk.is_none()
    }
}

impl NdjsonDecoder {
    /// Reads `chunk` from `*at` up to the next line to hand out, or an error, advancing `*at`
    /// past what it read. `None` once the rest of the chunk ends no line.
    fn next_line<'a>(
        &'a mut self,
        chunk: &'a [u8],
        at: &mut usize,
    ) -> Option<Result<NdjsonLine<'a>, NdjsonDecodeError>> {
        self.release_carry();
        let mut rest = chunk.get(*at..)?;
        if self.skipping || !self.carry.is_empty() {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                *at = chunk.len();
                return self.carry_on(rest).err().map(Err);
            };
            let (head, tail) = rest.split_at(end);
            *at += end + 1;
            rest = tail.get(1..).unwrap_or_default();
            self.lines += 1;
            if self.skipping {
                self.skipping = false;
            } else if self.carry.len().saturating_add(head.len()) > self.max_len {
                self.carry.clear();
                return Some(Err(self.too_long(self.lines)));
            } else {
                self.carry.extend_from_slice(head);
                if is_blank(&self.carry) {
                    self.carry.clear();
                } else {
                    self.carry_ended = true;
                    return Some(Ok(NdjsonLine {
                        number: self.lines,
                        bytes: strip_cr(&self.carry),
                    }));
                }
            }
        }
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let (line, tail) = rest.split_at(end);
            *at += end + 1;
            rest = tail.get(1..).unwrap_or_default();
            self.lines += 1;
            if line.len() > self.max_len {
                return Some(Err(self.too_long(self.lines)));
            }
            if !is_blank(line) {
                return Some(Ok(NdjsonLine {
                    number: self.lines,
                    bytes: strip_cr(line),
                }));
            }
        }
        *at = chunk.len();
        self.carry_on(rest).err().map(Err)
    }

    /// Keeps the end of a chunk that ends no line, unless that passes the cap.
    fn carry_on(&mut self, tail: &[u8]) -> Result<(), NdjsonDecodeError> {
        if self.skipping || tail.is_empty() {
            return Ok(());
        }
        if self.carry.len().saturating_add(tail.len()) > self.max_len {
            self.carry.clear();
            self.skipping = true;
            Err(self.too_long(self.lines + 1))
        } else {
            self.carry.extend_from_slice(tail);
            Ok(())
        }
    }

    /// Forgets a line handed out from `carry`.
    fn release_carry(&mut self) {
        if self.carry_ended {
            self.carry.clear();
            self.carry_ended = false;
        }
    }

    fn too_long(&self, line: u64) -> NdjsonDecodeError {
        NdjsonDecodeError::LineTooLong {
            line,
            limit: self.max_len,
        }
    }
}

/// Whether a line holds nothing but JSON whitespace (a `\r` included).
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// A line without the `\r` of a `\r\n` line end.
fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{FutureExt, StreamExt};
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Deserialize)]
    struct Entry {
        #[serde(default)]
        level: Option<String>,
        message: String,
    }

    /// What a decoder reports for `chunks`: each line's number and text, or its error.
    fn lines_of<'a>(limit: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Vec<String> {
        let mut decoder = NdjsonDecoder::with_max_line_len(limit);
        let mut got = Vec::new();
        let mut record = |line: Result<NdjsonLine<'_>, NdjsonDecodeError>| {
            got.push(match line {
                Ok(line) => format!("{}: {}", line.number, String::from_utf8_lossy(line.bytes)),
                Err(error) => format!("error: {error}"),
            })
        };
        for chunk in chunks {
            decoder.feed(chunk, &mut record);
        }
        decoder.finish(&mut record);
        got
    }

    /// What the typed layer reports for `chunks`, with errors shown by line and message.
    fn entries_of<'a>(
        limit: usize,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Vec<Result<Entry, String>> {
        let mut decoder = NdjsonDecoder::with_max_line_len(limit);
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed_values(chunk, &mut out);
        }
        decoder.finish_values(&mut out);
        out.into_iter()
            .map(|r| {
                r.map_err(|e| match &e {
                    NdjsonDecodeError::Json { error, .. } => {
                        format!("line {}: {e} ({error})", e.line())
                    }
                    NdjsonDecodeError::LineTooLong { .. } => format!("line {}: {e}", e.line()),
                })
            })
            .collect()
    }

    fn messages(entries: Vec<Result<Entry, String>>) -> Vec<String> {
        entries
            .into_iter()
            .map(|r| r.map(|e| e.message).unwrap_or_else(|e| e))
            .collect()
    }

    #[test]
    fn a_line_split_inside_a_utf8_sequence_and_across_chunks_decodes_intact() {
        let chunks: [&[u8]; 3] = [
            b"{\"level\":\"info\",\"message\":\"caf\xC3",
            b"\xA9\"}\n{\"level\":\"warn\",\"mes",
            b"sage\":\"b\"}\n",
        ];
        let entries = entries_of(DEFAULT_MAX_LINE_LEN, chunks);
        assert_eq!(
            entries,
            vec![
                Ok(Entry {
                    level: Some("info".into()),
                    message: "café".into()
                }),
                Ok(Entry {
                    level: Some("warn".into()),
                    message: "b".into()
                }),
            ]
        );
    }

    #[test]
    fn crlf_blank_lines_and_a_last_line_without_a_line_end_are_all_handled() {
        let input: &[u8] = b"{\"message\":\"a\"}\r\n\r\n\n{\"message\":\"b\"}\n{\"message\":\"c\"}";
        let mut decoder = NdjsonDecoder::new();
        let mut out = Vec::new();
        decoder.feed_values::<Entry>(input, &mut out);
        assert_eq!(out.len(), 2, "the last line waits for the end of the body");
        decoder.finish_values(&mut out);
        let got: Vec<_> = out
            .into_iter()
            .map(|r| r.map_err(|e| e.to_string()))
            .collect();
        assert_eq!(messages(got), ["a", "b", "c"]);
    }

    #[test]
    fn lines_carry_their_number_counting_blank_ones_and_lose_their_cr() {
        let got = lines_of(DEFAULT_MAX_LINE_LEN, [&b"1\r\n \t\n\n\r\n2\n 3 \r\n4"[..]]);
        assert_eq!(got, ["1: 1", "5: 2", "6:  3 ", "7: 4"]);
    }

    #[test]
    fn whitespace_only_lines_are_skipped_wherever_they_are() {
        let input = b"  \n\t\n\r\n{\"message\":\"a\"}\n   \r\n \t ";
        assert_eq!(messages(entries_of(64, [&input[..]])), ["a"]);
    }

    #[test]
    fn a_malformed_line_reports_its_line_number_and_decoding_goes_on() {
        let input = b"{\"message\":\"a\"}\n\n{\"message\":\n{\"message\":\"d\"}\n";
        let mut decoder = NdjsonDecoder::new();
        let mut out = Vec::new();
        decoder.feed_values::<Entry>(input, &mut out);
        assert_eq!(out.len(), 3);
        let error = out.remove(1).expect_err("line 3 is cut short");
        assert_eq!(error.line(), 3);
        assert_eq!(
            error.to_string(),
            "line 3 of the NDJSON body could not be decoded"
        );
        let source = std::error::Error::source(&error).map(ToString::to_string);
        assert!(source.is_some_and(|s| s.contains("EOF while parsing")));
        assert!(matches!(&out[1], Ok(e) if e.message == "d"));
    }

    #[test]
    fn a_line_of_the_wrong_shape_is_an_error_too() {
        let got = messages(entries_of(
            64,
            [&b"{\"msg\":\"a\"}\n[1]\n{\"message\":\"c\"}"[..]],
        ));
        assert_eq!(
            got,
            [
                "line 1: line 1 of the NDJSON body could not be decoded \
                 (missing field `message` at line 1 column 11)",
                "line 2: line 2 of the NDJSON body could not be decoded \
                 (invalid type: integer `1`, expected a string at line 1 column 2)",
                "c"
            ]
        );
    }

    #[test]
    fn a_line_over_the_cap_is_an_error_naming_the_cap_and_its_line_number() {
        let input = b"{\"message\":\"a\"}\n\n{\"message\":\"too long\"}\n{\"message\":\"b\"}\n";
        let whole = messages(entries_of(16, [&input[..]]));
        assert_eq!(
            whole,
            [
                "a",
                "line 3: line 3 of the NDJSON body is longer than the 16-byte line limit",
                "b"
            ]
        );
        assert_eq!(messages(entries_of(16, input.chunks(1))), whole);
        assert_eq!(messages(entries_of(16, input.chunks(5))), whole);
    }

    #[test]
    fn a_line_over_the_cap_is_reported_before_its_end_arrives_and_not_buffered() {
        let mut decoder = NdjsonDecoder::with_max_line_len(8);
        let mut got = Vec::new();
        decoder.feed(b"12345", |l| got.push(l.map(|l| l.number)));
        decoder.feed(b"6789", |l| got.push(l.map(|l| l.number)));
        assert!(matches!(
            &got[..],
            [Err(NdjsonDecodeError::LineTooLong { line: 1, limit: 8 })]
        ));
        assert!(decoder.carry.is_empty());
        decoder.feed(b"0123456789\n", |l| got.push(l.map(|l| l.number)));
        decoder.finish(|l| got.push(l.map(|l| l.number)));
        assert_eq!(got.len(), 1, "the rest of the long line is skipped");
        // A line of exactly the cap fits, its CR counted.
        let got = lines_of(8, [&b"1234567\r\n12345678"[..]]);
        assert_eq!(got, ["1: 1234567", "2: 12345678"]);
    }

    #[test]
    fn a_line_inside_one_chunk_is_handed_out_without_a_copy() {
        let chunk: &[u8] = b"{\"message\":\"a\"}\r\n{\"message\":\"b\"}\n{\"mess";
        let range = chunk.as_ptr_range();
        let mut decoder = NdjsonDecoder::new();
        let mut borrowed = 0;
        decoder.feed(chunk, |line| {
            let line = line.expect("within the cap");
            assert!(range.contains(&line.bytes.as_ptr()));
            borrowed += 1;
        });
        assert_eq!(borrowed, 2);
    }

    #[test]
    fn finish_resets_the_decoder_for_a_new_body() {
        let mut decoder = NdjsonDecoder::new();
        let mut out = Vec::new();
        decoder.feed_values::<Entry>(b"{\"message\":\"a\"}\n{\"message\":\"b\"}", &mut out);
        decoder.finish_values(&mut out);
        assert_eq!(decoder.lines_read(), 0);
        decoder.feed_values(b"nope\n", &mut out);
        assert!(matches!(out.last(), Some(Err(e)) if e.line() == 1));
        assert_eq!(out.len(), 3);
    }

    const FIXED: &[u8] = b"{\"message\":\"caf\xC3\xA9\"}\r\n\n  \r\n{\"level\":\"warn\",\"message\":\"\xF0\x9F\x98\x80\"}\n\
        {\"message\":\n\r{\"message\":\"this line is well over the forty-byte cap\"}\r\n{\"message\":\"end\"}";

    #[test]
    fn splitting_a_fixed_input_at_every_byte_position_gives_the_same_lines() {
        let whole = entries_of(40, [FIXED]);
        assert_eq!(
            messages(whole.clone()),
            [
                "café",
                "😀",
                "line 5: line 5 of the NDJSON body could not be decoded \
                 (EOF while parsing a value at line 1 column 11)",
                "line 6: line 6 of the NDJSON body is longer than the 40-byte line limit",
                "end"
            ]
        );
        for at in 0..=FIXED.len() {
            let (a, b) = FIXED.split_at(at);
            assert_eq!(entries_of(40, [a, b]), whole, "split at {at}");
        }
        assert_eq!(entries_of(40, FIXED.chunks(1)), whole);
    }

    #[derive(Debug, thiserror::Error)]
    #[error("connection reset")]
    struct Reset;

    fn body(chunks: Vec<Result<&'static [u8], Reset>>) -> impl Stream<Item = Result<Bytes, Reset>> {
        futures::stream::iter(chunks.into_iter().map(|c| c.map(Bytes::from_static)))
    }

    #[test]
    fn the_stream_yields_a_value_as_soon_as_its_line_ends() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, Reset>>();
        let mut entries = ndjson_stream::<Entry, _, _>(rx);
        tx.unbounded_send(Ok(Bytes::from_static(b"{\"message\":\"a\"")))
            .expect("the stream is alive");
        assert!(entries.next().now_or_never().is_none());
        tx.unbounded_send(Ok(Bytes::from_static(b"}\n{\"message\":\"b\"}")))
            .expect("the stream is alive");
        let first = entries.next().now_or_never().flatten();
        assert!(matches!(first, Some(Ok(e)) if e.message == "a"));
        assert!(entries.next().now_or_never().is_none());
        drop(tx);
        let last = entries.next().now_or_never().flatten();
        assert!(matches!(last, Some(Ok(e)) if e.message == "b"));
        assert!(entries.next().now_or_never().flatten().is_none());
        assert!(entries.is_terminated());
    }

    #[test]
    fn the_stream_goes_on_after_a_malformed_line() {
        let entries = ndjson_stream::<Entry, _, _>(body(vec![
            Ok(b"{\"message\":\"a\"}\n{oops}\n"),
            Ok(b"{\"message\":\"c\"}\n"),
        ]));
        let got: Vec<_> = futures::executor::block_on(entries.collect());
        assert_eq!(got.len(), 3);
        assert!(matches!(&got[1], Err(NdjsonError::Line(e)) if e.line() == 2));
        assert!(matches!(&got[2], Ok(e) if e.message == "c"));
    }

    #[test]
    fn a_body_error_ends_the_stream_and_drops_the_unfinished_line() {
        let entries = ndjson_stream::<Entry, _, _>(body(vec![
            Ok(b"{\"message\":\"a\"}\n{\"message\":\"b\"}"),
            Err(Reset),
            Ok(b"\n"),
        ]));
        let got: Vec<_> = futures::executor::block_on(entries.collect());
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], Err(NdjsonError::Body(Reset))));
        let error = got[1].as_ref().expect_err("a body error");
        assert_eq!(error.to_string(), "reading the NDJSON body failed");
    }

    #[test]
    fn a_custom_cap_applies_to_the_stream() {
        let entries: NdjsonStream<Entry, _> = NdjsonStream::new(
            body(vec![Ok(b"{\"message\":\"a\"}\n{\"message\":\"bb\"}\n")]),
            NdjsonDecoder::with_max_line_len(15),
        );
        let got: Vec<_> = futures::executor::block_on(entries.collect());
        assert!(matches!(
            &got[..],
            [
                Ok(_),
                Err(NdjsonError::Line(NdjsonDecodeError::LineTooLong {
                    line: 2,
                    limit: 15
                }))
            ]
        ));
    }

    #[test]
    fn dropping_the_stream_drops_the_body() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, Reset>>();
        let entries = ndjson_stream::<Entry, _, _>(rx);
        assert!(!tx.is_closed());
        drop(entries);
        assert!(tx.is_closed());
    }

    /// Bytes rich in the tokens the decoder cares about.
    fn ndjson_bytes() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"{\"message\":\"a\"}".to_vec()),
            Just(b"{\"message\":\"caf\xC3\xA9\"}".to_vec()),
            Just(b"{\"level\":\"x\",\"message\":\"\"}".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b" ".to_vec()),
            Just(b"{".to_vec()),
            Just(b"\"".to_vec()),
            prop::collection::vec(any::<u8>(), 0..4),
        ];
        prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
    }

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
            entries_of(DEFAULT_MAX_LINE_LEN, [&bytes[..]]);
            entries_of(8, bytes.chunks(3));
            lines_of(0, bytes.chunks(5));
        }

        #[test]
        fn how_the_bytes_are_chunked_never_changes_the_result(
            bytes in ndjson_bytes(),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
            limit in prop_oneof![Just(DEFAULT_MAX_LINE_LEN), 0usize..40],
        ) {
            let whole = lines_of(limit, [&bytes[..]]);
            let chunks = split_at_cuts(&bytes, &cuts);
            prop_assert_eq!(&lines_of(limit, chunks.iter().map(Vec::as_slice)), &whole);
            prop_assert_eq!(&lines_of(limit, bytes.chunks(1)), &whole);
            let whole = entries_of(limit, [&bytes[..]]);
            prop_assert_eq!(&entries_of(limit, chunks.iter().map(Vec::as_slice)), &whole);
        }
    }
}
