//! The closing of a message ("Best regards," "Thanks," "Cheers," …) and the name lines
//! under it, found at the end of the new part.

/// Lines under a closing that may still be its name, title, company and phone.
const MAX_NAME_LINES: usize = 4;
/// Characters a name line may have; a longer line is a sentence.
const MAX_NAME_LINE_CHARS: usize = 60;
/// Words of a name after a closing on the same line ("Thanks, Ann Smith").
const MAX_NAME_WORDS: usize = 3;

/// Closings, lower case, without their trailing punctuation.
const CLOSINGS: &[&str] = &[
    "all the best",
    "best",
    "best regards",
    "best wishes",
    "cheers",
    "kind regards",
    "many thanks",
    "regards",
    "respectfully",
    "sincerely",
    "sincerely yours",
    "speak soon",
    "take care",
    "talk soon",
    "thank you",
    "thank you so much",
    "thank you very much",
    "thanks",
    "thanks a lot",
    "thanks again",
    "thanks in advance",
    "thanks so much",
    "thx",
    "warm regards",
    "warmest regards",
    "warmly",
    "with thanks",
    "yours",
    "yours faithfully",
    "yours sincerely",
    "yours truly",
    // German
    "beste grüße",
    "danke",
    "freundliche grüße",
    "gruß",
    "grüße",
    "herzliche grüße",
    "lg",
    "liebe grüße",
    "mit freundlichen grüßen",
    "vg",
    "viele grüße",
    "viele grüsse",
    "vielen dank",
    // French
    "amicalement",
    "bien à vous",
    "bien cordialement",
    "bonne journée",
    "cordialement",
    "merci",
    "merci beaucoup",
    // Spanish
    "atentamente",
    "gracias",
    "muchas gracias",
    "saludos",
    "saludos cordiales",
    "un saludo",
];

/// Drops the closing at the end of `lines` and the name lines under it, when there is
/// something before it (a message that is only "Thanks!" keeps it).
pub(super) fn remove_sign_off(lines: &mut Vec<&str>) {
    let content: Vec<usize> = lines
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(at, _)| at)
        .take(MAX_NAME_LINES + 2)
        .collect();
    let mut cut = None;
    for (from_end, &at) in content.iter().enumerate() {
        let Some(line) = lines.get(at) else {
            break;
        };
        if is_closing(line) {
            cut = Some((from_end, at));
            break;
        }
        if from_end >= MAX_NAME_LINES || !is_name_line(line) {
            return;
        }
    }
    let Some((mut from_end, mut at)) = cut else {
        return;
    };
    // "Thanks!" above "Best," is part of the same closing.
    while let Some(&above) = content.get(from_end + 1) {
        if !lines.get(above).is_some_and(|line| is_closing(line)) {
            break;
        }
        from_end += 1;
        at = above;
    }
    if lines.iter().take(at).any(|line| !line.trim().is_empty()) {
        lines.truncate(at);
    }
}

fn is_name_line(line: &str) -> bool {
    let line = line.trim();
    line.chars().count() <= MAX_NAME_LINE_CHARS && !line.ends_with(['?', ':'])
}

fn without_closing_punctuation(text: &str) -> &str {
    text.trim()
        .trim_end_matches([',', '.', '!', ';', '-', '–', '—', '…', ' '])
        .trim()
}

/// "Best regards," alone, or followed by a short name on the same line ("Cheers, Ann").
fn is_closing(line: &str) -> bool {
    let line = line.trim().trim_matches('*');
    if line.chars().count() > MAX_NAME_LINE_CHARS {
        return false;
    }
    let lower = line.to_lowercase();
    if CLOSINGS.contains(&without_closing_punctuation(&lower)) {
        return true;
    }
    let Some((closing, name)) = line.split_once(',') else {
        return false;
    };
    let closing = closing.trim().to_lowercase();
    let words: Vec<&str> = without_closing_punctuation(name)
        .split_whitespace()
        .collect();
    CLOSINGS.contains(&closing.as_str())
        && (1..=MAX_NAME_WORDS).contains(&words.len())
        && words
            .iter()
            .all(|word| word.chars().next().is_some_and(char::is_uppercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn without(text: &str) -> String {
        let mut lines: Vec<&str> = text.lines().collect();
        remove_sign_off(&mut lines);
        lines.join("\n")
    }

    #[test]
    fn closings_and_names_are_dropped() {
        assert_eq!(
            without("Can you send it?\n\nThanks,\nAnn"),
            "Can you send it?\n"
        );
        assert_eq!(
            without("Sure.\n\nBest regards,\nAnn Smith\nHead of Sales\nAcme Inc.\n+1 555 0100"),
            "Sure.\n"
        );
        assert_eq!(without("Sure.\nCheers, Ann"), "Sure.");
        assert_eq!(without("Sure.\n\nThanks!\nBest,\nAnn"), "Sure.\n");
        assert_eq!(without("Passt.\n\nViele Grüße\nAnna"), "Passt.\n");
    }

    #[test]
    fn sentences_are_not_closings() {
        for text in [
            "Thanks for the update, see you Friday.",
            "Hi,\nThanks, that works",
            "Only this.\nThanks,\nAnn\nWhat do you think about the plan for next week?",
            "Thanks!",
        ] {
            assert_eq!(without(text), text);
        }
    }
}
