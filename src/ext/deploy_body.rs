//! The deployApp request body written as it goes out: files are read, JSON-escaped or
//! base64-encoded in chunks of a few hundred KiB, so memory stays flat whatever the tree's size.
//!
//! The bytes are exactly those `serde_json::to_vec` gives for the same [`types::DeployRequest`]
//! with its assets in the listing's order. This file does not walk directories (see `assets`).

use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use base64::Engine as _;
use bytes::Bytes;
use futures::Stream;

use super::assets::{AssetEntry, AssetSource, AssetsError};
use crate::types::{Asset, AssetEncoding, AssetKind};
use crate::{types, Error};

/// Bytes handed on at a time; also about the most a body holds beyond one file read.
const CHUNK: usize = 256 * 1024;
/// One file read; a multiple of 3, so that base64 chunks concatenate without inner padding.
const READ: usize = 3 * 64 * 1024;
/// Files up to this size are read once, whole; larger ones are read twice (a UTF-8 check, then
/// the encoding pass) so that no file is ever held in memory entire.
const WHOLE_FILE_LIMIT: u64 = 1024 * 1024;
/// Chunks a streamed body keeps ready ahead of the connection.
const CHUNKS_AHEAD: usize = 4;

/// A deployApp request body that reads its files only while it is being sent.
///
/// Build it from the request's other fields and an asset listing
/// ([`AssetsBuilder::entries`](super::assets::AssetsBuilder::entries)); then
/// [`into_stream`](Self::into_stream) writes it chunk by chunk. A file that is no longer a
/// regular file of its listed size, or whose text stopped being UTF-8 between the check and
/// the read, ends the stream with [`AssetsError::FileChanged`]: a half-sent body is never
/// completed with different content.
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

    /// Writes the body on a blocking thread, chunk by chunk, as the consumer asks for them;
    /// at most a few chunks are ready ahead. Dropping the stream stops the reads.
    ///
    /// Must be called inside a Tokio runtime.
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, AssetsError>> + Send + 'static {
        let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_AHEAD);
        tokio::task::spawn_blocking(move || {
            let mut sink = |chunk: Bytes| sender.blocking_send(Ok(chunk)).is_ok();
            if let Err(Halt::Failed(error)) = self.write(&mut sink) {
                let _ = sender.blocking_send(Err(error));
            }
        });
        futures::stream::unfold(receiver, |mut receiver| async move {
            let item = receiver.recv().await?;
            Some((item, receiver))
        })
    }

    fn write_key(&self, out: &mut Vec<u8>, entry: &AssetEntry) {
        out.push(b'"');
        escape_json_text(out, &entry.key);
        out.extend_from_slice(b"\":");
    }

    fn write(&self, sink: &mut dyn FnMut(Bytes) -> bool) -> Result<(), Halt> {
        let mut writer = Writer {
            out: Vec::with_capacity(CHUNK * 2),
            sink,
            read: vec![0; READ + 3],
            whole: Vec::new(),
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
                    writer.out.extend_from_slice(match encoding {
                        AssetEncoding::Utf8 => &self.suffix_utf8,
                        AssetEncoding::Base64 => &self.suffix_base64,
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

struct Writer<'s> {
    out: Vec<u8>,
    sink: &'s mut dyn FnMut(Bytes) -> bool,
    /// One read, plus room for the 3 bytes of a character cut by the previous one.
    read: Vec<u8>,
    /// A small file, read whole.
    whole: Vec<u8>,
}

impl Writer<'_> {
    fn flush(&mut self) -> Result<(), Halt> {
        if self.out.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.out, Vec::with_capacity(CHUNK * 2));
        match (self.sink)(Bytes::from(chunk)) {
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

        if size <= WHOLE_FILE_LIMIT {
            self.whole.clear();
            (&mut file)
                .take(size + 1)
                .read_to_end(&mut self.whole)
                .map_err(failed)?;
            if self.whole.len() as u64 != size {
                return Err(changed());
            }
            let whole = std::mem::take(&mut self.whole);
            let encoding = match std::str::from_utf8(&whole) {
                Ok(text) => {
                    escape_json_text(&mut self.out, text);
                    AssetEncoding::Utf8
                }
                Err(_) => {
                    encode_base64(&mut self.out, &whole);
                    AssetEncoding::Base64
                }
            };
            self.whole = whole;
            self.flush_if_full()?;
            return Ok(encoding);
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
                let filled = carry + n;
                let valid = match std::str::from_utf8(&self.read[..filled]) {
                    Ok(_) => filled,
                    Err(e) if e.error_len().is_none() => e.valid_up_to(),
                    Err(_) => return Err(changed()),
                };
                let text = std::str::from_utf8(&self.read[..valid]).map_err(|_| changed())?;
                escape_json_text(&mut self.out, text);
                self.read.copy_within(valid..filled, 0);
                carry = filled - valid;
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
        if total != size {
            return Err(changed());
        }
        Ok(match is_text {
            true => AssetEncoding::Utf8,
            false => AssetEncoding::Base64,
        })
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
        match std::str::from_utf8(&buffer[..filled]) {
            Ok(_) => carry = 0,
            Err(e) if e.error_len().is_none() => {
                let valid = e.valid_up_to();
                buffer.copy_within(valid..filled, 0);
                carry = filled - valid;
            }
            Err(_) => return Ok(false),
        }
    }
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

/// Appends `text` JSON-escaped as serde_json escapes it: `"`, `\` and control characters only.
fn escape_json_text(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x08 => b'b',
            0x0c => b'f',
            0x00..=0x1f => b'u',
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(&[b'\\', short]);
        if short == b'u' {
            out.extend_from_slice(&[
                b'0',
                b'0',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

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

fn io_error(path: &Path, source: io::Error) -> AssetsError {
    AssetsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_serde_json_for_every_ascii_character_and_beyond() {
        let mut text: String = (0u8..=0x7f).map(char::from).collect();
        text.push_str("é€😀\u{2028}\u{feff}");
        let mut ours = b"\"".to_vec();
        escape_json_text(&mut ours, &text);
        ours.push(b'"');
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string(&text).unwrap()
        );
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
