//! Nesting-depth check before serde sees the document.
//!
//! serde's derived deserializers recurse once per nested object/array (CycloneDX
//! components nest through `components`), so depth is the one input property that turns
//! into stack use. One linear pass over the bytes, tracking whether we are inside a string
//! (and after a backslash), bounds it cheaply. Malformed JSON is not diagnosed here; the
//! parser does that.
use super::SbomError;

/// Fail with [`SbomError::TooDeep`] if `[`/`{` nest deeper than `limit` outside strings.
///
/// SBOM bytes are mostly string contents, so strings are skipped with `memchr` (to the
/// next quote or backslash) and only the short runs between strings are walked bytewise.
pub(crate) fn check(bytes: &[u8], limit: usize) -> Result<(), SbomError> {
    let mut depth = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        // Outside a string: walk to the next opening quote, counting brackets.
        let end = memchr::memchr(b'"', &bytes[i..]).map_or(bytes.len(), |j| i + j);
        for (offset, &b) in bytes[i..end].iter().enumerate() {
            match b {
                b'[' | b'{' => {
                    depth += 1;
                    if depth > limit {
                        return Err(SbomError::TooDeep {
                            limit,
                            offset: i + offset,
                        });
                    }
                }
                // Unbalanced closers are a syntax error the parser reports; never underflow.
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        // Inside a string: skip to its closing quote; a backslash escapes the next byte.
        i = end + 1;
        while i < bytes.len() {
            match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                Some(j) if bytes[i + j] == b'\\' => i += j + 2,
                Some(j) => {
                    i += j + 1;
                    break;
                }
                None => i = bytes.len(),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_structural_brackets() {
        assert!(check(br#"{"a":[1,{"b":2}]}"#, 3).is_ok());
        assert_eq!(
            check(br#"{"a":[1,{"b":2}]}"#, 2),
            Err(SbomError::TooDeep {
                limit: 2,
                offset: 8
            })
        );
        // Brackets inside strings, including after escaped quotes, do not count.
        assert!(check(br#"{"a":"[[[[\"[[[[{{{{"}"#, 1).is_ok());
        assert!(check(br#"{"a":"\\"}"#, 1).is_ok());
        assert!(check(br#"{"a":"\\",  "b":[[1]]}"#, 2).is_err());
        // Unbalanced closers do not underflow into a bypass.
        assert!(check(b"]]]]]][[[", 2).is_err());
    }
}
