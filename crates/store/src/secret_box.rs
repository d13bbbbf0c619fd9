//! The server's secret key: sealing mailbox passwords at rest with XChaCha20-Poly1305,
//! and the keys derived from it for other purposes (signing id_tokens).

use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, KeyInit, OsRng, Payload, rand_core::RngCore},
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Bound into every ciphertext so sealed values cannot be replayed in another context.
const ASSOCIATED_DATA: &[u8] = b"mailroom grant credentials v1";
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

    pub fn seal(&self, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: ASSOCIATED_DATA,
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
                    aad: ASSOCIATED_DATA,
                },
            )
            .map_err(|_| SecretBoxError::Unseal)
    }
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
