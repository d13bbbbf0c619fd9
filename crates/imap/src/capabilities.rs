//! The capabilities a server announced (RFC 3501 §7.2.1), kept for the whole life of a
//! session. A server announces a few dozen; one allocation for all of them instead of a
//! `String` each keeps an idle grant's session small.

/// Capability names, each followed by a space (so that a lookup finds whole names).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities(Box<str>);

impl Capabilities {
    pub fn new(names: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let mut joined = String::new();
        for name in names {
            // A name never holds a space (it is an atom); one that did would be split.
            for word in name.as_ref().split_ascii_whitespace() {
                joined.push_str(word);
                joined.push(' ');
            }
        }
        Self(joined.into_boxed_str())
    }

    /// Whether `name` was announced (capability names are case-insensitive).
    pub fn has(&self, name: &str) -> bool {
        self.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.split_ascii_whitespace()
    }

    /// Acts as if these had not been announced.
    pub fn remove(&mut self, names: &[String]) {
        let kept = Self::new(
            self.iter()
                .filter(|c| !names.iter().any(|n| n.eq_ignore_ascii_case(c))),
        );
        *self = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_whole_and_case_insensitively() {
        let caps = Capabilities::new(["IMAP4rev1", "IDLE", "AUTH=PLAIN", "CONDSTORE"]);
        assert!(caps.has("idle"));
        assert!(caps.has("AUTH=PLAIN"));
        assert!(!caps.has("IDL"));
        assert!(!caps.has("STORE"));
        assert!(!caps.has(""));
        assert_eq!(
            caps.iter().collect::<Vec<_>>(),
            ["IMAP4rev1", "IDLE", "AUTH=PLAIN", "CONDSTORE"]
        );
    }

    #[test]
    fn removed_names_are_gone_and_the_rest_stay() {
        let mut caps = Capabilities::new(["IMAP4rev1", "NOTIFY", "IDLE", "QRESYNC"]);
        caps.remove(&["notify".to_owned(), "QRESYNC".to_owned()]);
        assert!(!caps.has("NOTIFY"));
        assert!(!caps.has("QRESYNC"));
        assert!(caps.has("IDLE"));
        assert_eq!(caps.iter().collect::<Vec<_>>(), ["IMAP4rev1", "IDLE"]);
        assert_eq!(Capabilities::new([""; 0]).iter().count(), 0);
    }
}
