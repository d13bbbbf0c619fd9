//! Bounces that carry no delivery-status part, only text for people, in the forms the
//! common mail systems write: Postfix, qmail, Exim, Gmail and Microsoft Exchange /
//! Outlook. Each form is recognised by its own opening words; the failed recipients and
//! their reasons are read from the lines that follow.

use super::classify::{self, Status};
use super::{BounceKind, BouncedRecipient, MAX_RECIPIENTS};

/// Longest address taken (RFC 5321 §4.5.3.1: 64 + 1 + 255).
const MAX_ADDRESS_BYTES: usize = 320;
/// Bytes of returned headers read for the original's Message-ID and Subject.
const MAX_RETURNED_HEADERS: usize = 64 * 1024;

/// A form's reader: the whole text and its lines, to the recipients it reports.
type Form = fn(&str, &[&str]) -> Vec<BouncedRecipient>;

/// The failed recipients the text reports, in the first form it is written in.
pub(super) fn recipients(text: &str) -> Vec<BouncedRecipient> {
    let lines: Vec<&str> = text.lines().collect();
    let forms: [Form; 5] = [postfix, qmail, exim, gmail, exchange];
    for form in forms {
        let mut found = form(text, &lines);
        if !found.is_empty() {
            found.truncate(MAX_RECIPIENTS);
            return found;
        }
    }
    Vec::new()
}

/// Where a copy of the bounced message's headers starts in the text, after the line
/// each form introduces it with.
pub(super) fn returned_headers(text: &str) -> Option<&[u8]> {
    const INTRODUCTIONS: &[&str] = &[
        "--- Below this line is a copy of the message.",
        "------ This is a copy of the message, including all the headers. ------",
        "------ This is a copy of the message's headers. ------",
        "----- Original message -----",
        "Original message headers:",
        "----- Original message headers -----",
    ];
    let start = INTRODUCTIONS.iter().find_map(|intro| {
        let at = text.find(intro)?;
        Some(at + intro.len())
    })?;
    let rest = text.get(start..)?.trim_start();
    let bytes = rest.as_bytes();
    Some(bytes.get(..MAX_RETURNED_HEADERS).unwrap_or(bytes))
}

/// An address written in text: without angle brackets, quotes or trailing punctuation,
/// in lower case; None unless it looks like local@domain.
fn address_in(word: &str) -> Option<String> {
    let word = word
        .trim()
        .trim_start_matches(['<', '(', '"', '\''])
        .trim_end_matches(['>', ')', '"', '\'', ':', ',', '.', ';']);
    let (local, domain) = word.split_once('@')?;
    let valid = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && word.len() <= MAX_ADDRESS_BYTES
        && !word.contains(|c: char| c.is_whitespace() || "<>()[],;\"".contains(c));
    valid.then(|| word.to_lowercase())
}

/// Where `needle` (ASCII, lower case) starts in `haystack`, ignoring ASCII case.
fn find_ignoring_case(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A recipient from what the text says about it. `delayed` says the report is a
/// warning; `kind_hint` is what the form's heading tells when the reason does not.
fn failure(
    address: String,
    reason: &str,
    delayed: bool,
    kind_hint: Option<BounceKind>,
) -> BouncedRecipient {
    let reason = classify::clean_diagnostic(&collapse(reason));
    let status = Status::find(&reason);
    let code = classify::reply_code(&reason);
    let permanent = !delayed
        && status.map_or_else(
            || code.as_deref().is_none_or(|c| c.starts_with('5')),
            Status::is_permanent,
        );
    let kind = match classify::kind(&[status], &reason) {
        BounceKind::Other => kind_hint.unwrap_or(BounceKind::Other),
        kind => kind,
    };
    BouncedRecipient {
        address,
        status: status.map(|s| s.to_string()),
        code,
        reason,
        permanent,
        kind,
    }
}

fn indented(line: &str) -> bool {
    line.starts_with([' ', '\t'])
}

fn line_index(lines: &[&str], contains: &str) -> Option<usize> {
    lines.iter().position(|line| line.contains(contains))
}

/// Postfix's bounce (its `bounce` daemon's text): "This is the mail system at host …",
/// then one entry per recipient, "<addr>: what happened", continued on indented lines.
fn postfix(text: &str, lines: &[&str]) -> Vec<BouncedRecipient> {
    let Some(start) = line_index(lines, "This is the mail system at host") else {
        return Vec::new();
    };
    let delayed = text.contains("THIS IS A WARNING ONLY");
    let mut found = Vec::new();
    let mut at = start + 1;
    while let Some(line) = lines.get(at) {
        at += 1;
        let Some((head, rest)) = line.strip_prefix('<').and_then(|line| line.split_once(">"))
        else {
            continue;
        };
        let Some(address) = address_in(head) else {
            continue;
        };
        // "<alias> (expanded from <list>): …"
        let Some((_, said)) = rest.split_once(": ") else {
            continue;
        };
        let mut entry = said.to_owned();
        while let Some(next) = lines
            .get(at)
            .filter(|l| indented(l) && !l.trim().is_empty())
        {
            entry.push(' ');
            entry.push_str(next.trim());
            at += 1;
        }
        let entry = collapse(&entry);
        let reason = match entry.split_once(" said: ") {
            Some((_, reply)) => match reply.rfind(" (in reply to ") {
                Some(end) => reply.get(..end).unwrap_or(reply),
                None => reply,
            },
            None => &entry,
        };
        found.push(failure(address, reason, delayed, None));
        if found.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    found
}

/// qmail's bounce: "Hi. This is the qmail-send program at …", then per recipient a line
/// "<addr>:" and its reason up to a blank line.
fn qmail(_text: &str, lines: &[&str]) -> Vec<BouncedRecipient> {
    let Some(start) = line_index(lines, "This is the qmail-send program") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut at = start + 1;
    while let Some(line) = lines.get(at) {
        at += 1;
        if line.starts_with("--- Below this line is a copy of the message") {
            break;
        }
        let trimmed = line.trim();
        if !(trimmed.starts_with('<') && trimmed.ends_with(">:")) {
            continue;
        }
        let Some(address) = address_in(trimmed) else {
            continue;
        };
        let mut entry = String::new();
        while let Some(next) = lines.get(at).filter(|l| !l.trim().is_empty()) {
            entry.push(' ');
            entry.push_str(next.trim());
            at += 1;
        }
        let entry = collapse(&entry);
        let reason = match entry.split_once("Remote host said: ") {
            Some((_, reply)) => match reply.find(" Giving up on ") {
                Some(end) => reply.get(..end).unwrap_or(reply),
                None => reply,
            },
            None => &entry,
        };
        found.push(failure(address, reason, false, None));
        if found.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    found
}

/// Exim's bounce: "This message was created automatically by mail delivery software."
/// and a list of the addresses that failed (or, in a delay warning, have not yet been
/// delivered), each indented by two spaces with its reason indented further.
fn exim(text: &str, lines: &[&str]) -> Vec<BouncedRecipient> {
    if !text.contains("This message was created automatically by mail delivery software") {
        return Vec::new();
    }
    let failed = line_index(lines, "The following address(es) failed:");
    // "The address(es) to which the message has not yet been delivered is (are):"
    let delayed_list = lines
        .iter()
        .position(|line| line.contains("not yet been delivered") && line.trim_end().ends_with(':'));
    let (Some(start), delayed) = (failed.or(delayed_list), failed.is_none()) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut at = start + 1;
    while let Some(line) = lines.get(at) {
        if line.trim().is_empty() {
            at += 1;
            continue;
        }
        if !indented(line) || line.trim_start().starts_with("------") {
            break;
        }
        at += 1;
        let depth = line.len() - line.trim_start().len();
        let Some(address) = line.split_whitespace().next().and_then(address_in) else {
            continue;
        };
        let mut entry = String::new();
        while let Some(next) = lines
            .get(at)
            .filter(|l| !l.trim().is_empty() && l.len() - l.trim_start().len() > depth)
        {
            entry.push(' ');
            entry.push_str(next.trim());
            at += 1;
        }
        let entry = collapse(&entry);
        let entry = entry
            .strip_prefix("Delay reason: ")
            .unwrap_or(entry.as_str());
        // The remote server's reply, when it gave one, is the reason.
        let reason = smtp_reply(entry).unwrap_or(entry);
        found.push(failure(address, reason, delayed, None));
        if found.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    found
}

/// The text from the first SMTP reply code on ("… after RCPT TO:<a@b>: 550 5.1.1 …").
fn smtp_reply(text: &str) -> Option<&str> {
    let mut offset = 0;
    for word in text.split(' ') {
        if classify::reply_code(word).is_some() {
            return text.get(offset..);
        }
        offset += word.len() + 1;
    }
    None
}

/// Gmail's text form: a heading ("** Address not found **") and a sentence naming the
/// recipient ("Your message wasn't delivered to bob@example.net because …"), then the
/// remote server's response.
fn gmail(text: &str, lines: &[&str]) -> Vec<BouncedRecipient> {
    const SENTENCES: &[(&str, bool)] = &[
        ("Your message wasn't delivered to ", false),
        ("Your message wasn’t delivered to ", false),
        (
            "There was a temporary problem delivering your message to ",
            true,
        ),
        ("There was a problem delivering your message to ", false),
        ("Your message to ", false),
    ];
    let collapsed = collapse(text);
    let heading = |h: &str| collapsed.contains(h);
    let kind_hint = if heading("Domain not found") {
        Some(BounceKind::DomainNotFound)
    } else if heading("Address not found") {
        Some(BounceKind::MailboxUnavailable)
    } else if heading("Message blocked") || heading("has been blocked") {
        Some(BounceKind::Rejected)
    } else {
        None
    };
    let response = gmail_response(lines);
    let mut found: Vec<BouncedRecipient> = Vec::new();
    for (sentence, delayed) in SENTENCES {
        let mut rest = collapsed.as_str();
        while let Some(at) = rest.find(sentence) {
            let after = rest.get(at + sentence.len()..).unwrap_or_default();
            rest = after;
            let Some(address) = after.split(' ').next().and_then(address_in) else {
                continue;
            };
            if found.iter().any(|r| r.address == address) {
                continue;
            }
            let own_sentence = after.split(". ").next().unwrap_or(after);
            let reason = response.as_deref().unwrap_or(own_sentence);
            let delayed = *delayed || heading("Delivery incomplete");
            found.push(failure(address, reason, delayed, kind_hint));
            if found.len() >= MAX_RECIPIENTS {
                return found;
            }
        }
        if !found.is_empty() {
            break;
        }
    }
    // "Your message to …" is also how Exchange starts; Gmail's form has its heading.
    if kind_hint.is_none() && !collapsed.contains("** ") {
        return Vec::new();
    }
    found
}

/// The paragraph after "The response from the remote server was:" (or "The response
/// was:").
fn gmail_response(lines: &[&str]) -> Option<String> {
    let start = lines.iter().position(|line| {
        let line = line.trim();
        line == "The response from the remote server was:" || line == "The response was:"
    })?;
    let paragraph: Vec<&str> = lines
        .iter()
        .skip(start + 1)
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .copied()
        .collect();
    (!paragraph.is_empty()).then(|| paragraph.join(" "))
}

/// Microsoft Exchange and Outlook.com: "Delivery has failed to these recipients or
/// groups:" or "Your message to addr couldn't be delivered.", with the reasons in the
/// "Diagnostic information for administrators:" section ("addr" then "Remote Server
/// returned '550 5.1.1 …'", or "#550 5.1.1 … ##").
fn exchange(text: &str, lines: &[&str]) -> Vec<BouncedRecipient> {
    let delayed = text.contains("Delivery is delayed to these recipients or groups");
    let recognised = delayed
        || text.contains("Delivery has failed to these recipients or groups")
        || (text.contains("Your message to ") && text.contains("couldn't be delivered"))
        || text.contains("Diagnostic information for administrators");
    if !recognised {
        return Vec::new();
    }
    let diagnosed = exchange_diagnostics(lines, delayed);
    if !diagnosed.is_empty() {
        return diagnosed;
    }
    // No diagnostic section: the addresses and sentences of the text for people.
    let collapsed = collapse(text);
    let mut found: Vec<BouncedRecipient> = Vec::new();
    let mut rest = collapsed.as_str();
    while let Some(at) = rest.find("Your message to ") {
        let after = rest
            .get(at + "Your message to ".len()..)
            .unwrap_or_default();
        rest = after;
        let Some(address) = after.split(' ').next().and_then(address_in) else {
            continue;
        };
        if found.iter().any(|r| r.address == address) {
            continue;
        }
        // "… couldn't be delivered. bob wasn't found at example.net."
        let explanation = after
            .split_once(". ")
            .map(|(_, next)| next.split(". ").next().unwrap_or(next))
            .unwrap_or(after);
        found.push(failure(address, explanation, delayed, None));
        if found.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    if found.is_empty()
        && let Some(start) = line_index(lines, "these recipients or groups:")
    {
        found = exchange_listed(lines, start, delayed);
    }
    found
}

/// The "Diagnostic information for administrators:" section, up to the original's
/// headers.
fn exchange_diagnostics(lines: &[&str], delayed: bool) -> Vec<BouncedRecipient> {
    let Some(start) = line_index(lines, "Diagnostic information for administrators") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut at = start + 1;
    while let Some(line) = lines.get(at) {
        at += 1;
        let trimmed = line.trim();
        if trimmed.starts_with("Original message headers") {
            break;
        }
        // The recipient alone on its line, its reply under it.
        let Some(address) = Some(trimmed)
            .filter(|t| !t.contains(char::is_whitespace))
            .and_then(address_in)
        else {
            continue;
        };
        let Some(reason) = lines
            .iter()
            .skip(at)
            .take(4)
            .map(|l| l.trim())
            .find_map(exchange_reason)
        else {
            continue;
        };
        found.push(failure(address, &reason, delayed, None));
        if found.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    found
}

/// The reply in an Exchange diagnostic line: "Remote Server returned '…'" (older
/// versions wrap it as "'< #5.0.0 smtp; 550 … >'"), or "#550 5.1.1 … ##".
fn exchange_reason(line: &str) -> Option<String> {
    const RETURNED: &str = "remote server returned '";
    if let Some(quoted) =
        find_ignoring_case(line, RETURNED).and_then(|at| line.get(at + RETURNED.len()..))
    {
        let inner = quoted.rsplit_once('\'').map_or(quoted, |(inner, _)| inner);
        let inner = inner
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim();
        let inner = inner.split_once("smtp;").map_or(inner, |(_, reply)| reply);
        return Some(inner.trim().to_owned());
    }
    let hashed = line.strip_prefix('#')?;
    let hashed = hashed.trim_end_matches('#').trim();
    // "#< #5.0.0 smtp; 550 … > #SMTP#" is the older form of the same.
    let hashed = hashed
        .split_once("smtp;")
        .map_or(hashed, |(_, reply)| reply);
    let hashed = hashed.split(" #SMTP").next().unwrap_or(hashed);
    let hashed = hashed.trim().trim_end_matches('>').trim();
    (!hashed.is_empty()).then(|| hashed.to_owned())
}

/// The recipients listed under "Delivery has failed to these recipients or groups:",
/// as "addr" or "Name (addr)", each with the paragraph under it.
fn exchange_listed(lines: &[&str], start: usize, delayed: bool) -> Vec<BouncedRecipient> {
    let mut found = Vec::new();
    let mut at = start + 1;
    while let Some(line) = lines.get(at) {
        at += 1;
        let trimmed = line.trim();
        if trimmed.starts_with("Diagnostic information") || trimmed.starts_with("Original message")
        {
            break;
        }
        let candidate = match (trimmed.rfind('('), trimmed.ends_with(')')) {
            (Some(open), true) => trimmed.get(open..).unwrap_or(trimmed),
            _ => trimmed,
        };
        if candidate.contains(' ') {
            continue;
        }
        let Some(address) = address_in(candidate) else {
            continue;
        };
        let explanation: Vec<&str> = lines
            .iter()
            .skip(at)
            .take_while(|l| !l.trim().is_empty())
            .copied()
            .collect();
        let reason = if explanation.is_empty() {
            "Delivery has failed".to_owned()
        } else {
            explanation.join(" ")
        };
        found.push(failure(address, &reason, delayed, None));
        if found.len() >= MAX_RECIPIENTS {
            break;
        }
    }
    found
}
