//! Replies as the common mail clients write them (fixtures under
//! `tests/fixtures/conversations/`, HTML and text/plain alternatives), cleaned by
//! `clean_conversation` down to the newest message; the options; hostile input.

use std::path::Path;

use mailroom_mime::{CleanOptions, clean_conversation};

fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/conversations")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cleaned(name: &str) -> String {
    cleaned_with(name, &CleanOptions::default())
}

fn cleaned_with(name: &str, options: &CleanOptions) -> String {
    clean_conversation(&fixture(name), name.ends_with(".html"), options)
}

fn markdown_with_links() -> CleanOptions {
    CleanOptions {
        html_as_markdown: true,
        ignore_links: false,
        ..CleanOptions::default()
    }
}

#[test]
fn gmail_reply_chain() {
    let newest = "Hi Bob,\n\nFriday works for me. I'll book a table at the bistro for 12:30.";
    assert_eq!(cleaned("gmail_reply.html"), newest);
    // The text alternative keeps Gmail's line wrapping.
    assert_eq!(
        cleaned("gmail_reply.txt"),
        "Hi Bob,\n\nFriday works for me. I'll book a table at the bistro\nfor 12:30."
    );
}

#[test]
fn outlook_desktop_reply() {
    assert_eq!(
        cleaned("outlook_desktop_reply.html"),
        "Hi Bob,\n\nFriday works for me. I’ll book a table at the bistro.\n\nAgenda:\nBudget\nHiring"
    );
    assert_eq!(
        cleaned("outlook_desktop_reply.txt"),
        "Hi Bob,\n\nFriday works for me. I’ll book a table at the bistro.\n\nAgenda:\n\n  *   Budget\n  *   Hiring"
    );
}

#[test]
fn outlook_web_reply() {
    assert_eq!(
        cleaned("outlook_web_reply.html"),
        "Friday works for me.\n\nSee you at 12:30."
    );
    // The text alternative has no mark on its signature.
    assert_eq!(
        cleaned("outlook_web_reply.txt"),
        "Friday works for me.\n\nSee you at 12:30.\n\nAnn Smith\nAcme Inc."
    );
}

#[test]
fn outlook_mobile_reply() {
    assert_eq!(cleaned("outlook_ios_reply.html"), "Sounds good!");
}

#[test]
fn apple_mail_replies() {
    assert_eq!(cleaned("apple_mail_reply.html"), "Friday works for me.");
    assert_eq!(cleaned("apple_mail_reply.txt"), "Friday works for me.");
    assert_eq!(
        cleaned("apple_mail_ios_reply.html"),
        "Friday works for me.\n\nAnn"
    );
    assert_eq!(
        cleaned("apple_mail_ios_reply.txt"),
        "Friday works for me.\n\nAnn"
    );
}

#[test]
fn thunderbird_reply() {
    assert_eq!(
        cleaned("thunderbird_reply.html"),
        "Friday works for me.\n\nCould you bring the draft contract?"
    );
    assert_eq!(
        cleaned("thunderbird_reply.txt"),
        "Friday works for me.\n\nCould you bring the /draft/ contract?"
    );
    assert_eq!(
        cleaned_with("thunderbird_reply.html", &markdown_with_links()),
        "Friday works for me.\n\nCould you bring the *draft* contract?"
    );
}

#[test]
fn replies_in_other_languages() {
    assert_eq!(
        cleaned("thunderbird_reply_de.txt"),
        "Freitag passt mir gut."
    );
    assert_eq!(cleaned("gmail_reply_fr.txt"), "Vendredi me va très bien.");
    assert_eq!(cleaned("gmail_reply_es.txt"), "El viernes me viene bien.");
}

#[test]
fn forwarded_messages_and_inline_answers() {
    assert_eq!(
        cleaned("gmail_forward.txt"),
        "Ann, see below. Can you handle this?"
    );
    assert_eq!(
        cleaned("inline_reply.txt"),
        "Yes, Friday works.\n\nThe bistro on Main Street."
    );
}

#[test]
fn closings_are_kept_when_asked() {
    let keep = CleanOptions {
        remove_conclusion_phrases: false,
        ..CleanOptions::default()
    };
    assert_eq!(
        cleaned_with("gmail_reply.html", &keep),
        "Hi Bob,\n\nFriday works for me. I'll book a table at the bistro for 12:30.\n\nBest,\nAnn"
    );
    assert_eq!(
        cleaned_with("outlook_desktop_reply.html", &keep),
        "Hi Bob,\n\nFriday works for me. I’ll book a table at the bistro.\n\nAgenda:\nBudget\nHiring\n\nKind regards,\nAnn"
    );
}

#[test]
fn links_as_markdown() {
    assert_eq!(
        cleaned_with("gmail_reply.html", &markdown_with_links()),
        "Hi Bob,\n\nFriday works for me. I'll book a table at \
         [the bistro](https://bistro.example/book?table=2&day=fri) for 12:30."
    );
    assert_eq!(
        cleaned_with("outlook_desktop_reply.html", &markdown_with_links()),
        "Hi Bob,\n\nFriday works for me. I’ll book a table at \
         [the bistro](https://bistro.example/book).\n\nAgenda:\n- Budget\n- Hiring"
    );
    // Links kept in plain text: the target after the text.
    let plain_links = CleanOptions {
        ignore_links: false,
        ..CleanOptions::default()
    };
    assert_eq!(
        cleaned_with("outlook_desktop_reply.html", &plain_links),
        "Hi Bob,\n\nFriday works for me. I’ll book a table at the bistro \
         <https://bistro.example/book>.\n\nAgenda:\nBudget\nHiring"
    );
    // The text alternative's own link targets are dropped or kept the same way.
    assert_eq!(
        cleaned("gmail_reply.txt"),
        "Hi Bob,\n\nFriday works for me. I'll book a table at the bistro\nfor 12:30."
    );
    assert_eq!(
        cleaned_with("gmail_reply.txt", &plain_links),
        "Hi Bob,\n\nFriday works for me. I'll book a table at the bistro\n\
         <https://bistro.example/book?table=2&day=fri> for 12:30."
    );
}

#[test]
fn newsletter_with_the_defaults() {
    assert_eq!(
        cleaned("newsletter.html"),
        "December news\n\nRead the full story or reply to this mail.\n\n\
         Product\nPrice\nWidget\n€10\nGadget & case\n€25\nFirst step\nSecond step"
    );
}

#[test]
fn newsletter_as_markdown_with_images_and_tables() {
    let everything = CleanOptions {
        html_as_markdown: true,
        ignore_links: false,
        ignore_images: false,
        images_as_markdown: true,
        ignore_tables: false,
        remove_conclusion_phrases: true,
    };
    assert_eq!(
        cleaned_with("newsletter.html", &everything),
        "# December *news*\n\n![Acme logo](https://cdn.example/logo.png)\n\n\
         Read [the full story](https://news.example/dec) or **reply** to this mail.\n\n\
         | Product | Price |\n| --- | --- |\n| Widget | €10 |\n| Gadget & case | €25 |\n\n\
         1. First step\n2. Second step"
    );
}

#[test]
fn newsletter_as_plain_text_with_images_and_tables() {
    let kept = CleanOptions {
        ignore_links: false,
        ignore_images: false,
        ignore_tables: false,
        ..CleanOptions::default()
    };
    assert_eq!(
        cleaned_with("newsletter.html", &kept),
        "December news\n\n[image: Acme logo]\n\n\
         Read the full story <https://news.example/dec> or reply to this mail.\n\n\
         Product | Price\nWidget | €10\nGadget & case | €25\n\nFirst step\nSecond step"
    );
    // Images as Markdown without the rest of Markdown; ignore_images wins over it.
    let images = CleanOptions {
        ignore_images: false,
        images_as_markdown: true,
        ..CleanOptions::default()
    };
    assert!(
        cleaned_with("newsletter.html", &images)
            .contains("\n\n![Acme logo](https://cdn.example/logo.png)\n\n")
    );
    let ignored = CleanOptions {
        images_as_markdown: true,
        ..CleanOptions::default()
    };
    assert!(!cleaned_with("newsletter.html", &ignored).contains("!["));
}

#[test]
fn text_image_placeholders_follow_ignore_images() {
    let text = "Here is the chart:\n[image: Sales chart]\n[cid:image001.png@01DB4A5C.6E7F8A90]\nNumbers are up.";
    assert_eq!(
        clean_conversation(text, false, &CleanOptions::default()),
        "Here is the chart:\nNumbers are up."
    );
    let kept = CleanOptions {
        ignore_images: false,
        ..CleanOptions::default()
    };
    assert_eq!(clean_conversation(text, false, &kept), text);
}

#[test]
fn an_ordinary_message_is_left_whole() {
    let text = "Hi team,\n\nThe release is on Friday. I wrote the notes: see the wiki.\n\nOn Monday we plan the next one.";
    assert_eq!(
        clean_conversation(text, false, &CleanOptions::default()),
        text
    );
    let html = "<p>Hi team,</p><p>The release is on <b>Friday</b>.</p>";
    assert_eq!(
        clean_conversation(html, true, &CleanOptions::default()),
        "Hi team,\n\nThe release is on Friday."
    );
}

#[test]
fn empty_and_whitespace_bodies() {
    let options = CleanOptions::default();
    assert_eq!(clean_conversation("", true, &options), "");
    assert_eq!(clean_conversation("", false, &options), "");
    assert_eq!(clean_conversation(" \n\n\t\n", false, &options), "");
    assert_eq!(
        clean_conversation(
            "<html><body><div><br></div>&nbsp;</body></html>",
            true,
            &options
        ),
        ""
    );
}

#[test]
fn deeply_nested_tags_are_bounded() {
    let options = CleanOptions::default();
    let depth = 100_000;
    let nested = format!("{}Hello{}", "<div>".repeat(depth), "</div>".repeat(depth));
    assert_eq!(clean_conversation(&nested, true, &options), "Hello");
    let unclosed = format!("{}Hello", "<span><b>".repeat(depth));
    assert_eq!(clean_conversation(&unclosed, true, &options), "Hello");
    let quoted = format!(
        "New<blockquote type=\"cite\">{}old{}</blockquote>",
        "<blockquote>".repeat(depth),
        "</blockquote>".repeat(depth)
    );
    assert_eq!(clean_conversation(&quoted, true, &options), "New");
    let lists = format!("{}item", "<ul><li>".repeat(10_000));
    let markdown = CleanOptions {
        html_as_markdown: true,
        ..CleanOptions::default()
    };
    assert!(clean_conversation(&lists, true, &markdown).ends_with("- item"));
}

#[test]
fn a_ten_megabyte_body_is_read() {
    let options = CleanOptions::default();
    let paragraph = "<p>Lorem ipsum dolor sit amet, <a href=\"https://x.example\">consectetur</a> adipiscing elit.</p>\n";
    let count = (10 << 20) / paragraph.len() + 1;
    let html = paragraph.repeat(count);
    assert!(html.len() >= 10 << 20);
    let text = clean_conversation(&html, true, &options);
    assert_eq!(text.lines().filter(|l| !l.is_empty()).count(), count);
    assert!(text.starts_with("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n\nLorem"));

    let plain = "> quoted line\nnew line\n".repeat((10 << 20) / 24);
    let cleaned = clean_conversation(&plain, false, &options);
    assert_eq!(cleaned.lines().count(), (10 << 20) / 24);

    let one_line = "x".repeat(10 << 20);
    assert_eq!(
        clean_conversation(&one_line, false, &options).len(),
        10 << 20
    );
    assert_eq!(
        clean_conversation(&one_line, true, &options).len(),
        10 << 20
    );
}

#[test]
fn unterminated_and_broken_markup() {
    let options = CleanOptions::default();
    for (html, expected) in [
        ("Hello <div class=\"gmail_quote", "Hello"),
        ("Hello <a href=\"https://x.example", "Hello"),
        ("Hello <!-- never closed", "Hello"),
        ("Hello <script>alert(1)", "Hello"),
        ("Hello <style>p { color: red }", "Hello"),
        ("Hello </div></div></p></blockquote> there", "Hello there"),
        ("<p>One<p>Two<li>Three", "One\n\nTwo\nThree"),
        (
            "Hello &amp &lt;b&gt; &#xFFFFFFFF; &unknown;",
            "Hello & <b> \u{fffd} &unknown;",
        ),
        (
            "<table><tr><td>cell<td>cell 2</table>after",
            "cell\ncell 2\nafter",
        ),
        ("<<<>>>< /div>Text", "<<<>>>< /div>Text"),
    ] {
        assert_eq!(clean_conversation(html, true, &options), expected, "{html}");
    }
    // Invalid UTF-8 arrives already replaced; control characters pass through.
    let odd = "caf\u{fffd} \u{0}\u{7}ok";
    assert!(clean_conversation(odd, true, &options).ends_with("ok"));
}
