//! A sink for rendered text that refuses to grow past a limit, so that a template
//! repeating a large variable is cut off instead of filling memory.

use std::io;

use super::MAX_RENDERED_BYTES;

/// Rendered text, at most `limit` bytes of it.
pub struct CappedOutput {
    text: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl CappedOutput {
    pub fn new() -> Self {
        Self::with_limit(MAX_RENDERED_BYTES)
    }

    pub fn with_limit(limit: usize) -> Self {
        Self {
            text: Vec::new(),
            limit,
            overflowed: false,
        }
    }

    /// Whether a write was refused for the limit (what made the engine fail, if it did).
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// The text written; the engines write only whole UTF-8 strings.
    pub fn into_string(self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }

    pub fn refusal(&self) -> String {
        format!(
            "the rendered template would be larger than {} bytes, the most allowed",
            self.limit
        )
    }
}

impl io::Write for CappedOutput {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.text.len().saturating_add(bytes.len()) > self.limit {
            self.overflowed = true;
            return Err(io::Error::other("the rendered template is too large"));
        }
        self.text.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn writes_past_the_limit_are_refused_and_remembered() {
        let mut out = CappedOutput::with_limit(4);
        assert!(out.write_all(b"abc").is_ok());
        assert!(!out.overflowed());
        assert!(out.write_all(b"de").is_err());
        assert!(out.overflowed());
        assert_eq!(out.into_string(), "abc");
    }
}
