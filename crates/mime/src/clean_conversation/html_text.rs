//! An HTML body as text (or Markdown), without what a reader does not see and without
//! the quoted earlier messages and signatures that mail clients mark in their HTML.
//!
//! One pass over html5gum's tokens, no tree: an explicit stack of open elements (bounded,
//! so nesting depth costs nothing), implied end tags closed the way browsers close them,
//! and whitespace collapsed as a browser collapses it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use html5gum::{DefaultEmitter, HtmlString, Spanned, StartTag, Token, Tokenizer};

use super::CleanOptions;

/// Open elements tracked by name; deeper ones are only counted (their end tags still
/// balance), so a document nested 100,000 deep costs no more than one nested 256 deep.
const MAX_OPEN_ELEMENTS: usize = 256;
/// Bytes of a tag name kept to match its end tag.
const MAX_TAG_NAME: usize = 32;

/// Elements with no content and no end tag.
const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Elements whose content is never shown as text in a mail client.
const HIDDEN_ELEMENTS: &[&str] = &[
    "head", "title", "script", "style", "template", "noscript", "noembed", "noframes", "iframe",
    "object", "svg", "canvas", "audio", "video", "select", "datalist",
];

/// Elements that start a new line.
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "hgroup",
    "legend",
    "main",
    "menu",
    "nav",
    "section",
    "summary",
];

/// Elements that a new block closes when one is open (a `<p>` cannot hold a block).
const CLOSES_PARAGRAPH: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "details",
    "dialog",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "ul",
];

/// Elements that a later start tag may close implicitly; how many of each are open is
/// counted, so that the stack is searched only when one is.
const IMPLICITLY_CLOSED: &[&str] = &[
    "p", "li", "dt", "dd", "td", "th", "tr", "tbody", "thead", "tfoot", "option",
];

/// Class names mail clients give to quoted messages, forwarded messages and
/// signatures: Gmail, Thunderbird, Yahoo and Proton Mail.
const QUOTE_OR_SIGNATURE_CLASSES: &[&str] = &[
    "gmail_quote",
    "gmail_quote_container",
    "gmail_extra",
    "gmail_signature",
    "gmail_signature_prefix",
    "moz-cite-prefix",
    "moz-forward-container",
    "moz-signature",
    "yahoo_quoted",
    "protonmail_quote",
    "protonmail_signature_block",
];

/// Element ids that mark a signature: Outlook on the web and Outlook's mobile apps.
const SIGNATURE_IDS: &[&str] = &["signature", "ms-outlook-mobile-signature"];

/// Element ids after which everything is the quoted message: Outlook on the web
/// (`appendonsend`, then the reply header `divRplyFwdMsg`), Outlook's mobile apps (the
/// container of the message replied to), and Zimbra's rule.
const QUOTE_START_IDS: &[&str] = &[
    "appendonsend",
    "divrplyfwdmsg",
    "mail-editor-reference-message-container",
    "x_appendonsend",
    "x_divrplyfwdmsg",
    "zwchr",
];

/// The top border Outlook for Windows draws above the header of the message replied to
/// (the second is older versions' blue), in a style with its whitespace removed.
const OUTLOOK_SEPARATOR_STYLES: &[&str] = &["border-top:solid#e1e1e1", "border-top:solid#b5c4df"];

/// `body` as text, or Markdown with `options.html_as_markdown`.
pub(super) fn render(body: &str, options: &CleanOptions) -> String {
    let mut emitter = DefaultEmitter::default();
    // Script, style, title and the like hold raw text up to their end tag; without this
    // their content would be read as markup.
    emitter.naively_switch_states(true);
    let mut renderer = Renderer::new(options, body.len());
    for token in Tokenizer::new_with_emitter(body, emitter).flatten() {
        let go_on = match token {
            Token::StartTag(tag) => renderer.start_tag(&tag),
            Token::EndTag(tag) => {
                renderer.end_tag(&name_of(&tag.name));
                true
            }
            Token::String(text) => {
                renderer.text(&String::from_utf8_lossy(&text));
                true
            }
            Token::Comment(_) | Token::Doctype(_) | Token::Error(_) => true,
        };
        if !go_on {
            break;
        }
    }
    renderer.finish()
}

fn name_of(raw: &[u8]) -> String {
    let end = raw.len().min(MAX_TAG_NAME);
    String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).to_ascii_lowercase()
}

type Attributes = BTreeMap<HtmlString, Spanned<HtmlString, ()>>;

fn attribute<'a>(attributes: &'a Attributes, name: &str) -> Option<Cow<'a, str>> {
    attributes
        .get(name.as_bytes())
        .map(|value| String::from_utf8_lossy(value))
}

/// The style with its whitespace removed and in lower case, so that its declarations
/// can be matched however they were spaced.
fn compact_style(attributes: &Attributes) -> String {
    attribute(attributes, "style")
        .map(|style| {
            style
                .chars()
                .filter(|c| !c.is_whitespace())
                .flat_map(char::to_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

fn has_class(attributes: &Attributes, wanted: &[&str]) -> bool {
    attribute(attributes, "class").is_some_and(|classes| {
        classes
            .split_ascii_whitespace()
            .any(|class| wanted.iter().any(|w| class.eq_ignore_ascii_case(w)))
    })
}

fn has_id(attributes: &Attributes, wanted: &[&str]) -> bool {
    attribute(attributes, "id")
        .is_some_and(|id| wanted.iter().any(|w| id.trim().eq_ignore_ascii_case(w)))
}

/// Whether the element starts the quoted message, so that nothing after it is new.
fn starts_quoted_message(name: &str, attributes: &Attributes) -> bool {
    if has_id(attributes, QUOTE_START_IDS) || has_class(attributes, &["OutlookMessageHeader"]) {
        return true;
    }
    name == "div" && {
        let style = compact_style(attributes);
        OUTLOOK_SEPARATOR_STYLES
            .iter()
            .any(|separator| style.contains(separator))
    }
}

/// Why an element and all it holds are left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeftOut {
    /// Never shown, or hidden by its style: it takes no room, not even a line.
    Hidden,
    /// A quoted message or a signature as mail clients mark them: a block in its own
    /// right, so what follows it starts a new line.
    Quoted,
}

fn left_out(name: &str, attributes: &Attributes) -> Option<LeftOut> {
    if HIDDEN_ELEMENTS.contains(&name) || attributes.contains_key(b"hidden".as_slice()) {
        return Some(LeftOut::Hidden);
    }
    let style = compact_style(attributes);
    if [
        "display:none",
        "visibility:hidden",
        "mso-hide:all",
        "mso-list:ignore",
    ]
    .iter()
    .any(|hidden| style.contains(hidden))
    {
        return Some(LeftOut::Hidden);
    }
    let cited = name == "blockquote"
        && attribute(attributes, "type").is_some_and(|t| t.trim().eq_ignore_ascii_case("cite"));
    if cited
        || has_class(attributes, QUOTE_OR_SIGNATURE_CLASSES)
        || has_id(attributes, SIGNATURE_IDS)
    {
        return Some(LeftOut::Quoted);
    }
    None
}

/// Collapsible whitespace, the no-break space, and the invisible characters left out.
fn is_space_like(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\n'
            | '\r'
            | '\x0c'
            | '\u{a0}'
            | '\u{200b}'
            | '\u{200c}'
            | '\u{200d}'
            | '\u{2060}'
            | '\u{feff}'
    )
}

/// A 1×1 (or 0×0) image is a tracking pixel, never content.
fn is_tracking_pixel(attributes: &Attributes) -> bool {
    ["width", "height"].iter().any(|dimension| {
        attribute(attributes, dimension)
            .is_some_and(|v| matches!(v.trim().trim_end_matches("px"), "0" | "1"))
    })
}

/// The link target worth showing: none for page anchors and scripts.
fn link_target(attributes: &Attributes) -> Option<String> {
    let href = attribute(attributes, "href")?;
    let href = href.trim();
    let lower = href.to_ascii_lowercase();
    if href.is_empty() || href.starts_with('#') || lower.starts_with("javascript:") {
        return None;
    }
    Some(href.to_owned())
}

/// What an open element changes while it is open, undone when it closes.
#[derive(Debug, Default)]
struct OpenElement {
    name: String,
    /// Started a left-out subtree.
    leaves_out: Option<LeftOut>,
    /// Ends its line (block) or its paragraph when it closes.
    closing_break: Break,
    /// Markdown emphasis marker to close with, and how much was pending before it was
    /// opened (to drop an emphasis around nothing).
    emphasis: Option<(&'static str, usize)>,
    preformatted: bool,
    list: Option<ListState>,
    /// An open `<a>` that renders as a link.
    link: bool,
    table: bool,
    row: bool,
    cell: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Break {
    #[default]
    None,
    Line,
    Paragraph,
}

#[derive(Debug, Clone, Copy)]
struct ListState {
    ordered: bool,
    next_number: u32,
}

/// A link being rendered: its target and where its text starts in the output (once any
/// text came).
#[derive(Debug)]
struct ActiveLink {
    target: String,
    pending_before: usize,
    text_start: Option<usize>,
}

/// The table being laid out as rows (`ignore_tables` off); only the outermost table is,
/// tables inside its cells are read as text.
#[derive(Debug, Default)]
struct TableLayout {
    rows: usize,
    cells_in_row: usize,
}

struct Renderer<'o> {
    options: &'o CleanOptions,
    markdown: bool,
    out: String,
    /// Something (even a lone no-break space) is on the current line, so ending the
    /// line needs a line break.
    line_open: bool,
    /// Visible text is on the current line, so collapsed whitespace becomes a space.
    line_has_text: bool,
    pending_space: bool,
    /// Markdown opening markup written just before the next visible character, so that
    /// markup around nothing disappears and never sits before a space.
    pending_markup: String,
    open: Vec<OpenElement>,
    /// Open elements past `MAX_OPEN_ELEMENTS`, only counted.
    untracked_open: usize,
    /// Index in `open` of the element that started the left-out subtree.
    left_out_from: Option<usize>,
    preformatted: usize,
    link: Option<ActiveLink>,
    table: Option<TableLayout>,
    /// Open `<table>` elements (of any layout).
    tables_open: usize,
    /// Open cells of the laid-out table: line breaks in them are spaces.
    cells_open: usize,
    /// Open elements of each of `IMPLICITLY_CLOSED`.
    implicitly_closed_open: [usize; IMPLICITLY_CLOSED.len()],
}

impl<'o> Renderer<'o> {
    fn new(options: &'o CleanOptions, input_len: usize) -> Self {
        Renderer {
            options,
            markdown: options.html_as_markdown,
            out: String::with_capacity(input_len.min(1 << 20) / 2),
            line_open: false,
            line_has_text: false,
            pending_space: false,
            pending_markup: String::new(),
            open: Vec::new(),
            untracked_open: 0,
            left_out_from: None,
            preformatted: 0,
            link: None,
            table: None,
            tables_open: 0,
            cells_open: 0,
            implicitly_closed_open: [0; IMPLICITLY_CLOSED.len()],
        }
    }

    fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.pop();
        }
        self.out
    }

    fn leaving_out(&self) -> bool {
        self.left_out_from.is_some()
    }

    /// Handles a start tag; false once the quoted message has started and nothing after
    /// it is wanted.
    fn start_tag(&mut self, tag: &StartTag<()>) -> bool {
        let name = name_of(&tag.name);
        let attributes = &tag.attributes;
        if name == "body" {
            // A body closes a head left open; anywhere else (a quoted message's own
            // `<body>`) it is ignored, as browsers ignore it.
            if let Some(head) = self.open.iter().position(|e| e.name == "head") {
                while self.open.len() > head {
                    self.pop();
                }
            }
            return true;
        }
        if !self.leaving_out() && starts_quoted_message(&name, attributes) {
            return false;
        }
        if VOID_ELEMENTS.contains(&name.as_str()) {
            if !self.leaving_out() {
                self.void_element(&name, attributes);
            }
            return true;
        }
        self.close_implied(&name);
        if self.open.len() >= MAX_OPEN_ELEMENTS {
            if !tag.self_closing {
                self.untracked_open = self.untracked_open.saturating_add(1);
            }
            return true;
        }
        let mut element = OpenElement {
            name,
            ..OpenElement::default()
        };
        if !self.leaving_out() {
            if let Some(why) = left_out(&element.name, attributes) {
                if why == LeftOut::Quoted {
                    self.block_break(Break::Line);
                }
                element.leaves_out = Some(why);
                self.left_out_from = Some(self.open.len());
            } else {
                self.open_effects(&mut element, attributes);
            }
        }
        self.count_open(&element.name, true);
        self.open.push(element);
        if tag.self_closing {
            // Mail HTML uses `<div/>` for an empty element; reading it as an open one
            // would swallow the rest of the message into it.
            self.pop();
        }
        true
    }

    fn end_tag(&mut self, name: &str) {
        if name == "br" {
            // `</br>` is read as `<br>`, as browsers do.
            if !self.leaving_out() {
                self.line_break();
            }
            return;
        }
        if self.untracked_open > 0 {
            self.untracked_open -= 1;
            return;
        }
        if let Some(at) = self.open.iter().rposition(|e| e.name == name) {
            while self.open.len() > at {
                self.pop();
            }
        }
    }

    /// Closes what a browser closes before `name` opens: a list item before the next one,
    /// a cell before the next cell, a row before the next row, a paragraph before a block.
    fn close_implied(&mut self, name: &str) {
        let (closed, boundaries): (&[&str], &[&str]) = match name {
            "li" => (&["li"], &["ul", "ol", "menu", "table"]),
            "dt" | "dd" => (&["dt", "dd"], &["dl", "table"]),
            "td" | "th" => (&["td", "th"], &["tr", "table"]),
            "tr" => (&["tr", "td", "th"], &["table"]),
            "tbody" | "thead" | "tfoot" => (&["tbody", "thead", "tfoot", "tr"], &["table"]),
            "option" => (&["option"], &["select", "datalist"]),
            _ if CLOSES_PARAGRAPH.contains(&name) => (
                &["p"],
                &[
                    "table", "td", "th", "caption", "button", "object", "template", "li",
                ],
            ),
            _ => return,
        };
        if closed
            .iter()
            .all(|name| self.implicitly_closed_count(name) == 0)
        {
            return;
        }
        let found = self
            .open
            .iter()
            .rev()
            .take_while(|e| !boundaries.contains(&e.name.as_str()))
            .position(|e| closed.contains(&e.name.as_str()));
        if let Some(from_top) = found {
            let at = self.open.len() - 1 - from_top;
            while self.open.len() > at {
                self.pop();
            }
        }
    }

    /// Applies what `element` does on opening, recording what to undo.
    fn open_effects(&mut self, element: &mut OpenElement, attributes: &Attributes) {
        let name = element.name.clone();
        match name.as_str() {
            "p" => {
                // Outlook for Windows writes every line as a margin-less paragraph
                // of one of its `Mso…` classes (`MsoNormal`, `MsoListParagraph`, …).
                let outlook_line = attribute(attributes, "class").is_some_and(|classes| {
                    classes
                        .split_ascii_whitespace()
                        .any(|class| class.starts_with("Mso"))
                });
                let kind = if outlook_line {
                    Break::Line
                } else {
                    Break::Paragraph
                };
                self.block_break(kind);
                element.closing_break = kind;
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.block_break(Break::Paragraph);
                element.closing_break = Break::Paragraph;
                if self.markdown {
                    let level = name.get(1..).and_then(|l| l.parse::<usize>().ok());
                    let level = level.unwrap_or(1);
                    self.pending_markup.push_str(&"#".repeat(level));
                    self.pending_markup.push(' ');
                }
            }
            "pre" => {
                self.block_break(Break::Line);
                element.closing_break = Break::Line;
                element.preformatted = true;
                self.preformatted += 1;
            }
            "ul" | "ol" | "menu" => {
                self.block_break(Break::Line);
                element.closing_break = Break::Line;
                let start = attribute(attributes, "start")
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .unwrap_or(1);
                element.list = Some(ListState {
                    ordered: name == "ol",
                    next_number: start,
                });
            }
            "li" => {
                self.block_break(Break::Line);
                element.closing_break = Break::Line;
                if self.markdown {
                    self.list_item_marker();
                }
            }
            "b" | "strong" | "i" | "em" | "cite" | "dfn" if self.markdown => {
                let marker = if matches!(name.as_str(), "b" | "strong") {
                    "**"
                } else {
                    "*"
                };
                element.emphasis = Some((marker, self.pending_markup.len()));
                self.pending_markup.push_str(marker);
            }
            "a" => self.open_link(element, attributes),
            "table" => self.open_table(element),
            "tr" => self.open_row(element),
            "td" | "th" => self.open_cell(element),
            "caption" | "thead" | "tbody" | "tfoot"
                if self.options.ignore_tables || self.tables_open > 1 =>
            {
                self.block_break(Break::Line);
                element.closing_break = Break::Line;
            }
            _ if BLOCK_ELEMENTS.contains(&name.as_str()) => {
                self.block_break(Break::Line);
                element.closing_break = Break::Line;
            }
            _ => {}
        }
    }

    fn list_item_marker(&mut self) {
        let lists: Vec<usize> = self
            .open
            .iter()
            .enumerate()
            .filter(|(_, e)| e.list.is_some())
            .map(|(at, _)| at)
            .collect();
        let indent = "  ".repeat(lists.len().saturating_sub(1));
        let marker = match lists.last().and_then(|&at| self.open.get_mut(at)) {
            Some(OpenElement {
                list: Some(list), ..
            }) if list.ordered => {
                let number = list.next_number;
                list.next_number = list.next_number.saturating_add(1);
                format!("{number}. ")
            }
            _ => "- ".to_owned(),
        };
        self.pending_markup.push_str(&indent);
        self.pending_markup.push_str(&marker);
    }

    fn open_link(&mut self, element: &mut OpenElement, attributes: &Attributes) {
        // Links do not nest: a new one closes the one open.
        if let Some(at) = self.open.iter().rposition(|e| e.link) {
            while self.open.len() > at {
                self.pop();
            }
        }
        if self.options.ignore_links {
            return;
        }
        let Some(target) = link_target(attributes) else {
            return;
        };
        let pending_before = self.pending_markup.len();
        if self.markdown {
            self.pending_markup.push('[');
        }
        self.link = Some(ActiveLink {
            target,
            pending_before,
            text_start: None,
        });
        element.link = true;
    }

    fn close_link(&mut self) {
        let Some(link) = self.link.take() else {
            return;
        };
        let Some(text_start) = link.text_start else {
            // A link around nothing visible: no link at all.
            self.pending_markup.truncate(link.pending_before);
            return;
        };
        let text = self.out.get(text_start..).unwrap_or_default().trim();
        let target = link.target;
        let shows_target = text == target
            || target
                .strip_prefix("mailto:")
                .is_some_and(|address| address == text);
        if self.markdown {
            self.write_markup("](");
            self.write_markup(&target);
            self.write_markup(")");
        } else if !shows_target {
            self.write_markup(" <");
            self.write_markup(&target);
            self.write_markup(">");
        }
    }

    fn laying_out_tables(&self) -> bool {
        !self.options.ignore_tables
    }

    fn open_table(&mut self, element: &mut OpenElement) {
        element.table = true;
        self.tables_open += 1;
        if self.laying_out_tables() && self.tables_open == 1 {
            self.block_break(Break::Paragraph);
            element.closing_break = Break::Paragraph;
            self.table = Some(TableLayout::default());
        } else if self.cells_open == 0 {
            self.block_break(Break::Line);
            element.closing_break = Break::Line;
        } else {
            self.pending_space = true;
        }
    }

    fn open_row(&mut self, element: &mut OpenElement) {
        if self.laying_out_tables() && self.tables_open == 1 {
            element.row = true;
            self.block_break(Break::Line);
            if let Some(table) = self.table.as_mut() {
                table.cells_in_row = 0;
            }
        } else if self.cells_open == 0 {
            self.block_break(Break::Line);
            element.closing_break = Break::Line;
        } else {
            self.pending_space = true;
        }
    }

    fn close_row(&mut self) {
        let Some(table) = self.table.as_mut() else {
            return;
        };
        let cells = table.cells_in_row;
        if cells == 0 {
            return;
        }
        let first_row = table.rows == 0;
        table.rows += 1;
        if self.markdown {
            self.pending_space = false;
            self.write_markup(" |");
            if first_row {
                self.line_break();
                let separator = format!("|{}", " --- |".repeat(cells));
                self.write_markup(&separator);
            }
        }
        self.block_break(Break::Line);
    }

    fn open_cell(&mut self, element: &mut OpenElement) {
        if self.laying_out_tables() && self.tables_open == 1 {
            let Some(table) = self.table.as_mut() else {
                return;
            };
            let first = table.cells_in_row == 0;
            table.cells_in_row += 1;
            self.pending_space = false;
            if !first {
                self.write_markup(" | ");
            } else if self.markdown {
                self.write_markup("| ");
            }
            element.cell = true;
            self.cells_open += 1;
        } else if self.cells_open == 0 {
            self.block_break(Break::Line);
            element.closing_break = Break::Line;
        } else {
            self.pending_space = true;
        }
    }

    fn void_element(&mut self, name: &str, attributes: &Attributes) {
        match name {
            "br" => self.line_break(),
            "hr" => self.block_break(Break::Line),
            "img" => self.image(attributes),
            _ => {}
        }
    }

    fn image(&mut self, attributes: &Attributes) {
        if self.options.ignore_images || is_tracking_pixel(attributes) {
            return;
        }
        let alt = attribute(attributes, "alt")
            .map(|alt| alt.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        if self.options.images_as_markdown {
            let Some(source) = attribute(attributes, "src").filter(|s| !s.trim().is_empty()) else {
                return;
            };
            let alt = alt.replace(['[', ']'], "");
            self.write_visible(&format!("![{alt}]({})", source.trim()));
        } else if !alt.is_empty() {
            self.write_visible(&format!("[image: {alt}]"));
        }
    }

    fn implicitly_closed_count(&self, name: &str) -> usize {
        IMPLICITLY_CLOSED
            .iter()
            .position(|n| *n == name)
            .and_then(|at| self.implicitly_closed_open.get(at))
            .copied()
            .unwrap_or(0)
    }

    fn count_open(&mut self, name: &str, opened: bool) {
        if let Some(count) = IMPLICITLY_CLOSED
            .iter()
            .position(|n| *n == name)
            .and_then(|at| self.implicitly_closed_open.get_mut(at))
        {
            *count = if opened {
                count.saturating_add(1)
            } else {
                count.saturating_sub(1)
            };
        }
    }

    /// Pops the innermost open element, undoing what it did.
    fn pop(&mut self) {
        let Some(element) = self.open.pop() else {
            return;
        };
        self.count_open(&element.name, false);
        if let Some(why) = element.leaves_out {
            self.left_out_from = None;
            if why == LeftOut::Quoted {
                self.block_break(Break::Line);
            }
            return;
        }
        if self.leaving_out() {
            return;
        }
        if let Some((marker, pending_before)) = element.emphasis {
            if self.pending_markup.len() > pending_before {
                self.pending_markup.truncate(pending_before);
            } else {
                self.write_markup(marker);
            }
        }
        if element.link {
            self.close_link();
        }
        if element.preformatted {
            self.preformatted = self.preformatted.saturating_sub(1);
        }
        if element.cell {
            self.cells_open = self.cells_open.saturating_sub(1);
        }
        if element.row {
            self.close_row();
        }
        if element.table {
            self.tables_open = self.tables_open.saturating_sub(1);
            if self.tables_open == 0 {
                self.table = None;
            }
        }
        self.block_break(element.closing_break);
    }

    fn text(&mut self, text: &str) {
        if self.leaving_out() {
            return;
        }
        if self.preformatted > 0 && self.cells_open == 0 {
            for (at, line) in text.split('\n').enumerate() {
                if at > 0 {
                    self.line_break();
                }
                let line = line.trim_end_matches('\r');
                if !line.is_empty() {
                    self.pending_space = false;
                    self.write_visible(line);
                }
            }
            return;
        }
        let mut rest = text;
        while !rest.is_empty() {
            let word_len = rest.find(is_space_like).unwrap_or(rest.len());
            let Some((word, after)) = rest.split_at_checked(word_len) else {
                return;
            };
            if !word.is_empty() {
                self.write_visible(word);
            }
            let spaces_len = after
                .find(|c: char| !is_space_like(c))
                .unwrap_or(after.len());
            let Some((spaces, after)) = after.split_at_checked(spaces_len) else {
                return;
            };
            for c in spaces.chars() {
                match c {
                    // A no-break space keeps an otherwise empty line (Outlook's blank
                    // lines are paragraphs of one), but is whitespace like any other.
                    '\u{a0}' => {
                        self.pending_space = true;
                        self.line_open = true;
                    }
                    ' ' | '\t' | '\n' | '\r' | '\x0c' => self.pending_space = true,
                    // Zero-width characters and the byte order mark Apple Mail leaves in.
                    _ => {}
                }
            }
            rest = after;
        }
    }

    /// Writes visible text, after the space and the markup waiting for it.
    fn write_visible(&mut self, text: &str) {
        if self.pending_space && self.line_has_text {
            self.out.push(' ');
        }
        self.pending_space = false;
        if !self.pending_markup.is_empty() {
            self.out.push_str(&self.pending_markup);
            self.pending_markup.clear();
        }
        if let Some(link) = self.link.as_mut()
            && link.text_start.is_none()
        {
            link.text_start = Some(self.out.len());
        }
        self.out.push_str(text);
        self.line_open = true;
        self.line_has_text = true;
    }

    /// Writes closing markup: no space waits before it, it goes right after the text.
    fn write_markup(&mut self, markup: &str) {
        self.out.push_str(markup);
        self.line_open = true;
        self.line_has_text = true;
    }

    fn line_break(&mut self) {
        if self.cells_open > 0 {
            self.pending_space = true;
            return;
        }
        self.out.push('\n');
        self.line_open = false;
        self.line_has_text = false;
        self.pending_space = false;
    }

    fn block_break(&mut self, kind: Break) {
        if kind == Break::None {
            return;
        }
        if self.cells_open > 0 {
            self.pending_space = true;
            return;
        }
        if self.line_open {
            self.line_break();
        }
        self.pending_space = false;
        if kind == Break::Paragraph && !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(html: &str) -> String {
        render(html, &CleanOptions::default())
    }

    fn markdown(html: &str) -> String {
        let options = CleanOptions {
            html_as_markdown: true,
            ignore_links: false,
            ..CleanOptions::default()
        };
        render(html, &options)
    }

    #[test]
    fn blocks_and_breaks_become_lines() {
        assert_eq!(
            plain("<div>Hi Bob,</div><div><br></div><div>Sounds   good.</div>"),
            "Hi Bob,\n\nSounds good.\n"
        );
        assert_eq!(plain("<p>One</p><p>Two</p>"), "One\n\nTwo\n\n");
        assert_eq!(plain("a<br>b<br/>c"), "a\nb\nc");
    }

    #[test]
    fn outlook_paragraphs_are_lines_and_nbsp_paragraphs_blank_lines() {
        let html = "<p class=MsoNormal>Hi<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p>\
                    <p class=MsoNormal>There<o:p></o:p></p>";
        assert_eq!(plain(html), "Hi\n\nThere\n");
    }

    #[test]
    fn hidden_and_non_text_elements_are_left_out() {
        let html = "<html><head><title>T</title><style>p{color:red}</style></head>\
                    <body><script>alert('x<b>')</script><!-- note -->\
                    <span style='display: none'>preheader</span><div hidden>h</div>Shown\
                    <noscript><b>n</b></noscript></body></html>";
        assert_eq!(plain(html), "Shown");
    }

    #[test]
    fn a_body_closes_a_head_left_open() {
        assert_eq!(plain("<head><title>x</title><body>Text"), "Text");
        assert_eq!(
            plain("New<div class=gmail_quote><html><body>old</body></html></div>"),
            "New\n"
        );
    }

    #[test]
    fn entities_are_decoded() {
        assert_eq!(
            plain("Tom &amp; Jerry &lt;3 &eacute;t&#233; &#x263A;"),
            "Tom & Jerry <3 été ☺"
        );
    }

    #[test]
    fn implied_end_tags_close_like_a_browser() {
        assert_eq!(plain("<ul><li>one<li>two</ul>after"), "one\ntwo\nafter");
        assert_eq!(
            markdown("<ol start=3><li>three<li>four</ol>"),
            "3. three\n4. four\n"
        );
        assert_eq!(markdown("<ul><li>a<ul><li>b</ul></ul>"), "- a\n  - b\n");
    }

    #[test]
    fn links_per_option() {
        let html = "See <a href='https://example.com/x'>the page</a> or \
                    <a href='mailto:a@example.com'>a@example.com</a>.";
        assert_eq!(plain(html), "See the page or a@example.com.");
        assert_eq!(
            markdown(html),
            "See [the page](https://example.com/x) or [a@example.com](mailto:a@example.com)."
        );
        let kept = CleanOptions {
            ignore_links: false,
            ..CleanOptions::default()
        };
        assert_eq!(
            render(html, &kept),
            "See the page <https://example.com/x> or a@example.com."
        );
    }

    #[test]
    fn emphasis_hugs_its_text() {
        assert_eq!(markdown("<b>From: </b>Ann <i></i>x"), "**From:** Ann x");
    }

    #[test]
    fn images_per_option() {
        let html = "<img src='cid:logo' alt='Logo'> text <img src='https://t.example/p.gif' width=1 height=1>";
        assert_eq!(plain(html), "text");
        let as_alt = CleanOptions {
            ignore_images: false,
            ..CleanOptions::default()
        };
        assert_eq!(render(html, &as_alt), "[image: Logo] text");
        let as_markdown = CleanOptions {
            ignore_images: false,
            images_as_markdown: true,
            ..CleanOptions::default()
        };
        assert_eq!(render(html, &as_markdown), "![Logo](cid:logo) text");
    }

    #[test]
    fn tables_per_option() {
        let html =
            "<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Pens</td><td>3</td></tr></table>";
        assert_eq!(plain(html), "Item\nQty\nPens\n3\n");
        let kept = CleanOptions {
            ignore_tables: false,
            ..CleanOptions::default()
        };
        assert_eq!(render(html, &kept), "Item | Qty\nPens | 3\n\n");
        let kept_markdown = CleanOptions {
            ignore_tables: false,
            html_as_markdown: true,
            ..CleanOptions::default()
        };
        assert_eq!(
            render(html, &kept_markdown),
            "| Item | Qty |\n| --- | --- |\n| Pens | 3 |\n\n"
        );
    }

    #[test]
    fn quoted_messages_are_left_out_and_outlook_headers_end_the_message() {
        assert_eq!(
            plain("New<div class=\"gmail_quote\">On … wrote:<blockquote>old</blockquote></div>"),
            "New\n"
        );
        assert_eq!(
            plain("New<blockquote type=cite>old</blockquote>more"),
            "New\nmore"
        );
        assert_eq!(
            plain("New<div id=appendonsend></div><hr><div id=divRplyFwdMsg>From: x</div>old"),
            "New"
        );
        assert_eq!(
            plain("New<div style=\"border:none;border-top:solid #E1E1E1 1.0pt\">From: x</div>old"),
            "New"
        );
    }

    #[test]
    fn deep_nesting_and_unterminated_markup_are_bounded() {
        let deep = format!(
            "{}deep{}",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        assert_eq!(plain(&deep).trim(), "deep");
        let hidden_deep = format!(
            "<div style='display:none'>{}x{}</div>shown",
            "<span>".repeat(1000),
            "</span>".repeat(1000)
        );
        assert_eq!(plain(&hidden_deep), "shown");
        assert_eq!(plain("text <div class=\"gmail_quote"), "text");
        assert_eq!(plain("<b>bold <i>both"), "bold both");
    }
}
