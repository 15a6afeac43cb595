//! Canonical JSON, the one writer of the workspace, and the kit's canonical advisory form
//! with its JSONL container.
//!
//! Canonical JSON ([`canonical_json`], docs/ouk-format.md §5): object members sorted by
//! the bytes of their UTF-8 keys at every level, no insignificant whitespace, strings
//! escaped and numbers written as serde_json writes them (floats in their shortest
//! round-trip form, so parsing and re-writing gives the same bytes). The signed kit
//! manifest uses the stricter [`canonical_json_integers`] (no floats). Sorting is done
//! here rather than relying on serde_json's map type, so enabling its `preserve_order`
//! feature anywhere in the build cannot change what is signed or hashed.
//!
//! The canonical advisory is compact, one line, empty lists and absent options omitted,
//! no numbers (every value is a string), so the same advisory always produces the same
//! bytes: kits are reproducible and findings digests replayable.
use std::io::{BufRead, Read, Write};

use serde::Serialize;
use serde_json::Value;

use super::advisory::Advisory;
use super::error::ModelError;
use super::limits::MAX_ADVISORY_JSON_BYTES;

/// A number that the integer-only canonical form cannot write (see
/// [`canonical_json_integers`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("non-integer number {0} has no canonical form")]
pub struct NonIntegerNumber(pub String);

/// The canonical JSON of `v` (see the module docs). Floats are allowed.
///
/// ```
/// let v = serde_json::json!({"b": [1, 2.5, {"d": null, "c": "é"}], "a": true});
/// let bytes = bundles::model::canonical_json(&v);
/// assert_eq!(bytes, r#"{"a":true,"b":[1,2.5,{"c":"é","d":null}]}"#.as_bytes());
/// ```
pub fn canonical_json(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    // With floats allowed there is no error path.
    let _ = write_canonical(v, &mut out, true);
    out
}

/// The canonical JSON of `v` with integers only: the signed kit manifest's form (a float
/// has more than one spelling across languages, so signed kit metadata holds none).
pub fn canonical_json_integers(v: &Value) -> Result<Vec<u8>, NonIntegerNumber> {
    let mut out = Vec::with_capacity(4096);
    write_canonical(v, &mut out, false)?;
    Ok(out)
}

/// The canonical JSON of any serialisable value (through a [`Value`]).
pub fn to_canonical_json<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, serde_json::Error> {
    Ok(canonical_json(&serde_json::to_value(v)?))
}

fn write_canonical(v: &Value, out: &mut Vec<u8>, floats: bool) -> Result<(), NonIntegerNumber> {
    match v {
        Value::Number(n) if !(floats || n.is_u64() || n.is_i64()) => {
            return Err(NonIntegerNumber(n.to_string()));
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            // Writing a JSON scalar into a `Vec` cannot fail.
            let _ = serde_json::to_writer(&mut *out, v);
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out, floats)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, val)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                write_canonical(val, out, floats)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

impl Advisory {
    /// The canonical JSON of this advisory: one line, no trailing newline.
    ///
    /// ```
    /// use bundles::model::Advisory;
    /// let a = Advisory::from_osv_json(br#"{"modified": "2024-01-01T00:00:00Z", "id": "EX-1",
    ///   "aliases": [], "summary": "demo"}"#).expect("valid");
    /// let bytes = a.to_canonical_json();
    /// assert_eq!(bytes, br#"{"id":"EX-1","modified":"2024-01-01T00:00:00Z","summary":"demo"}"#);
    /// assert_eq!(Advisory::from_canonical_json(&bytes).expect("round trip"), a);
    /// ```
    pub fn to_canonical_json(&self) -> Vec<u8> {
        // Serialising the model into a `Value` cannot fail: every key is a string and
        // every leaf a string. Fall back to `null` rather than panic all the same.
        to_canonical_json(self).unwrap_or_else(|_| b"null".to_vec())
    }
}

/// Writes advisories as JSONL: one canonical advisory per line, each line ending in `\n`.
pub fn write_jsonl<'a, W, I>(mut out: W, advisories: I) -> Result<(), ModelError>
where
    W: Write,
    I: IntoIterator<Item = &'a Advisory>,
{
    for a in advisories {
        out.write_all(&a.to_canonical_json())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Reads JSONL written by [`write_jsonl`]: one canonical advisory per line, strict.
///
/// Each line is read with a byte cap ([`MAX_ADVISORY_JSON_BYTES`] by default) *before*
/// it is buffered in full, so a hostile file without newlines cannot exhaust memory. The
/// iterator stops after the first error (the rest of a corrupt stream is not trusted).
/// Blank lines are errors: the writer never emits them.
///
/// ```
/// use bundles::model::{Advisory, JsonlReader, write_jsonl};
/// let a = Advisory::from_osv_json(br#"{"id": "EX-1", "modified": "2024-01-01T00:00:00Z"}"#)
///     .expect("valid");
/// let mut buf = Vec::new();
/// write_jsonl(&mut buf, [&a, &a]).expect("write");
/// let back: Vec<Advisory> = JsonlReader::new(buf.as_slice())
///     .collect::<Result<_, _>>()
///     .expect("read");
/// assert_eq!(back, vec![a.clone(), a]);
/// ```
pub struct JsonlReader<R> {
    inner: R,
    max_line_bytes: usize,
    line: usize,
    buf: Vec<u8>,
    done: bool,
}

impl<R: BufRead> JsonlReader<R> {
    /// A reader with the default per-line cap.
    pub fn new(inner: R) -> Self {
        JsonlReader {
            inner,
            max_line_bytes: MAX_ADVISORY_JSON_BYTES,
            line: 0,
            buf: Vec::new(),
            done: false,
        }
    }

    /// Sets the per-line cap in bytes (the newline not counted).
    pub fn max_line_bytes(mut self, limit: usize) -> Self {
        self.max_line_bytes = limit;
        self
    }

    fn next_line(&mut self) -> Result<Option<Advisory>, ModelError> {
        self.buf.clear();
        // +1 so a line of exactly `max` bytes still has room for its newline.
        let cap = u64::try_from(self.max_line_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let n = (&mut self.inner)
            .take(cap)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if self.buf.len() > self.max_line_bytes {
            return Err(ModelError::InputTooLarge {
                what: "JSONL line",
                actual: self.buf.len(),
                limit: self.max_line_bytes,
            });
        }
        Advisory::from_canonical_json(&self.buf).map(Some)
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<Advisory, ModelError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_line() {
            Ok(Some(a)) => Some(Ok(a)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                let line = self.line.max(1);
                Some(Err(ModelError::Line {
                    line,
                    source: Box::new(e),
                }))
            }
        }
    }
}
