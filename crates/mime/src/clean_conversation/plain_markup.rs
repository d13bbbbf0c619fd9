//! The link and image markup that mail clients write into the text/plain alternative
//! of an HTML message: a link's target in angle brackets after its text
//! ("the page <https://…>", Outlook without the space), an image as "[image: alt]"
//! or, from Outlook, "[cid:image001.png@…]".

/// Longest markup removed; anything longer is text.
const MAX_MARKUP: usize = 2048;

const LINK_SCHEMES: &[&str] = &["http://", "https://", "mailto:"];
const IMAGE_LABELS: &[&str] = &["image:", "cid:"];

/// `line` without link targets (`links`) and image placeholders (`images`).
pub(super) fn strip_markup(line: &str, links: bool, images: bool) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(['<', '[']) {
        let Some((before, from)) = rest.split_at_checked(at) else {
            break;
        };
        let markup = if from.starts_with('<') {
            links.then(|| bracketed(from, LINK_SCHEMES, '>')).flatten()
        } else {
            images.then(|| bracketed(from, IMAGE_LABELS, ']')).flatten()
        };
        match markup {
            Some(length) => {
                out.push_str(before.trim_end());
                rest = from.get(length..).unwrap_or_default();
                if out.trim().is_empty() {
                    // Markup that opened the line leaves no space behind.
                    rest = rest.trim_start();
                } else if rest.starts_with(char::is_alphanumeric) {
                    // "a <url> b" keeps one space; "text <url>." none.
                    out.push(' ');
                }
            }
            None => {
                let next = from.chars().next().map_or(1, char::len_utf8);
                out.push_str(before);
                out.push_str(from.get(..next).unwrap_or_default());
                rest = from.get(next..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// The length of the markup at the start of `text`: its bracket, one of `openings`, and
/// `close` on the same line (with no whitespace before it for a link).
fn bracketed(text: &str, openings: &[&str], close: char) -> Option<usize> {
    let inner = text.get(1..)?;
    let opens = openings.iter().any(|opening| {
        inner
            .get(..opening.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(opening))
    });
    if !opens {
        return None;
    }
    let end = inner
        .char_indices()
        .take_while(|&(at, _)| at < MAX_MARKUP)
        .find(|&(_, c)| c == close || c == '\n' || (close == '>' && c.is_whitespace()))?;
    (end.1 == close).then_some(1 + end.0 + close.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_and_image_placeholders_go() {
        assert_eq!(
            strip_markup("See the page <https://example.com/x>.", true, true),
            "See the page."
        );
        assert_eq!(
            strip_markup("Get Outlook for iOS<https://aka.ms/o0ukef>", true, true),
            "Get Outlook for iOS"
        );
        assert_eq!(
            strip_markup("[image: Logo] Acme [cid:image001.png@01DB4A]", true, true),
            "Acme"
        );
        assert_eq!(strip_markup("a <https://x.example> b", true, true), "a b");
    }

    #[test]
    fn other_brackets_stay() {
        for line in [
            "1 < 2 and [note] <b>",
            "a <https://x y>",
            "[image: never closed",
        ] {
            assert_eq!(strip_markup(line, true, true), line);
        }
        assert_eq!(
            strip_markup("x <https://a.example> [image: y]", false, false),
            "x <https://a.example> [image: y]"
        );
    }
}
