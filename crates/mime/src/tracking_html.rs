//! Open and link tracking of an HTML body (docs/API.md §5.2, `tracking_options`): links
//! to web pages are pointed at the server's redirector and a 1×1 image is added that the
//! recipient's mail client loads when the message is shown.
//!
//! The body is rewritten in place: html5gum finds the `href` attributes and the closing
//! `</body>`, and only those byte ranges change, so the rest of the author's markup goes
//! out exactly as written.

use html5gum::{DefaultEmitter, Token, Tokenizer};

/// At most this many links of one message are tracked; any after them are left as they
/// are (each tracked link is a row in the server's store).
pub const MAX_TRACKED_LINKS: usize = 500;

/// What to add to the body.
#[derive(Debug, Clone, Default)]
pub struct TrackingPlan<'a> {
    /// The tracking image's URL, when opens are tracked.
    pub pixel_url: Option<&'a str>,
    /// When links are tracked: link `i` (from 0, in document order) becomes
    /// `{link_prefix}{i}`.
    pub link_prefix: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedHtml {
    pub html: String,
    /// The original address of each rewritten link, by index.
    pub links: Vec<String>,
}

/// `html` with `plan` applied. Only `http`/`https` links of `<a>` and `<area>` that
/// `followable` accepts are rewritten: `mailto:`, `tel:`, in-page anchors and relative
/// links stay as they are.
pub fn track_html(
    html: &str,
    plan: &TrackingPlan<'_>,
    followable: impl Fn(&str) -> bool,
) -> TrackedHtml {
    // (byte range, replacement), in document order.
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut links = Vec::new();
    let mut body_end = None;
    let mut emitter = DefaultEmitter::<usize>::new_with_span();
    // Script, style and the like hold raw text: an `<a href>` inside them is not a link.
    emitter.naively_switch_states(true);
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) if plan.link_prefix.is_some() => {
                let name = tag.name.to_ascii_lowercase();
                if name != b"a" && name != b"area" || links.len() >= MAX_TRACKED_LINKS {
                    continue;
                }
                let Some(href) = tag.attributes.get(b"href".as_slice()) else {
                    continue;
                };
                let target = String::from_utf8_lossy(&href.value).trim().to_owned();
                if !is_web_address(&target) || !followable(&target) {
                    continue;
                }
                let Some(range) = attribute_range(html, href.span.start) else {
                    continue;
                };
                let prefix = plan.link_prefix.unwrap_or_default();
                edits.push((range, format!("href=\"{prefix}{}\"", links.len())));
                links.push(target);
            }
            Token::EndTag(tag) if tag.name.eq_ignore_ascii_case(b"body") => {
                body_end = Some(tag.span.start);
            }
            _ => {}
        }
    }
    if let Some(pixel) = plan.pixel_url {
        let at = body_end.unwrap_or(html.len());
        edits.push((at..at, pixel_image(pixel)));
    }
    edits.sort_by_key(|(range, _)| range.start);
    let mut out = String::with_capacity(html.len() + edits.len() * 64);
    let mut copied = 0;
    for (range, replacement) in edits {
        if range.start < copied {
            continue;
        }
        out.push_str(html.get(copied..range.start).unwrap_or_default());
        out.push_str(&replacement);
        copied = range.end;
    }
    out.push_str(html.get(copied..).unwrap_or_default());
    TrackedHtml { html: out, links }
}

fn is_web_address(target: &str) -> bool {
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    (lower.starts_with("http://") && target.len() > 7)
        || (lower.starts_with("https://") && target.len() > 8)
}

/// The 1×1 image, sized and styled so no client shows it or leaves room for it.
fn pixel_image(url: &str) -> String {
    format!(
        "<img src=\"{url}\" width=\"1\" height=\"1\" alt=\"\" border=\"0\" \
         style=\"height:1px!important;width:1px!important;border-width:0!important;\
         margin:0!important;padding:0!important\" />"
    )
}

/// The bytes of the attribute that starts at `start` (its name): `name`, then optionally
/// `= value` with the value double-quoted, single-quoted or bare (HTML Living Standard
/// §13.1.2.3). html5gum gives where the attribute begins; where a bare value ends is
/// found here, since its span may reach one character past it.
fn attribute_range(html: &str, start: usize) -> Option<std::ops::Range<usize>> {
    let bytes = html.as_bytes();
    let mut at = start;
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r');
    while at < bytes.len() && !is_space(bytes[at]) && !matches!(bytes[at], b'=' | b'>' | b'/') {
        at += 1;
    }
    let name_end = at;
    while at < bytes.len() && is_space(bytes[at]) {
        at += 1;
    }
    if bytes.get(at) != Some(&b'=') {
        return Some(start..name_end);
    }
    at += 1;
    while at < bytes.len() && is_space(bytes[at]) {
        at += 1;
    }
    match bytes.get(at) {
        Some(&quote @ (b'"' | b'\'')) => {
            let close = bytes.get(at + 1..)?.iter().position(|&b| b == quote)?;
            Some(start..at + 1 + close + 1)
        }
        Some(_) => {
            let len = bytes
                .get(at..)?
                .iter()
                .position(|&b| is_space(b) || b == b'>')
                .unwrap_or(bytes.len() - at);
            Some(start..at + len)
        }
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIXEL: &str = "https://mr.example.test/track/tok/open.gif";
    const LINKS: &str = "https://mr.example.test/track/tok/link/";

    fn both() -> TrackingPlan<'static> {
        TrackingPlan {
            pixel_url: Some(PIXEL),
            link_prefix: Some(LINKS),
        }
    }

    #[test]
    fn web_links_are_rewritten_in_order_and_the_rest_is_kept_byte_for_byte() {
        let html = "<html><body><p class=x>Hi <b>there</b></p>\
            <a HREF = \"https://one.example/?a=1&amp;b=2\" class=z>one</a> \
            <a href=http://two.example/path title=t>two</a>\
            <a href='mailto:q@example.com'>mail</a><a href=\"#top\">top</a>\
            <a href=\"/relative\">rel</a><map><area href=' HTTPS://three.example '></map>\
            </body></html>";
        let tracked = track_html(html, &both(), |_| true);
        assert_eq!(
            tracked.links,
            [
                "https://one.example/?a=1&b=2",
                "http://two.example/path",
                "HTTPS://three.example"
            ]
        );
        let expected = format!(
            "<html><body><p class=x>Hi <b>there</b></p>\
            <a href=\"{LINKS}0\" class=z>one</a> \
            <a href=\"{LINKS}1\" title=t>two</a>\
            <a href='mailto:q@example.com'>mail</a><a href=\"#top\">top</a>\
            <a href=\"/relative\">rel</a><map><area href=\"{LINKS}2\"></map>\
            {}</body></html>",
            pixel_image(PIXEL)
        );
        assert_eq!(tracked.html, expected);
    }

    #[test]
    fn a_bare_value_at_the_end_of_the_tag_keeps_the_closing_bracket() {
        let tracked = track_html("<a href=https://x.example>x</a>", &both(), |_| true);
        assert_eq!(
            tracked.html,
            format!("<a href=\"{LINKS}0\">x</a>{}", pixel_image(PIXEL))
        );
    }

    #[test]
    fn links_in_scripts_styles_and_comments_are_not_links() {
        let html = "<script>var s = \"<a href='https://no.example'>\";</script>\
            <style>a[href='https://no.example']{}</style>\
            <!-- <a href=\"https://no.example\"> --><textarea><a href=https://no.example></textarea>";
        let tracked = track_html(html, &both(), |_| true);
        assert!(tracked.links.is_empty(), "{:?}", tracked.links);
        assert_eq!(tracked.html, format!("{html}{}", pixel_image(PIXEL)));
    }

    #[test]
    fn the_pixel_goes_before_the_last_closing_body_or_at_the_end() {
        let opens_only = TrackingPlan {
            pixel_url: Some(PIXEL),
            link_prefix: None,
        };
        let tracked = track_html("<p>a</p></BODY>\n</html>", &opens_only, |_| true);
        assert_eq!(
            tracked.html,
            format!("<p>a</p>{}</BODY>\n</html>", pixel_image(PIXEL))
        );
        let fragment = track_html(
            "<p><a href=\"https://x.example\">x</a>",
            &opens_only,
            |_| true,
        );
        assert!(fragment.links.is_empty(), "links are left alone");
        assert_eq!(
            fragment.html,
            format!(
                "<p><a href=\"https://x.example\">x</a>{}",
                pixel_image(PIXEL)
            )
        );
    }

    #[test]
    fn a_link_the_caller_cannot_follow_is_left_as_it_is() {
        let html = "<a href=\"https://ok.example\">a</a><a href=\"https://bad example\">b</a>";
        let tracked = track_html(html, &both(), |url| !url.contains(' '));
        assert_eq!(tracked.links, ["https://ok.example"]);
        assert!(
            tracked
                .html
                .contains("<a href=\"https://bad example\">b</a>")
        );
    }

    #[test]
    fn links_only_adds_no_image() {
        let links_only = TrackingPlan {
            pixel_url: None,
            link_prefix: Some(LINKS),
        };
        let tracked = track_html(
            "<a href=\"https://x.example\">x</a></body>",
            &links_only,
            |_| true,
        );
        assert_eq!(tracked.html, format!("<a href=\"{LINKS}0\">x</a></body>"));
    }

    #[test]
    fn hostile_markup_is_bounded_and_never_breaks_the_body() {
        let many: String = (0..MAX_TRACKED_LINKS + 20)
            .map(|i| format!("<a href=\"https://x.example/{i}\">{i}</a>"))
            .collect();
        let tracked = track_html(&many, &both(), |_| true);
        assert_eq!(tracked.links.len(), MAX_TRACKED_LINKS);
        assert!(tracked.html.contains("https://x.example/519\""));
        for broken in [
            "<a href=\"https://x.example",
            "<a href=",
            "<a href",
            "<a href='https://x.example'",
            "<a\u{0}href=\"https://é.example\">é</a>",
            "<<<a href=https://x.example/\u{1F600}",
        ] {
            let tracked = track_html(broken, &both(), |_| true);
            assert!(tracked.html.starts_with("<"), "{broken:?}");
            assert!(tracked.html.ends_with(&pixel_image(PIXEL)) || tracked.html.contains(PIXEL));
        }
        let deep = "<div>".repeat(100_000);
        assert!(track_html(&deep, &both(), |_| true).html.len() > deep.len());
    }
}
