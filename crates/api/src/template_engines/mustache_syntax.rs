//! The two pieces of Mustache syntax (which Handlebars.js reads too) that the handlebars
//! crate does not: inverted sections, `{{^name}}…{{/name}}`, and the implicit iterator
//! `{{.}}`. Before compiling, `{{^name}}` becomes `{{#name}}{{else}}` (the section
//! helper renders its inverse when `name` is false or empty; `sections`) and `{{.}}`
//! becomes `{{this}}`. Comments, raw blocks and escaped tags are left as they are.

use std::borrow::Cow;

/// `source` with inverted sections and implicit iterators in the handlebars crate's
/// syntax; borrowed when there is nothing to change.
pub fn adapt(source: &str) -> Cow<'_, str> {
    if !source.contains("{{") {
        return Cow::Borrowed(source);
    }
    let mut adapted = String::with_capacity(source.len() + 16);
    let mut rest = source;
    let mut changed = false;
    while let Some(at) = rest.find(['\\', '{']) {
        let (text, tail) = rest.split_at(at);
        adapted.push_str(text);
        let taken = if tail.starts_with('\\') {
            escaped(tail)
        } else if tail.starts_with("{{{{") {
            raw_block(tail)
        } else if tail.starts_with("{{!--") {
            until_after(tail, "--}}").or_else(|| until_after(tail, "}}"))
        } else if tail.starts_with("{{!") {
            until_after(tail, "}}")
        } else if tail.starts_with("{{") {
            match rewrite(tail) {
                Some((replacement, length)) => {
                    adapted.push_str(&replacement);
                    changed = true;
                    rest = &tail[length..];
                    continue;
                }
                None => Some(2),
            }
        } else {
            Some(1)
        };
        let length = taken.unwrap_or(tail.len()).max(1).min(tail.len());
        let length = char_boundary(tail, length);
        adapted.push_str(&tail[..length]);
        rest = &tail[length..];
    }
    adapted.push_str(rest);
    if changed {
        Cow::Owned(adapted)
    } else {
        Cow::Borrowed(source)
    }
}

/// At a backslash: one backslash before `{{` escapes the tag (kept as text, with a
/// following `{{` of a raw block); several stand before a real tag, which is read next.
fn escaped(tail: &str) -> Option<usize> {
    let slashes = tail.bytes().take_while(|b| *b == b'\\').count();
    let after = &tail[slashes..];
    match (slashes, after.starts_with("{{")) {
        (1, true) if after.starts_with("{{{{") => Some(5),
        (1, true) => Some(3),
        _ => Some(slashes),
    }
}

/// A raw block, `{{{{name}}}}…{{{{/name}}}}`, kept whole.
fn raw_block(tail: &str) -> Option<usize> {
    let opened = until_after(tail, "}}}}")?;
    let close = tail[opened..].find("{{{{/")? + opened;
    until_after(&tail[close..], "}}}}").map(|end| close + end)
}

fn until_after(tail: &str, end: &str) -> Option<usize> {
    tail.get(2..)?.find(end).map(|at| at + 2 + end.len())
}

fn char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// The replacement of the tag `tail` opens with and the tag's length, if it is an
/// inverted section's opening or an implicit iterator.
fn rewrite(tail: &str) -> Option<(String, usize)> {
    let (open, close) = if tail.starts_with("{{{") {
        ("{{{", "}}}")
    } else {
        ("{{", "}}")
    };
    let end = tail[open.len()..].find(close)? + open.len();
    let inner = &tail[open.len()..end];
    let length = end + close.len();
    let (lead, inner) = match inner.strip_prefix('~') {
        Some(inner) => ("~", inner),
        None => ("", inner),
    };
    let (inner, trail) = match inner.strip_suffix('~') {
        Some(inner) => (inner, "~"),
        None => (inner, ""),
    };
    let word = inner.trim();
    if word == "." {
        return Some((format!("{open}{lead}this{trail}{close}"), length));
    }
    if open == "{{" && word.strip_prefix('&').is_some_and(|w| w.trim() == ".") {
        return Some((format!("{{{{{lead}&this{trail}}}}}"), length));
    }
    let name = word.strip_prefix('^')?.trim();
    if open != "{{" || name.is_empty() || name == "else" || !name.bytes().all(is_path_byte) {
        return None;
    }
    Some((format!("{{{{{lead}#{name}{trail}}}}}{{{{else}}}}"), length))
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'$' | b':' | b'@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverted_sections_become_sections_with_only_an_inverse() {
        assert_eq!(
            adapt("{{^items}}none{{/items}}"),
            "{{#items}}{{else}}none{{/items}}"
        );
        assert_eq!(
            adapt("{{~^ user.vip ~}}x{{/user.vip}}"),
            "{{~#user.vip~}}{{else}}x{{/user.vip}}"
        );
    }

    #[test]
    fn implicit_iterators_become_this() {
        assert_eq!(
            adapt("{{#names}}{{.}}, {{{.}}} {{& .}}{{/names}}"),
            "{{#names}}{{this}}, {{{this}}} {{&this}}{{/names}}"
        );
    }

    #[test]
    fn else_comments_raw_blocks_and_escapes_are_left_alone() {
        for source in [
            "{{#if a}}x{{^}}y{{/if}}",
            "{{! {{^a}} }}",
            "{{!-- {{^a}} {{.}} --}}",
            "{{{{raw}}}} {{^a}} {{{{/raw}}}}",
            "\\{{^a}}",
            "a.b {{x.y}} {{^a b}}",
            "é.{{ü}}",
        ] {
            assert!(
                matches!(adapt(source), Cow::Borrowed(_)),
                "{source} changed to {}",
                adapt(source)
            );
        }
        assert_eq!(adapt("\\\\{{^a}}x{{/a}}"), "\\\\{{#a}}{{else}}x{{/a}}");
    }
}
