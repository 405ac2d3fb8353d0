//! A pull reader over one JSON document, for reports too large to hold.
//!
//! [`JsonCursor`] walks the structure of a document (objects, keys, arrays)
//! itself and hands each value the caller wants to serde as a typed struct
//! ([`JsonCursor::read`]), so memory is bounded by the largest single value
//! read, never by the document: a caller streams `matches[]`, `Results[]` or
//! `runs[].results[]` one element at a time and skips the rest
//! ([`JsonCursor::skip`], which validates without allocating).
//!
//! How it shares the input with serde: [`JsonCursor::read`] copies the raw
//! bytes of the one value it reads (a scan for its closing delimiter that
//! tracks nesting and strings, into a buffer reused from value to value) and
//! parses them from memory, far faster than serde's byte-at-a-time reader;
//! a value is capped at [`MAX_VALUE_BYTES`]. [`JsonCursor::skip`] holds
//! nothing: objects, arrays and strings end on a delimiter that `serde_json`
//! consumes without reading past it, so a fresh `serde_json::Deserializer`
//! over the same reader validates exactly one of them and stops. Numbers and
//! `true`/`false`/`null` do not (a parser must look one byte past them), so
//! the cursor reads those itself and hands the text to serde.
//!
//! Every error is a [`JsonError`] naming the byte offset: malformed JSON,
//! a truncated file, trailing bytes after the document, bytes that are not
//! UTF-8 anywhere (in skipped values too), a value of the wrong type for the caller's struct. Nesting deeper
//! than `serde_json`'s recursion limit (128) inside one value is an error,
//! not a stack overflow; the cursor's own walk is iterative. A UTF-8 byte
//! order mark before the document is skipped.

use std::io::{self, BufRead, Read};

use serde::Deserialize as _;
use serde::de::{DeserializeOwned, IgnoredAny};

/// The longest number or literal accepted, in bytes.
const MAX_SCALAR_BYTES: usize = 512;

/// The largest single value [`JsonCursor::read`] accepts: 256 MiB (a report
/// element, such as one Grype match, is kilobytes).
pub const MAX_VALUE_BYTES: usize = 256 << 20;

/// The byte offset of serde's (1-based line, column) in `text`.
fn offset_in(text: &[u8], line: usize, column: usize) -> u64 {
    let mut line_start = 0usize;
    let mut seen = 1usize;
    if line > 1 {
        for (i, &b) in text.iter().enumerate() {
            if b == b'\n' {
                seen += 1;
                if seen == line {
                    line_start = i + 1;
                    break;
                }
            }
        }
    }
    (line_start + column.saturating_sub(1)) as u64
}

/// A JSON document that cannot be read, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset}")]
pub struct JsonError {
    /// Byte offset (from the start of the input) where reading stopped.
    pub offset: u64,
    /// What was wrong, in one phrase.
    pub message: String,
}

/// What the next value is, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{`.
    Object,
    /// `[`.
    Array,
    /// `"`.
    String,
    /// `-` or a digit.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`.
    Null,
}

/// A byte-counting adapter: the offset in errors, and a `Read` that serde's
/// byte-at-a-time reader can borrow. It also checks that every byte that
/// passes through it is UTF-8 (RFC 8259 §8.1: JSON text is UTF-8), values
/// that are skipped included: serde does not check the strings it ignores,
/// and a document with a broken byte in a skipped field is as broken as one
/// with it in a field that is read.
struct Counted<R> {
    inner: R,
    offset: u64,
    utf8: Utf8Check,
}

impl<R> Counted<R> {
    fn new(inner: R) -> Self {
        Counted {
            inner,
            offset: 0,
            utf8: Utf8Check::default(),
        }
    }
}

/// Incremental UTF-8 validation over chunks that may split a character.
#[derive(Debug, Default)]
struct Utf8Check {
    /// The start of a character cut by the end of the last chunk.
    carry: [u8; 4],
    carry_len: usize,
    /// Offset of the first byte that is not UTF-8, once one was seen.
    bad: Option<u64>,
}

impl Utf8Check {
    /// Checks `bytes`, which start at `offset`; remembers the first bad one.
    fn check(&mut self, mut bytes: &[u8], mut offset: u64) {
        if self.bad.is_some() {
            return;
        }
        // Finish a character the previous chunk cut.
        while self.carry_len > 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return;
            };
            if let Some(slot) = self.carry.get_mut(self.carry_len) {
                *slot = b;
            }
            self.carry_len += 1;
            bytes = rest;
            offset += 1;
            match std::str::from_utf8(self.carry.get(..self.carry_len).unwrap_or_default()) {
                Ok(_) => self.carry_len = 0,
                Err(e) if e.error_len().is_none() && self.carry_len < 4 => {}
                Err(_) => {
                    self.bad = Some(offset.saturating_sub(self.carry_len as u64));
                    return;
                }
            }
        }
        if let Err(e) = std::str::from_utf8(bytes) {
            let valid = e.valid_up_to();
            match e.error_len() {
                Some(_) => self.bad = Some(offset + valid as u64),
                None => {
                    let rest = bytes.get(valid..).unwrap_or_default();
                    self.carry_len = rest.len().min(4);
                    for (slot, &b) in self.carry.iter_mut().zip(rest) {
                        *slot = b;
                    }
                }
            }
        }
    }

    /// The error for the first bad byte; at the end of input (`eof`), also a
    /// character cut short.
    fn error(&self, offset: u64, eof: bool) -> Option<io::Error> {
        let at = self
            .bad
            .or_else(|| (eof && self.carry_len > 0).then(|| offset - self.carry_len as u64))?;
        Some(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("invalid UTF-8 at byte {at}"),
        ))
    }
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.inner.fill_buf()?;
        if let Some(e) = self.utf8.error(self.offset, available.is_empty()) {
            return Err(e);
        }
        let n = available.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
            self.utf8.check(src, self.offset);
        }
        self.inner.consume(n);
        self.offset += n as u64;
        match self.utf8.error(self.offset, false) {
            Some(e) => Err(e),
            None => Ok(n),
        }
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let available = self.inner.fill_buf()?;
        match self.utf8.error(self.offset, available.is_empty()) {
            Some(e) => Err(e),
            None => Ok(available),
        }
    }
    fn consume(&mut self, n: usize) {
        if let Ok(available) = self.inner.fill_buf() {
            self.utf8
                .check(available.get(..n).unwrap_or(available), self.offset);
        }
        self.inner.consume(n);
        self.offset += n as u64;
    }
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    object: bool,
    first: bool,
}

/// A pull reader over one JSON document (see the module docs).
///
/// Protocol: [`begin_object`](Self::begin_object) then
/// [`next_key`](Self::next_key) until `None`, consuming exactly one value
/// (`read`, `skip`, `begin_*`) after each key;
/// [`begin_array`](Self::begin_array) then
/// [`next_element`](Self::next_element) until `false`, consuming one value
/// after each `true`; [`finish`](Self::finish) after the top-level value.
pub struct JsonCursor<R> {
    src: Counted<R>,
    stack: Vec<Frame>,
    started: bool,
    scratch: Vec<u8>,
}

impl<R: BufRead> JsonCursor<R> {
    /// A cursor at the start of `input`.
    pub fn new(input: R) -> JsonCursor<R> {
        JsonCursor {
            src: Counted::new(input),
            stack: Vec::new(),
            started: false,
            scratch: Vec::new(),
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.src.offset
    }

    /// An error at the current offset.
    pub fn error(&self, message: impl Into<String>) -> JsonError {
        JsonError {
            offset: self.src.offset,
            message: message.into(),
        }
    }

    fn io_error(&self, e: &io::Error) -> JsonError {
        self.error(format!("read error: {e}"))
    }

    /// The next non-whitespace byte, not consumed; `None` at the end.
    fn peek(&mut self) -> Result<Option<u8>, JsonError> {
        loop {
            let (skip, found, len) = {
                let buf = match self.src.fill_buf() {
                    Ok(b) => b,
                    Err(e) => return Err(self.io_error(&e)),
                };
                if buf.is_empty() {
                    return Ok(None);
                }
                if !self.started {
                    self.started = true;
                    if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                        (3, None, buf.len())
                    } else {
                        let n = buf
                            .iter()
                            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                            .count();
                        (n, buf.get(n).copied(), buf.len())
                    }
                } else {
                    let n = buf
                        .iter()
                        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
                        .count();
                    (n, buf.get(n).copied(), buf.len())
                }
            };
            self.src.consume(skip.min(len));
            if found.is_some() {
                return Ok(found);
            }
        }
    }

    fn bump(&mut self) {
        self.src.consume(1);
    }

    fn describe(b: Option<u8>) -> String {
        match b {
            None => "the end of the input".to_owned(),
            Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
            Some(b) => format!("byte 0x{b:02x}"),
        }
    }

    fn expect(&mut self, want: u8, what: &str) -> Result<(), JsonError> {
        let got = self.peek()?;
        if got == Some(want) {
            self.bump();
            Ok(())
        } else {
            Err(self.error(format!("expected {what}, found {}", Self::describe(got))))
        }
    }

    /// What the next value is.
    ///
    /// # Errors
    /// At the end of the input, or on a byte that starts no JSON value.
    pub fn kind(&mut self) -> Result<Kind, JsonError> {
        match self.peek()? {
            Some(b'{') => Ok(Kind::Object),
            Some(b'[') => Ok(Kind::Array),
            Some(b'"') => Ok(Kind::String),
            Some(b'-' | b'0'..=b'9') => Ok(Kind::Number),
            Some(b't' | b'f') => Ok(Kind::Bool),
            Some(b'n') => Ok(Kind::Null),
            other => Err(self.error(format!(
                "expected a JSON value, found {}",
                Self::describe(other)
            ))),
        }
    }

    /// Whether the document holds anything but whitespace (and a BOM).
    ///
    /// # Errors
    /// A read error.
    pub fn is_empty(&mut self) -> Result<bool, JsonError> {
        Ok(self.peek()?.is_none())
    }

    /// Enters an object (`{`).
    ///
    /// # Errors
    /// When the next value is not an object.
    pub fn begin_object(&mut self) -> Result<(), JsonError> {
        self.expect(b'{', "an object")?;
        self.stack.push(Frame {
            object: true,
            first: true,
        });
        Ok(())
    }

    /// Enters an array (`[`).
    ///
    /// # Errors
    /// When the next value is not an array.
    pub fn begin_array(&mut self) -> Result<(), JsonError> {
        self.expect(b'[', "an array")?;
        self.stack.push(Frame {
            object: false,
            first: true,
        });
        Ok(())
    }

    fn enter_next(&mut self, object: bool) -> Result<bool, JsonError> {
        let first = match self.stack.last_mut() {
            Some(f) if f.object == object => std::mem::replace(&mut f.first, false),
            _ => {
                return Err(self.error(if object {
                    "internal: next_key outside an object"
                } else {
                    "internal: next_element outside an array"
                }));
            }
        };
        let close = if object { b'}' } else { b']' };
        let got = self.peek()?;
        if got == Some(close) {
            self.bump();
            self.stack.pop();
            return Ok(false);
        }
        if !first {
            if got == Some(b',') {
                self.bump();
            } else {
                let what = if object { "',' or '}'" } else { "',' or ']'" };
                return Err(self.error(format!("expected {what}, found {}", Self::describe(got))));
            }
        } else if got.is_none() {
            return Err(self.error("unexpected end of the input"));
        }
        Ok(true)
    }

    /// The next key of the current object (its `:` consumed), or `None` at
    /// its end (`}` consumed).
    ///
    /// # Errors
    /// Malformed JSON (a missing comma, a trailing comma, a non-string key).
    pub fn next_key(&mut self) -> Result<Option<String>, JsonError> {
        if !self.enter_next(true)? {
            return Ok(None);
        }
        if self.peek()? != Some(b'"') {
            let got = self.peek()?;
            return Err(self.error(format!(
                "expected an object key, found {}",
                Self::describe(got)
            )));
        }
        let key: String = self.read()?;
        self.expect(b':', "':'")?;
        Ok(Some(key))
    }

    /// Whether another element of the current array follows (positioned at
    /// it); `false` at its end (`]` consumed).
    ///
    /// # Errors
    /// Malformed JSON (a missing or trailing comma).
    pub fn next_element(&mut self) -> Result<bool, JsonError> {
        self.enter_next(false)
    }

    fn scalar(&mut self) -> Result<String, JsonError> {
        let mut raw = Vec::new();
        loop {
            let (n, done) = {
                let buf = match self.src.fill_buf() {
                    Ok(b) => b,
                    Err(e) => return Err(self.io_error(&e)),
                };
                let n = buf
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                    .count();
                raw.extend_from_slice(buf.get(..n).unwrap_or_default());
                (n, n < buf.len() || buf.is_empty())
            };
            self.src.consume(n);
            if raw.len() > MAX_SCALAR_BYTES {
                return Err(self.error(format!(
                    "number or literal longer than {MAX_SCALAR_BYTES} bytes"
                )));
            }
            if done {
                break;
            }
        }
        String::from_utf8(raw).map_err(|_| self.error("invalid UTF-8"))
    }

    fn serde_error(&self, e: &serde_json::Error) -> JsonError {
        let text = e.to_string();
        // serde_json appends "at line L column C", relative to where this
        // value started; the byte offset is the useful position here.
        let message = match text.rfind(" at line ") {
            Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
            None => text,
        };
        let message = if e.is_eof() {
            format!("truncated document: {message}")
        } else {
            message
        };
        self.error(message)
    }

    /// Reads the next value as `T`.
    ///
    /// # Errors
    /// Malformed JSON, or a value that does not fit `T` (serde's reason).
    pub fn read<T: DeserializeOwned>(&mut self) -> Result<T, JsonError> {
        match self.kind()? {
            Kind::Object | Kind::Array | Kind::String => {
                let start = self.src.offset;
                self.capture()?;
                serde_json::from_slice(&self.scratch).map_err(|e| {
                    let at = start + offset_in(&self.scratch, e.line(), e.column());
                    let mut err = self.serde_error(&e);
                    err.offset = at;
                    err
                })
            }
            Kind::Number | Kind::Bool | Kind::Null => {
                let raw = self.scalar()?;
                let value: serde_json::Value = serde_json::from_str(&raw)
                    .map_err(|_| self.error(format!("invalid JSON value {raw:?}")))?;
                T::deserialize(value).map_err(|e| self.serde_error(&e))
            }
        }
    }

    /// Copies the next object, array or string, raw, into `scratch`: a
    /// scan for its end that tracks nesting and strings, so serde can parse
    /// it from memory (much faster than byte-by-byte from the reader).
    fn capture(&mut self) -> Result<(), JsonError> {
        self.scratch.clear();
        let (mut depth, mut in_string, mut escaped) = (0u64, false, false);
        loop {
            let (used, done) = {
                let buf = match self.src.fill_buf() {
                    Ok(b) => b,
                    Err(e) => return Err(self.io_error(&e)),
                };
                if buf.is_empty() {
                    return Err(self.error("truncated document: the input ends inside a value"));
                }
                let mut done = false;
                let mut used = buf.len();
                for (i, &b) in buf.iter().enumerate() {
                    if in_string {
                        if escaped {
                            escaped = false;
                        } else if b == b'\\' {
                            escaped = true;
                        } else if b == b'"' {
                            in_string = false;
                            if depth == 0 {
                                done = true;
                            }
                        }
                    } else {
                        match b {
                            b'"' => in_string = true,
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth = depth.saturating_sub(1);
                                if depth == 0 {
                                    done = true;
                                }
                            }
                            _ => {}
                        }
                    }
                    if done {
                        used = i + 1;
                        break;
                    }
                }
                self.scratch
                    .extend_from_slice(buf.get(..used).unwrap_or_default());
                (used, done)
            };
            self.src.consume(used);
            if self.scratch.len() > MAX_VALUE_BYTES {
                return Err(self.error(format!(
                    "a single JSON value larger than {} MiB",
                    MAX_VALUE_BYTES >> 20
                )));
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Skips the next value, checking that it is well-formed JSON, without
    /// holding it (serde reads it from the input and keeps nothing).
    ///
    /// # Errors
    /// Malformed JSON.
    pub fn skip(&mut self) -> Result<(), JsonError> {
        match self.kind()? {
            Kind::Object | Kind::Array | Kind::String => {
                let mut de = serde_json::Deserializer::from_reader(&mut self.src);
                let result = IgnoredAny::deserialize(&mut de);
                drop(de);
                result.map(|_| ()).map_err(|e| self.serde_error(&e))
            }
            _ => self.read::<IgnoredAny>().map(|_| ()),
        }
    }

    /// Consumes a `null` when one is next; whether it did.
    ///
    /// # Errors
    /// A misspelled literal (`nul`).
    pub fn null(&mut self) -> Result<bool, JsonError> {
        if self.kind()? == Kind::Null {
            self.read::<()>()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Counts and skips the elements of an array, or a `null` (0).
    ///
    /// # Errors
    /// Malformed JSON, or a value that is neither an array nor `null`.
    pub fn count_elements(&mut self) -> Result<u64, JsonError> {
        if self.null()? {
            return Ok(0);
        }
        self.begin_array()?;
        let mut n = 0;
        while self.next_element()? {
            self.skip()?;
            n += 1;
        }
        Ok(n)
    }

    /// Checks that nothing but whitespace follows the top-level value.
    ///
    /// # Errors
    /// Trailing bytes after the document, or an unclosed container.
    pub fn finish(&mut self) -> Result<(), JsonError> {
        if !self.stack.is_empty() {
            return Err(self.error("internal: document ended inside a container"));
        }
        match self.peek()? {
            None => Ok(()),
            Some(b) => Err(self.error(format!(
                "trailing data after the JSON document: {}",
                Self::describe(Some(b))
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: u32,
        name: Option<String>,
    }

    fn cursor(text: &str) -> JsonCursor<&[u8]> {
        JsonCursor::new(text.as_bytes())
    }

    /// Streams `{"n": …, "items": [ {…}, … ], …}` the way a format does.
    fn walk(text: &str) -> Result<(Option<f64>, Vec<Item>), JsonError> {
        let mut c = cursor(text);
        let (mut n, mut items) = (None, Vec::new());
        c.begin_object()?;
        while let Some(key) = c.next_key()? {
            match key.as_str() {
                "n" => n = c.read()?,
                "items" => {
                    if !c.null()? {
                        c.begin_array()?;
                        while c.next_element()? {
                            items.push(c.read()?);
                        }
                    }
                }
                _ => c.skip()?,
            }
        }
        c.finish()?;
        Ok((n, items))
    }

    #[test]
    fn streams_elements_and_skips_the_rest() {
        let text = "\u{feff} {\"n\": -1.5e2, \"junk\": {\"a\": [1, true, null, \"x\\\"y\"]},\n \"items\": [{\"id\": 1, \"extra\": [[[]]]}, {\"id\": 2, \"name\": \"b\"}], \"z\": false}\n";
        let (n, items) = walk(text).unwrap();
        assert_eq!(n, Some(-150.0));
        assert_eq!(
            items,
            [
                Item { id: 1, name: None },
                Item {
                    id: 2,
                    name: Some("b".into())
                }
            ]
        );
        assert_eq!(walk("{\"items\": null}").unwrap().1, []);
        assert_eq!(walk("{}").unwrap(), (None, vec![]));
    }

    #[test]
    fn malformed_documents_name_the_byte() {
        let table = [
            ("{\"n\": 1,}", "expected an object key, found '}' at byte 8"),
            (
                "{\"n\": 1 \"items\": []}",
                "expected ',' or '}', found '\"' at byte 8",
            ),
            (
                "{\"items\": [{\"id\": 1},]}",
                "expected a JSON value, found ']' at byte 21",
            ),
            (
                "{\"items\": [{\"id\": \"x\"}]}",
                "invalid type: string \"x\", expected u32",
            ),
            (
                "{\"n\": 1} x",
                "trailing data after the JSON document: 'x' at byte 9",
            ),
            ("{\"items\": [{\"id\": 1", "truncated document"),
            (
                "{\"n\": 1",
                "expected ',' or '}', found the end of the input at byte 7",
            ),
            ("{\"n\": nul}", "invalid JSON value \"nul\" at byte 9"),
            ("[1]", "expected an object, found '['"),
            ("{\"n\": \"\\ud800\"}", "hex escape"),
        ];
        for (text, want) in table {
            let err = walk(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err:?} lacks {want:?}");
        }
    }

    #[test]
    fn invalid_utf8_and_deep_nesting_are_errors_not_panics() {
        let mut bad = b"{\"items\": [{\"id\": 1, \"name\": \"".to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        bad.extend_from_slice(b"\"}]}");
        let mut c = JsonCursor::new(bad.as_slice());
        c.begin_object().unwrap();
        assert_eq!(c.next_key().unwrap().as_deref(), Some("items"));
        c.begin_array().unwrap();
        assert!(c.next_element().unwrap());
        let err = c.read::<Item>().unwrap_err();
        assert!(err.message.contains("invalid unicode code point"), "{err}");

        // Skipping is iterative in serde_json; reading a value stops at its
        // recursion limit: neither overflows the stack.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        cursor(&deep).skip().unwrap();
        let err = cursor(&deep).read::<serde_json::Value>().unwrap_err();
        assert!(err.message.contains("recursion limit"), "{err}");
    }

    #[test]
    fn invalid_utf8_in_a_skipped_value_is_an_error_too() {
        // serde does not check the strings it ignores: the reader does.
        for doc in [
            &b"{\"skip\": \"a\xff\", \"keep\": 1}"[..],
            b"{\"skip\": {\"deep\": [\"\xc3(\"]}, \"keep\": 1}",
            // A character cut short by the end of the document.
            b"{\"keep\": 1, \"skip\": \"\xe2\x82",
        ] {
            let mut c = JsonCursor::new(doc);
            let walked = (|| -> Result<(), JsonError> {
                c.begin_object()?;
                while c.next_key()?.is_some() {
                    c.skip()?;
                }
                c.finish()
            })();
            let err = walked.unwrap_err();
            assert!(err.message.contains("invalid UTF-8 at byte"), "{err}");
        }
        // Characters split across reads are fine, byte by byte.
        let text = "{\"s\": \"caf\u{e9} \u{2014} \u{1f600}\", \"t\": [\"\u{ff3f}\"]}";
        let mut c = JsonCursor::new(io::BufReader::with_capacity(1, text.as_bytes()));
        c.begin_object().unwrap();
        while c.next_key().unwrap().is_some() {
            c.skip().unwrap();
        }
        c.finish().unwrap();
    }

    #[test]
    fn scalars_at_the_top_and_counting() {
        let mut c = cursor(" null ");
        assert!(c.null().unwrap());
        c.finish().unwrap();
        let mut c = cursor("[1, {\"a\": 2}, \"s\", [3]]");
        assert_eq!(c.count_elements().unwrap(), 4);
        c.finish().unwrap();
        assert!(cursor("  \n").is_empty().unwrap());
        assert_eq!(cursor("tru").read::<bool>().unwrap_err().offset, 3);
    }
}
