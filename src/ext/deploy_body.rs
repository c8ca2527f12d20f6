//! The deployApp request body written as it goes out: files are read, JSON-escaped or
//! base64-encoded in chunks of a few hundred KiB, so memory stays flat whatever the tree's size.
//!
//! The bytes are exactly those `serde_json::to_vec` gives for the same [`types::DeployRequest`]
//! with its assets in the listing's order. This file does not walk directories (see `assets`).

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use futures::Stream;

use super::assets::{io_error, AssetEntry, AssetSource, AssetsError};
use crate::types::{Asset, AssetEncoding, AssetKind};
use crate::{types, Error};

/// Bytes handed on at a time, at least (a piece of a file is never split).
const CHUNK: usize = 256 * 1024;
/// One file read; a multiple of 3, so that base64 chunks concatenate without inner padding.
const READ: usize = 3 * 64 * 1024;
/// Files up to this size are read once, whole; larger ones are read twice (a UTF-8 check, then
/// the encoding pass), so that memory is bounded by this, not by the largest file.
const WHOLE_FILE_LIMIT: u64 = 16 * 1024 * 1024;
/// Chunks a streamed body keeps ready ahead of the connection.
const CHUNKS_AHEAD: usize = 4;

/// A deployApp request body that reads its files only while it is being sent.
///
/// Build it from the request's other fields and an asset listing
/// ([`AssetsBuilder::entries`](super::assets::AssetsBuilder::entries)); then
/// [`into_stream`](Self::into_stream) writes it chunk by chunk. A file that is no longer a
/// regular file of its listed size, or (for files read in two passes, over 16 MiB) whose size
/// or modification time changed while it was read, ends the stream with
/// [`AssetsError::FileChanged`]: a half-sent body is never completed with different content.
#[derive(Debug, Clone)]
pub struct DeployBody {
    /// `{"assets":{`
    head: Vec<u8>,
    /// `}` and the request's other fields.
    tail: Vec<u8>,
    entries: Vec<AssetEntry>,
    file_prefix: Vec<u8>,
    suffix_utf8: Vec<u8>,
    suffix_base64: Vec<u8>,
    /// Files up to this size are read once; see [`WHOLE_FILE_LIMIT`].
    whole_file_limit: u64,
}

impl DeployBody {
    /// Frames `entries` (in this order) as the assets of `request`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `request` already holds assets: they come from `entries`.
    pub fn new(request: &types::DeployRequest, entries: Vec<AssetEntry>) -> Result<Self, Error> {
        if !request.assets.is_empty() {
            return Err(Error::InvalidInput {
                field: "assets".into(),
                rule: "must be empty in the template; the listing supplies them".into(),
            });
        }
        let whole = to_json(request);
        // `assets` is the first field and always written, so the body opens with it.
        let (head, tail) = split_after(&whole, br#"{"assets":{"#);
        let template = |encoding| Asset {
            content: Some(String::new()),
            encoding: Some(encoding),
            kind: AssetKind::File,
            target: None,
        };
        let utf8 = to_json(&template(AssetEncoding::Utf8));
        let base64 = to_json(&template(AssetEncoding::Base64));
        let (file_prefix, suffix_utf8) = split_after(&utf8, br#""content":""#);
        let (_, suffix_base64) = split_after(&base64, br#""content":""#);
        Ok(Self {
            head,
            tail,
            entries,
            file_prefix,
            suffix_utf8,
            suffix_base64,
            whole_file_limit: WHOLE_FILE_LIMIT,
        })
    }

    /// The entries, in the order they are written.
    pub fn entries(&self) -> &[AssetEntry] {
        &self.entries
    }

    /// The body with every file's content left empty (as `utf-8` text): what request
    /// validation looks at before anything is read or sent.
    pub fn skeleton(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            self.write_key(&mut out, entry);
            match &entry.source {
                AssetSource::File { .. } => {
                    out.extend_from_slice(&self.file_prefix);
                    out.extend_from_slice(&self.suffix_utf8);
                }
                AssetSource::Symlink { target } => {
                    out.extend_from_slice(&to_json(&super::assets::symlink_asset(target.clone())))
                }
            }
        }
        out.extend_from_slice(&self.tail);
        out
    }

    /// Writes the whole body into memory (for tests and small trees; sending should stream).
    ///
    /// # Errors
    /// [`AssetsError::Io`] when a file cannot be read, [`AssetsError::FileChanged`] when it
    /// changed since it was listed.
    pub fn to_vec(&self) -> Result<Vec<u8>, AssetsError> {
        let mut whole = Vec::new();
        let mut sink = |chunk: Bytes| {
            whole.extend_from_slice(&chunk);
            true
        };
        match self.write(&mut sink) {
            Ok(()) | Err(Halt::Closed) => Ok(whole),
            Err(Halt::Failed(error)) => Err(error),
        }
    }

    /// Writes the body on a thread of its own, chunk by chunk, as the consumer asks for them;
    /// at most a few chunks are ready ahead. Dropping the stream stops the reads.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, AssetsError>> + Send + 'static {
        let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        let failed = sender.clone();
        let spawned = std::thread::Builder::new()
            .name("deno-deploy-body".into())
            .spawn(move || {
                let mut sink = |chunk: Bytes| sender.blocking_send(Ok(chunk)).is_ok();
                if let Err(Halt::Failed(error)) = self.write(&mut sink) {
                    let _ = sender.blocking_send(Err(error));
                }
            });
        if let Err(source) = spawned {
            let path = PathBuf::from("<deploy body>");
            let _ = failed.try_send(Err(AssetsError::Io { path, source }));
        }
        drop(failed);
        futures::stream::unfold(receiver, |mut receiver| async move {
            let item = receiver.recv().await?;
            Some((item, receiver))
        })
    }

    fn write_key(&self, out: &mut Vec<u8>, entry: &AssetEntry) {
        out.push(b'"');
        escape_json_text(out, entry.key.as_bytes());
        out.extend_from_slice(b"\":");
    }

    fn write(&self, sink: &mut dyn FnMut(Bytes) -> bool) -> Result<(), Halt> {
        let mut writer = Writer {
            out: Vec::with_capacity(CHUNK * 2),
            sink,
            read: vec![0; READ + 3],
            whole: Vec::new(),
            whole_file_limit: self.whole_file_limit,
            spare: Arc::default(),
        };
        writer.out.extend_from_slice(&self.head);
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                writer.out.push(b',');
            }
            self.write_key(&mut writer.out, entry);
            match &entry.source {
                AssetSource::File { path, size } => {
                    writer.out.extend_from_slice(&self.file_prefix);
                    let encoding = writer.file_content(path, *size)?;
                    // `file_content` writes only utf-8 or base64.
                    writer.out.extend_from_slice(match encoding {
                        AssetEncoding::Utf8 => &self.suffix_utf8,
                        _ => &self.suffix_base64,
                    });
                }
                AssetSource::Symlink { target } => writer
                    .out
                    .extend_from_slice(&to_json(&super::assets::symlink_asset(target.clone()))),
            }
            writer.flush_if_full()?;
        }
        writer.out.extend_from_slice(&self.tail);
        writer.flush()
    }
}

/// Why writing stopped early.
enum Halt {
    /// The consumer went away (the request was dropped or failed).
    Closed,
    /// A file could not be read as listed.
    Failed(AssetsError),
}

// Not yet: encoding on more than one thread; until then a streamed deploy runs at 0.3 to 0.4 of
// the read-and-base64 floor on two shared cores (BENCHMARKS.md).
struct Writer<'s> {
    out: Vec<u8>,
    sink: &'s mut dyn FnMut(Bytes) -> bool,
    /// One read, plus room for the 3 bytes of a character cut by the previous one.
    read: Vec<u8>,
    /// A small file, read whole.
    whole: Vec<u8>,
    whole_file_limit: u64,
    /// Chunk buffers the consumer is done with, written again rather than freshly allocated.
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
}

/// A chunk's buffer, handed back to the writer when the consumer drops the chunk.
struct Recycled {
    buf: Vec<u8>,
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        if let Ok(mut spare) = self.spare.lock() {
            if spare.len() < CHUNKS_AHEAD + 2 {
                spare.push(std::mem::take(&mut self.buf));
            }
        }
    }
}

impl Writer<'_> {
    fn flush(&mut self) -> Result<(), Halt> {
        if self.out.is_empty() {
            return Ok(());
        }
        let spare = self.spare.lock().ok().and_then(|mut spare| spare.pop());
        let mut next = spare.unwrap_or_else(|| Vec::with_capacity(CHUNK * 2));
        next.clear();
        let chunk = Recycled {
            buf: std::mem::replace(&mut self.out, next),
            spare: Arc::clone(&self.spare),
        };
        match (self.sink)(Bytes::from_owner(chunk)) {
            true => Ok(()),
            false => Err(Halt::Closed),
        }
    }

    fn flush_if_full(&mut self) -> Result<(), Halt> {
        match self.out.len() >= CHUNK {
            true => self.flush(),
            false => Ok(()),
        }
    }

    /// Writes one file's content (without quotes) and says how it was encoded.
    fn file_content(&mut self, path: &Path, size: u64) -> Result<AssetEncoding, Halt> {
        let failed = |source| Halt::Failed(io_error(path, source));
        let changed = || {
            Halt::Failed(AssetsError::FileChanged {
                path: path.to_path_buf(),
                size,
            })
        };
        let mut file = fs::File::open(path).map_err(failed)?;
        let meta = file.metadata().map_err(failed)?;
        if !meta.is_file() || meta.len() != size {
            return Err(changed());
        }

        if size <= self.whole_file_limit {
            self.whole.clear();
            (&mut file)
                .take(size + 1)
                .read_to_end(&mut self.whole)
                .map_err(failed)?;
            if self.whole.len() as u64 != size {
                return Err(changed());
            }
            let whole = std::mem::take(&mut self.whole);
            let written = match std::str::from_utf8(&whole) {
                Ok(text) => self.text_in_pieces(text).map(|()| AssetEncoding::Utf8),
                Err(_) => self
                    .base64_in_pieces(&whole)
                    .map(|()| AssetEncoding::Base64),
            };
            self.whole = whole;
            return written;
        }

        let is_text = is_utf8(&mut file, &mut self.read).map_err(failed)?;
        file.seek(SeekFrom::Start(0)).map_err(failed)?;
        let mut file = file.take(size + 1);
        let mut total = 0u64;
        if is_text {
            let mut carry = 0;
            loop {
                let n =
                    read_full(&mut file, &mut self.read[carry..READ + carry]).map_err(failed)?;
                total += n as u64;
                if n == 0 {
                    if carry != 0 {
                        return Err(changed());
                    }
                    break;
                }
                // Validated by the first pass; a rewrite since shows in the file's times below.
                let filled = carry + n;
                let cut = complete_prefix(&self.read[..filled]);
                escape_json_text(&mut self.out, &self.read[..cut]);
                self.read.copy_within(cut..filled, 0);
                carry = filled - cut;
                self.flush_if_full()?;
            }
        } else {
            loop {
                let n = read_full(&mut file, &mut self.read[..READ]).map_err(failed)?;
                total += n as u64;
                encode_base64(&mut self.out, &self.read[..n]);
                self.flush_if_full()?;
                if n < READ {
                    break;
                }
            }
        }
        let after = file.get_ref().metadata().map_err(failed)?;
        if total != size || after.len() != size || after.modified().ok() != meta.modified().ok() {
            return Err(changed());
        }
        Ok(match is_text {
            true => AssetEncoding::Utf8,
            false => AssetEncoding::Base64,
        })
    }

    /// Escapes a file read whole, a piece at a time, handing chunks on between pieces.
    fn text_in_pieces(&mut self, text: &str) -> Result<(), Halt> {
        let mut rest = text;
        while !rest.is_empty() {
            let mut at = rest.len().min(READ);
            while !rest.is_char_boundary(at) {
                at += 1;
            }
            let (piece, tail) = rest.split_at(at);
            escape_json_text(&mut self.out, piece.as_bytes());
            self.flush_if_full()?;
            rest = tail;
        }
        Ok(())
    }

    /// Encodes a file read whole, a piece (a multiple of 3 bytes) at a time.
    fn base64_in_pieces(&mut self, bytes: &[u8]) -> Result<(), Halt> {
        for piece in bytes.chunks(READ) {
            encode_base64(&mut self.out, piece);
            self.flush_if_full()?;
        }
        Ok(())
    }
}

/// Whether the rest of `file` is UTF-8, read in pieces through `buffer` (`READ + 3` bytes).
fn is_utf8(file: &mut fs::File, buffer: &mut [u8]) -> io::Result<bool> {
    let mut carry = 0;
    loop {
        let n = read_full(file, &mut buffer[carry..READ + carry])?;
        if n == 0 {
            return Ok(carry == 0);
        }
        let filled = carry + n;
        let cut = complete_prefix(&buffer[..filled]);
        if std::str::from_utf8(&buffer[..cut]).is_err() {
            return Ok(false);
        }
        buffer.copy_within(cut..filled, 0);
        carry = filled - cut;
    }
}

/// The length of `bytes` without a last character that the read cut short (0 to 3 bytes
/// fewer). Only the end is looked at; validation of the rest comes after.
fn complete_prefix(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(4) {
        let byte = bytes[len - back];
        if byte & 0xc0 != 0x80 {
            let needed = match byte {
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf7 => 4,
                _ => 1,
            };
            return if needed > back { len - back } else { len };
        }
    }
    len
}

/// Fills `buffer` unless the end of the file comes first; returns how much was read.
fn read_full(file: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Appends `text` JSON-escaped as serde_json escapes it: `"`, `\\` and control characters only.
/// Other bytes, UTF-8 sequences included, are copied as they are.
fn escape_json_text(out: &mut Vec<u8>, text: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(text.len() + 16);
    let (mut start, mut at) = (0, 0);
    while at < text.len() {
        // Eight bytes at a time while none of them needs escaping.
        if let Some(word) = text.get(at..at + 8) {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            if !needs_escape(word) {
                at += 8;
                continue;
            }
        }
        let end = (at + 8).min(text.len());
        for (i, &byte) in text.iter().enumerate().take(end).skip(at) {
            let short = ESCAPES[usize::from(byte)];
            if short == 0 {
                continue;
            }
            out.extend_from_slice(&text[start..i]);
            out.extend_from_slice(&[b'\\', short]);
            if short == b'u' {
                let hex = [
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ];
                out.extend_from_slice(&hex);
            }
            start = i + 1;
        }
        at = end;
    }
    out.extend_from_slice(&text[start..]);
}

/// Whether any of the eight bytes is below 0x20, a `"` or a `\\` (exact, by the usual
/// "has a zero byte" arithmetic on each condition).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    control | quote | backslash != 0
}

/// For each byte, the letter after the backslash of its escape, or 0 when it is written as is.
static ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x0c] = b'f';
    table[b'\n' as usize] = b'n';
    table[b'\r' as usize] = b'r';
    table[b'\t' as usize] = b't';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends `bytes` in standard, padded base64.
fn encode_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    let engine = &base64::engine::general_purpose::STANDARD;
    let start = out.len();
    out.resize(
        start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
        0,
    );
    let written = engine
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or_default();
    out.truncate(start + written);
}

fn to_json(value: &impl serde::Serialize) -> Vec<u8> {
    // Serializing a generated type into memory cannot fail: no maps with non-string keys.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Splits `whole` right after the first `marker`; the marker must be there (a test pins the
/// generated types' field order).
fn split_after(whole: &[u8], marker: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let at = memchr::memmem::find(whole, marker).map_or(whole.len(), |i| i + marker.len());
    (whole[..at].to_vec(), whole[at..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_serde_json_for_every_ascii_character_and_beyond() {
        let mut text: String = (0u8..=0x7f).map(char::from).collect();
        text.push_str("é€😀\u{2028}\u{feff}");
        let mut ours = b"\"".to_vec();
        escape_json_text(&mut ours, text.as_bytes());
        ours.push(b'"');
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&text).unwrap()
        );
    }

    #[test]
    fn files_read_twice_give_the_same_bytes_as_files_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| fs::write(dir.path().join(name), bytes).unwrap();
        // Four-byte characters at odd offsets: every read boundary cuts one somewhere.
        let text: String = (0..200_000)
            .map(|i| if i % 2 == 0 { "a\"\n" } else { "\u{1f600}\\" })
            .collect();
        write("text.txt", text.as_bytes());
        let binary: Vec<u8> = (0..700_001u32).map(|i| (i * 31 % 251) as u8).collect();
        write("binary.bin", &binary);
        let mut late = "x".repeat(500_000).into_bytes();
        late.push(0xe2);
        write("almost-text.txt", &late);
        write("small.txt", b"tiny");

        let entries = super::super::assets::Assets::from_dir(dir.path())
            .entries()
            .unwrap()
            .entries;
        let request = types::DeployRequest::builder()
            .assets(std::collections::HashMap::new())
            .try_into()
            .unwrap();
        let once = DeployBody::new(&request, entries).unwrap();
        let twice = DeployBody {
            whole_file_limit: 0,
            ..once.clone()
        };
        let (once, twice) = (once.to_vec().unwrap(), twice.to_vec().unwrap());
        assert!(once == twice, "the bodies differ");
        let sent: serde_json::Value = serde_json::from_slice(&twice).unwrap();
        assert_eq!(sent["assets"]["text.txt"]["content"], text.as_str());
        assert_eq!(sent["assets"]["almost-text.txt"]["encoding"], "base64");
        assert_eq!(sent["assets"]["binary.bin"]["encoding"], "base64");
    }

    #[test]
    fn a_cut_character_is_left_for_the_next_read() {
        let smile = "\u{1f600}".as_bytes();
        for cut in 1..4 {
            let mut bytes = b"ab".to_vec();
            bytes.extend_from_slice(&smile[..cut]);
            assert_eq!(complete_prefix(&bytes), 2, "cut after {cut} bytes");
        }
        let mut whole = b"ab".to_vec();
        whole.extend_from_slice(smile);
        assert_eq!(complete_prefix(&whole), 6);
        assert_eq!(complete_prefix(b"abc"), 3);
        assert_eq!(complete_prefix(b""), 0);
    }

    proptest::proptest! {
        #[test]
        fn escaping_any_text_matches_serde_json(
            text in "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é😀 ]{0,64}"
        ) {
            let mut ours = b"\"".to_vec();
            escape_json_text(&mut ours, text.as_bytes());
            ours.push(b'"');
            proptest::prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&text).unwrap()
            );
        }
    }

    #[test]
    fn base64_in_pieces_of_a_multiple_of_three_equals_base64_in_one_go() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut pieces = Vec::new();
        for piece in bytes.chunks(300) {
            encode_base64(&mut pieces, piece);
        }
        let whole = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(String::from_utf8(pieces).unwrap(), whole);
    }
}
