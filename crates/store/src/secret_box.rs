//! The server's secret key: sealing mailbox passwords at rest with XChaCha20-Poly1305,
//! and the keys derived from it for other purposes (signing id_tokens).

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bound into every ciphertext of the first format, which names no context.
const ASSOCIATED_DATA: &[u8] = b"mailroom grant credentials v1";
/// The prefix of sealed values bound to their place (not a base64 character, so the two
/// formats cannot be confused).
const BOUND_PREFIX: &str = "v2.";
const NONCE_LEN: usize = 24;
pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretBoxError {
    #[error("the secret key must be {KEY_LEN} bytes, base64- or hex-encoded")]
    BadKey,
    #[error("a sealed secret could not be opened: wrong secret key or corrupt data")]
    Unseal,
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox { .. }")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
            key: *key,
        }
    }

    /// A key for `purpose`, derived as HMAC-SHA256(secret key, purpose): each purpose gets
    /// its own key, and none of them reveals the secret key or another purpose's key.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Reads a key written as base64 or hex.
    pub fn from_encoded_key(encoded: &str) -> Result<Self, SecretBoxError> {
        let encoded = encoded.trim();
        let bytes = STANDARD
            .decode(encoded)
            .ok()
            .filter(|b| b.len() == KEY_LEN)
            .or_else(|| decode_hex(encoded))
            .ok_or(SecretBoxError::BadKey)?;
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SecretBoxError::BadKey)?;
        Ok(Self::new(&key))
    }

    /// A new random key, base64-encoded, for a key file.
    pub fn generate_encoded_key() -> String {
        let mut key = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut key);
        STANDARD.encode(key)
    }

    /// The first format, bound to no place: only opened now (every secret is sealed with
    /// [`SecretBox::seal_bound`]); tests make such values to read.
    #[cfg(test)]
    pub fn seal(&self, plaintext: &[u8]) -> String {
        self.seal_with_aad(plaintext, ASSOCIATED_DATA)
    }

    /// Seals `plaintext` for one place only: `purpose` (what the value is) and `context`
    /// (whose it is, e.g. the row id). Opened anywhere else, or moved to another row, it
    /// does not open.
    pub fn seal_bound(&self, purpose: &str, context: &str, plaintext: &[u8]) -> String {
        let aad = bound_aad(purpose, context);
        format!("{BOUND_PREFIX}{}", self.seal_with_aad(plaintext, &aad))
    }

    /// Opens what [`SecretBox::seal_bound`] sealed for this purpose and context, and also
    /// a value of the first format (from `SecretBox::seal`), which names no context.
    pub fn open_bound(
        &self,
        purpose: &str,
        context: &str,
        sealed: &str,
    ) -> Result<Vec<u8>, SecretBoxError> {
        match sealed.strip_prefix(BOUND_PREFIX) {
            Some(bound) => self.open_with_aad(bound, &bound_aad(purpose, context)),
            None => self.open(sealed),
        }
    }

    fn seal_with_aad(&self, plaintext: &[u8], aad: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad,
        };
        // Encryption with a valid key and a fresh nonce cannot fail for in-memory data.
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        STANDARD.encode(sealed)
    }

    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, SecretBoxError> {
        self.open_with_aad(sealed, ASSOCIATED_DATA)
    }

    fn open_with_aad(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, SecretBoxError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| SecretBoxError::Unseal)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretBoxError::Unseal);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| SecretBoxError::Unseal)
    }
}

/// The associated data of a bound value; lengths first, so that no two (purpose,
/// context) pairs give the same bytes.
fn bound_aad(purpose: &str, context: &str) -> Vec<u8> {
    let mut aad = b"mailroom sealed v2".to_vec();
    for part in [purpose, context] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != KEY_LEN * 2 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_the_same_key_only() {
        let key = SecretBox::generate_encoded_key();
        let sealer = SecretBox::from_encoded_key(&key).unwrap();
        let sealed = sealer.seal(b"hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_ne!(sealed, sealer.seal(b"hunter2"), "nonces must differ");
        assert_eq!(sealer.open(&sealed).unwrap(), b"hunter2");
        let other = SecretBox::from_encoded_key(&SecretBox::generate_encoded_key()).unwrap();
        assert_eq!(other.open(&sealed), Err(SecretBoxError::Unseal));
        assert_eq!(sealer.open("AAAA"), Err(SecretBoxError::Unseal));
    }

    #[test]
    fn bound_values_open_only_for_their_purpose_and_context() {
        let sealer = SecretBox::new(&[7; KEY_LEN]);
        let sealed = sealer.seal_bound("webhook secret", "hook-1", b"s3cret");
        assert!(sealed.starts_with("v2."));
        assert_eq!(
            sealer
                .open_bound("webhook secret", "hook-1", &sealed)
                .unwrap(),
            b"s3cret"
        );
        for (purpose, context) in [
            ("webhook secret", "hook-2"),
            ("grant credentials", "hook-1"),
        ] {
            assert_eq!(
                sealer.open_bound(purpose, context, &sealed),
                Err(SecretBoxError::Unseal)
            );
        }
        assert_eq!(sealer.open(&sealed), Err(SecretBoxError::Unseal));
        // Values of the first format still open.
        let old = sealer.seal(b"legacy");
        assert_eq!(
            sealer.open_bound("webhook secret", "hook-1", &old).unwrap(),
            b"legacy"
        );
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_by_secret_key() {
        let sealer = SecretBox::new(&[7; KEY_LEN]);
        let id_tokens = sealer.derive_key("mailroom id_token v1");
        assert_eq!(id_tokens, sealer.derive_key("mailroom id_token v1"));
        assert_ne!(id_tokens, sealer.derive_key("something else"));
        assert_ne!(id_tokens, [7; KEY_LEN]);
        assert_ne!(
            id_tokens,
            SecretBox::new(&[8; KEY_LEN]).derive_key("mailroom id_token v1")
        );
    }

    #[test]
    fn keys_are_accepted_as_hex_or_base64_only_at_full_length() {
        assert!(SecretBox::from_encoded_key(&"ab".repeat(32)).is_ok());
        assert_eq!(
            SecretBox::from_encoded_key("c2hvcnQ=").err(),
            Some(SecretBoxError::BadKey)
        );
    }
}
