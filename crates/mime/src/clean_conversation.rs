//! The new part of a message body, as the v3 API's "clean messages" returns it: without
//! the quoted earlier messages, forwarded messages, signatures and closings, as plain
//! text or Markdown (see `CleanOptions`).
//!
//! HTML is read by `html_text` (which leaves out what mail clients mark as quoted or
//! hidden), then both HTML and plain text go through the same line rules
//! (`quoted_text`, `sign_off`).

mod html_text;
mod plain_markup;
mod quoted_text;
mod sign_off;

/// What `clean_conversation` keeps; the defaults are the API's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanOptions {
    /// Drop link targets, keep the links' text.
    pub ignore_links: bool,
    /// Drop images.
    pub ignore_images: bool,
    /// Images as `![alt](src)` (unless `ignore_images`); otherwise as "[image: alt]".
    pub images_as_markdown: bool,
    /// Drop table markup, each cell's text on its own line; otherwise rows as lines of
    /// cells separated by " | " (a Markdown table with `html_as_markdown`).
    pub ignore_tables: bool,
    /// Drop a closing such as "Best regards," "Thanks," "Cheers," and the name lines
    /// after it.
    pub remove_conclusion_phrases: bool,
    /// Markdown: links `[text](url)` (unless `ignore_links`), emphasis, lists and
    /// headings.
    pub html_as_markdown: bool,
}

impl Default for CleanOptions {
    fn default() -> Self {
        CleanOptions {
            ignore_links: true,
            ignore_images: true,
            images_as_markdown: false,
            ignore_tables: true,
            remove_conclusion_phrases: true,
            html_as_markdown: false,
        }
    }
}

/// The new part of a message body (HTML or plain text): without quoted earlier messages,
/// signatures, and boilerplate; plain text (or Markdown with `html_as_markdown`).
pub fn clean_conversation(body: &str, is_html: bool, options: &CleanOptions) -> String {
    let rendered;
    let text = if is_html {
        rendered = html_text::render(body, options);
        rendered.as_str()
    } else {
        body
    };
    let mut lines = quoted_text::new_part(text);
    drop_trailing_rules(&mut lines);
    if options.remove_conclusion_phrases {
        sign_off::remove_sign_off(&mut lines);
    }
    let strip_links = !is_html && options.ignore_links;
    let strip_images = !is_html && options.ignore_images;
    let mut out = String::with_capacity(text.len().min(1 << 20));
    let mut blank_pending = false;
    for line in lines {
        let line = line.trim_end();
        let stripped;
        let line = if strip_links || strip_images {
            stripped = plain_markup::strip_markup(line, strip_links, strip_images);
            if is_blank(&stripped) && !is_blank(line) {
                // A line that was only an image or a link target goes, not left blank.
                continue;
            }
            stripped.trim_end()
        } else {
            line
        };
        if is_blank(line) {
            blank_pending = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_pending {
                out.push('\n');
            }
        }
        blank_pending = false;
        out.push_str(line);
    }
    out
}

fn is_blank(line: &str) -> bool {
    line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
        .is_empty()
}

/// Drops the blank lines and horizontal rules ("____", "-----") that end the new part
/// once what followed them was cut.
fn drop_trailing_rules(lines: &mut Vec<&str>) {
    while let Some(last) = lines.last() {
        let last = last.trim();
        let is_rule = last.chars().count() >= 3 && last.chars().all(|c| "_-=~*".contains(c));
        if !last.is_empty() && !is_rule {
            break;
        }
        lines.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_normalised() {
        let text = "\n\n  Hello   there  \n\n\n\nSecond\u{a0}\n \n\u{a0}\nThird\n\n";
        let options = CleanOptions::default();
        assert_eq!(
            clean_conversation(text, false, &options),
            "  Hello   there\n\nSecond\n\nThird"
        );
    }

    #[test]
    fn defaults_are_the_apis() {
        let options = CleanOptions::default();
        assert!(options.ignore_links && options.ignore_images && options.ignore_tables);
        assert!(options.remove_conclusion_phrases);
        assert!(!options.images_as_markdown && !options.html_as_markdown);
    }
}
