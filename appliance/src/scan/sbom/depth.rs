//! Nesting-depth check before serde sees the document.
//!
//! serde's derived deserializers recurse once per nested object/array (CycloneDX
//! components nest through `components`), so depth is the one input property that turns
//! into stack use. One linear pass over the bytes, tracking whether we are inside a string
//! (and after a backslash), bounds it cheaply. Malformed JSON is not diagnosed here; the
//! parser does that.
use super::SbomError;

/// Fail with [`SbomError::TooDeep`] if `[`/`{` nest deeper than `limit` outside strings.
pub(crate) fn check(bytes: &[u8], limit: usize) -> Result<(), SbomError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Err(SbomError::TooDeep { limit, offset });
                }
            }
            // Unbalanced closers are a syntax error the parser reports; never underflow.
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
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
