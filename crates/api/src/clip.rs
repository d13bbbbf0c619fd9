//! Text from outside, cut short before it is echoed in an error or a log line: a
//! hostile client's ten-megabyte id must not come back ten megabytes long.

/// At most `max_chars` characters of `text` (whole characters, never a split UTF-8
/// sequence).
pub fn clip(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn text_is_cut_at_whole_characters() {
        assert_eq!(clip("abcdef", 3), "abc");
        assert_eq!(clip("ééé", 2), "éé");
        assert_eq!(clip("ab", 10), "ab");
    }
}
