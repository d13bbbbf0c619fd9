//! The new part of a message's text, line by line: quoted lines (`>`), reply
//! attributions ("On … wrote:" and its translations), the header blocks and markers
//! that start a quoted or forwarded message, the signature after the RFC 3676 §4.3
//! delimiter, and the signatures phones add.

/// Lines longer than this are text, never a marker; they are not looked at further.
const MAX_MARKER_LINE: usize = 400;
/// Lines an attribution may be wrapped over ("On …, Ann <ann@example.com>\nwrote:").
const MAX_ATTRIBUTION_LINES: usize = 3;
/// Lines after a "From:" line looked at for the rest of a reply header block.
const HEADER_BLOCK_LINES: usize = 6;

/// How a reply attribution reads in a language: it starts with `opening`, and names the
/// writer with `verb` (at its end where `verb_ends` is set). All end with a colon.
struct AttributionForm {
    opening: &'static str,
    verb: &'static str,
    verb_ends: bool,
}

const ATTRIBUTION_FORMS: &[AttributionForm] = &[
    // "On Tue, 3 Dec 2024 at 10:00, Ann <ann@example.com> wrote:"
    AttributionForm {
        opening: "on ",
        verb: "wrote:",
        verb_ends: true,
    },
    // "Am Di., 3. Dez. 2024 um 10:00 Uhr schrieb Ann <ann@example.com>:"
    AttributionForm {
        opening: "am ",
        verb: " schrieb ",
        verb_ends: false,
    },
    // "Le mar. 3 déc. 2024 à 10:00, Ann <ann@example.com> a écrit :"
    AttributionForm {
        opening: "le ",
        verb: "a écrit:",
        verb_ends: true,
    },
    // "El mar, 3 dic 2024 a las 10:00, Ann (<ann@example.com>) escribió:"
    AttributionForm {
        opening: "el ",
        verb: "escribió:",
        verb_ends: true,
    },
    // "Op di 3 dec. 2024 om 10:00 schreef Ann <ann@example.com>:"
    AttributionForm {
        opening: "op ",
        verb: " schreef ",
        verb_ends: false,
    },
    // "Il giorno mar 3 dic 2024 alle ore 10:00 Ann <ann@example.com> ha scritto:"
    AttributionForm {
        opening: "il ",
        verb: "ha scritto:",
        verb_ends: true,
    },
    // "Em ter., 3 de dez. de 2024 às 10:00, Ann <ann@example.com> escreveu:"
    AttributionForm {
        opening: "em ",
        verb: "escreveu:",
        verb_ends: true,
    },
    // "Den tis 3 dec. 2024 kl 10:00 skrev Ann <ann@example.com>:"
    AttributionForm {
        opening: "den ",
        verb: " skrev ",
        verb_ends: false,
    },
];

/// Lines (between dashes) that start an earlier or a forwarded message.
const DASHED_MARKERS: &[&str] = &[
    "original message",
    "ursprüngliche nachricht",
    "originalnachricht",
    "message d'origine",
    "mensaje original",
    "messaggio originale",
    "mensagem original",
    "oorspronkelijk bericht",
    "forwarded message",
    "weitergeleitete nachricht",
    "message transféré",
    "mensaje reenviado",
    "messaggio inoltrato",
    "mensagem encaminhada",
    "doorgestuurd bericht",
];

/// Whole lines that start a forwarded message (Apple Mail's form).
const FORWARD_LINES: &[&str] = &[
    "begin forwarded message:",
    "anfang der weitergeleiteten nachricht:",
    "début du message réexpédié:",
    "inicio del mensaje reenviado:",
];

/// Labels of a reply header block, as Outlook writes it in its languages.
const FROM_LABELS: &[&str] = &["from", "von", "de", "van", "da", "från", "fra", "od"];
const SENT_LABELS: &[&str] = &[
    "sent",
    "date",
    "gesendet",
    "datum",
    "envoyé",
    "enviado",
    "fecha",
    "verzonden",
    "inviato",
    "data",
    "skickat",
    "sendt",
];
const TO_LABELS: &[&str] = &["to", "an", "à", "a", "para", "aan", "till", "til", "do"];
const SUBJECT_LABELS: &[&str] = &[
    "subject",
    "betreff",
    "objet",
    "asunto",
    "onderwerp",
    "oggetto",
    "assunto",
    "ämne",
    "emne",
    "temat",
];

/// Lines phones and mail apps add as the whole signature.
const DEVICE_SIGNATURES: &[&str] = &[
    "sent from my iphone",
    "sent from my ipad",
    "sent from my android",
    "sent from my samsung",
    "sent from my galaxy",
    "sent from my mobile",
    "sent from my phone",
    "sent from my smartphone",
    "sent from my blackberry",
    "sent from mail for windows",
    "sent from outlook",
    "sent from yahoo mail",
    "sent from proton mail",
    "get outlook for ios",
    "get outlook for android",
    "von meinem iphone gesendet",
    "von meinem ipad gesendet",
    "envoyé de mon iphone",
    "enviado desde mi iphone",
    "verstuurd vanaf mijn iphone",
    "inviato da iphone",
];

/// The lines of `text` that are the new message, in order: everything from the first
/// marker of an earlier message on is dropped, quoted lines and device signatures are
/// dropped wherever they are (so that answers between quotes stay).
pub(super) fn new_part(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    let mut at = 0;
    while let Some(&line) = lines.get(at) {
        if is_quoted(line) {
            at += 1;
            continue;
        }
        let Some(key) = could_be_marker(line).then(|| marker_key(line)).flatten() else {
            kept.push(line);
            at += 1;
            continue;
        };
        if let Some(spanned) = attribution_at(&lines, at) {
            let next = lines
                .iter()
                .skip(at + spanned)
                .find(|l| !l.trim().is_empty());
            if next.is_some_and(|l| is_quoted(l)) {
                // Only its quote follows: drop the attribution, keep what answers it.
                at += spanned;
                continue;
            }
            break;
        }
        if is_signature_delimiter(line)
            || starts_earlier_message(&key)
            || is_header_block(&lines, at)
        {
            break;
        }
        if !is_device_signature(&key) {
            kept.push(line);
        }
        at += 1;
    }
    kept
}

/// First words a marker line can start with: the attribution openings, the "From:"
/// labels, and the first words of the forward lines and device signatures.
const MARKER_FIRST_WORDS: &[&str] = &[
    "on",
    "am",
    "le",
    "el",
    "op",
    "il",
    "em",
    "den",
    "from",
    "von",
    "de",
    "van",
    "da",
    "från",
    "fra",
    "od",
    "begin",
    "anfang",
    "début",
    "inicio",
    "sent",
    "get",
    "envoyé",
    "enviado",
    "verstuurd",
    "inviato",
];

/// A cheap look at the line's first word, so that most lines are never lower-cased.
fn could_be_marker(line: &str) -> bool {
    let line = line.trim_start().trim_start_matches(['*', '[']);
    if line.starts_with("--") {
        return true;
    }
    let first = line
        .split(|c: char| c.is_whitespace() || c == ':' || c == '*' || c == ']')
        .next()
        .unwrap_or_default();
    MARKER_FIRST_WORDS
        .iter()
        .any(|word| first.eq_ignore_ascii_case(word))
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// A short line as markers are matched: lower case, trimmed, without Markdown emphasis
/// and link brackets, no-break spaces as spaces and no space before a colon (French
/// typography). None for lines too long to be a marker.
fn marker_key(line: &str) -> Option<String> {
    if line.len() > MAX_MARKER_LINE {
        return None;
    }
    let mut key = String::with_capacity(line.len());
    for c in line.trim().chars() {
        match c {
            '*' | '[' | ']' => {}
            '\u{a0}' | '\u{202f}' | '\t' => key.push(' '),
            ':' => {
                while key.ends_with(' ') {
                    key.pop();
                }
                key.push(':');
            }
            other => key.extend(other.to_lowercase()),
        }
    }
    Some(key)
}

/// How many lines the reply attribution starting at `at` spans, if one does.
fn attribution_at(lines: &[&str], at: usize) -> Option<usize> {
    let mut joined = String::new();
    for spanned in 1..=MAX_ATTRIBUTION_LINES {
        let line = lines.get(at + spanned - 1)?;
        if line.trim().is_empty() {
            return None;
        }
        let key = marker_key(line)?;
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(&key);
        if joined.len() > MAX_MARKER_LINE {
            return None;
        }
        if is_attribution(&joined) {
            return Some(spanned);
        }
        if spanned == 1 && !ATTRIBUTION_FORMS.iter().any(|f| key.starts_with(f.opening)) {
            return None;
        }
    }
    None
}

fn is_attribution(key: &str) -> bool {
    // A date or a time is always in it; it tells an attribution from a sentence.
    if !key.ends_with(':') || !key.bytes().any(|b| b.is_ascii_digit()) {
        return false;
    }
    ATTRIBUTION_FORMS.iter().any(|form| {
        key.starts_with(form.opening)
            && if form.verb_ends {
                key.ends_with(form.verb)
            } else {
                key.contains(form.verb)
            }
    })
}

/// The RFC 3676 §4.3 signature delimiter, "-- " alone on its line; the space is often
/// lost on the way, so "--" counts too.
fn is_signature_delimiter(line: &str) -> bool {
    line.trim_end() == "--"
}

fn starts_earlier_message(key: &str) -> bool {
    if FORWARD_LINES.contains(&key) {
        return true;
    }
    if !key.starts_with("--") {
        return false;
    }
    let inner = key.trim_matches(|c: char| c == '-' || c.is_whitespace());
    DASHED_MARKERS.contains(&inner)
}

fn label_of(key: &str) -> Option<&str> {
    let (label, _) = key.split_once(':')?;
    Some(label.trim())
}

/// "From: …" followed by at least two of "Sent:"/"Date:", "To:" and "Subject:": the
/// header of a message replied to or forwarded, as Outlook writes it.
fn is_header_block(lines: &[&str], at: usize) -> bool {
    let starts = lines
        .get(at)
        .and_then(|line| marker_key(line))
        .is_some_and(|key| label_of(&key).is_some_and(|label| FROM_LABELS.contains(&label)));
    if !starts {
        return false;
    }
    let mut seen = [false; 3];
    for line in lines.iter().skip(at + 1).take(HEADER_BLOCK_LINES) {
        let Some(key) = marker_key(line) else {
            continue;
        };
        let Some(label) = label_of(&key) else {
            continue;
        };
        for (kind, labels) in [SENT_LABELS, TO_LABELS, SUBJECT_LABELS].iter().enumerate() {
            if labels.contains(&label)
                && let Some(seen) = seen.get_mut(kind)
            {
                *seen = true;
            }
        }
    }
    seen.iter().filter(|&&s| s).count() >= 2
}

fn is_device_signature(key: &str) -> bool {
    DEVICE_SIGNATURES
        .iter()
        .any(|signature| key.starts_with(signature))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(text: &str) -> String {
        new_part(text).join("\n")
    }

    #[test]
    fn attributions_in_several_languages_cut_the_message() {
        for attribution in [
            "On Tue, 3 Dec 2024 at 10:00, Ann <ann@example.com> wrote:",
            "Am Di., 3. Dez. 2024 um 10:00 Uhr schrieb Ann <ann@example.com>:",
            "Le mar. 3 déc. 2024 à 10:00, Ann <ann@example.com> a écrit :",
            "El mar, 3 dic 2024 a las 10:00, Ann (<ann@example.com>) escribió:",
            "Op di 3 dec. 2024 om 10:00 schreef Ann <ann@example.com>:",
        ] {
            let text = format!("New text\n\n{attribution}\nOld text\n");
            assert_eq!(kept(&text), "New text\n", "{attribution}");
        }
    }

    #[test]
    fn a_wrapped_attribution_is_found() {
        let text = "New\n\nOn Tue, Dec 3, 2024 at 10:00 AM Ann Smith <\nann@example.com> wrote:\n\n> old\n";
        assert_eq!(kept(text), "New\n\n");
    }

    #[test]
    fn answers_between_quotes_are_kept() {
        let text =
            "On Tue, Dec 3, 2024 at 10:00 AM Ann wrote:\n> Lunch?\nYes.\n> Where?\nThe bistro.\n";
        assert_eq!(kept(text), "Yes.\nThe bistro.");
    }

    #[test]
    fn sentences_that_look_like_attributions_are_kept() {
        let text = "On the whole I wrote:\nOn Monday we meet.\nAm Ende schrieb er nichts.";
        assert_eq!(kept(text), text);
    }

    #[test]
    fn outlook_header_blocks_cut_in_english_and_german() {
        let english = "Sure.\n\nFrom: Bob <bob@example.com>\nSent: Tuesday, December 3, 2024 10:00 AM\nTo: Ann\nSubject: Lunch\n\nOld";
        assert_eq!(kept(english), "Sure.\n");
        let german = "Gern.\n\nVon: Bob <bob@example.com>\nGesendet: Dienstag, 3. Dezember 2024 10:00\nAn: Ann\nBetreff: Mittagessen\n\nAlt";
        assert_eq!(kept(german), "Gern.\n");
        let not_a_header = "From: the team\nWe ship on Friday.";
        assert_eq!(kept(not_a_header), not_a_header);
    }

    #[test]
    fn markers_signatures_and_devices() {
        assert_eq!(kept("New\n-----Original Message-----\nOld"), "New");
        assert_eq!(
            kept("New\n---------- Forwarded message ---------\nOld"),
            "New"
        );
        assert_eq!(kept("New\nBegin forwarded message:\nOld"), "New");
        assert_eq!(kept("New\n-- \nAnn Smith\nAcme"), "New");
        assert_eq!(kept("New\n\nSent from my iPhone"), "New\n");
        assert_eq!(
            kept("New\nGet Outlook for iOS<https://aka.ms/o0ukef>"),
            "New"
        );
    }
}
