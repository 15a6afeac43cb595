//! The kit's canonical advisory form and its JSONL container.
//!
//! Canonical JSON is compact, one line, keys sorted at every level, empty lists and absent
//! options omitted, no numbers (every value is a string), so the same advisory always
//! produces the same bytes: kits are reproducible and findings digests replayable.
use std::io::{BufRead, Read, Write};

use serde_json::Value;

use super::advisory::Advisory;
use super::error::ModelError;
use super::limits::MAX_ADVISORY_JSON_BYTES;

/// Sorts object keys at every level. A no-op with serde_json's default `BTreeMap`, but it
/// keeps the canonical form sorted even if some crate in the build turns on serde_json's
/// `preserve_order` feature (features are unified across the workspace).
fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
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
        // every leaf a string. Fall back to `Null` rather than panic all the same.
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        sort_keys(&mut value);
        // `Value`'s Display writes compact JSON and cannot fail for a `Value`.
        value.to_string().into_bytes()
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
