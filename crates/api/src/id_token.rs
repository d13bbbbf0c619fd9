//! id_tokens: JWTs (RFC 7519) signed with HS256 under a key derived from the server's
//! secret key, so only this server can make or check them. Built by hand: a header, the
//! claims as JSON, both base64url without padding, and an HMAC-SHA256 over the two.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use mailroom_model::v3::IdTokenClaims;
use sha2::Sha256;

/// The `iss` of every id_token and token info. mailroom has no configured public URL,
/// so it names itself.
pub const ISSUER: &str = "mailroom";

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdTokenError {
    #[error("the id_token is not a JWT")]
    Malformed,
    #[error("the id_token was not signed by this server or has been altered")]
    BadSignature,
    #[error("the id_token has expired")]
    Expired,
}

pub fn sign(claims: &IdTokenClaims, key: &[u8; 32]) -> String {
    // Serializing a struct of strings, numbers and booleans cannot fail.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = mac(key, &signing_input).finalize().into_bytes();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims of an id_token this server signed, if it has not expired at `now`.
pub fn verify(token: &str, key: &[u8; 32], now: i64) -> Result<IdTokenClaims, IdTokenError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(IdTokenError::Malformed)?;
    let (header, payload) = signing_input
        .split_once('.')
        .ok_or(IdTokenError::Malformed)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| IdTokenError::Malformed)?;
    // verify_slice compares in constant time.
    mac(key, signing_input)
        .verify_slice(&signature)
        .map_err(|_| IdTokenError::BadSignature)?;
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| IdTokenError::Malformed)?;
    if header != HEADER.as_bytes() {
        return Err(IdTokenError::Malformed);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| IdTokenError::Malformed)?;
    let claims: IdTokenClaims =
        serde_json::from_slice(&payload).map_err(|_| IdTokenError::Malformed)?;
    if claims.exp <= now {
        return Err(IdTokenError::Expired);
    }
    Ok(claims)
}

fn mac(key: &[u8; 32], signing_input: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(signing_input.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    fn claims() -> IdTokenClaims {
        IdTokenClaims {
            iss: ISSUER.into(),
            aud: "app-1".into(),
            iat: 1_700_000_000,
            exp: 1_700_003_600,
            sub: "grant-1".into(),
            email: "user15@example.test".into(),
            name: Some("Ada Lovelace".into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            picture: None,
            provider: "imap".into(),
            email_verified: true,
        }
    }

    /// Made independently with Python's `hmac`, `hashlib`, `json` and `base64`.
    const EXPECTED: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJtYWlscm9vbSIsImF1ZCI6ImFwcC0xIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDAsInN1YiI6ImdyYW50LTEiLCJlbWFpbCI6InVzZXIxNUBleGFtcGxlLnRlc3QiLCJuYW1lIjoiQWRhIExvdmVsYWNlIiwiZ2l2ZW5fbmFtZSI6IkFkYSIsImZhbWlseV9uYW1lIjoiTG92ZWxhY2UiLCJwaWN0dXJlIjpudWxsLCJwcm92aWRlciI6ImltYXAiLCJlbWFpbF92ZXJpZmllZCI6dHJ1ZX0.w3x3sXaLkdQPZXNKVyE2LavpGoyulME5ZhyVoE0ga0U";

    #[test]
    fn signs_a_standard_hs256_jwt() {
        assert_eq!(sign(&claims(), &key()), EXPECTED);
    }

    #[test]
    fn verifies_its_own_tokens_until_they_expire() {
        let token = sign(&claims(), &key());
        assert_eq!(verify(&token, &key(), 1_700_000_001), Ok(claims()));
        assert_eq!(
            verify(&token, &key(), 1_700_003_600),
            Err(IdTokenError::Expired)
        );
    }

    #[test]
    fn refuses_other_keys_altered_claims_and_garbage() {
        let token = sign(&claims(), &key());
        assert_eq!(
            verify(&token, &[9; 32], 1_700_000_001),
            Err(IdTokenError::BadSignature)
        );
        let mut forged = claims();
        forged.sub = "grant-2".into();
        let forged_payload = sign(&forged, &[9; 32]);
        let (_, payload, _) = split3(&forged_payload);
        let (header, _, signature) = split3(&token);
        assert_eq!(
            verify(
                &format!("{header}.{payload}.{signature}"),
                &key(),
                1_700_000_001
            ),
            Err(IdTokenError::BadSignature)
        );
        // alg=none, unsigned.
        let none = format!(
            "{}.{payload}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
        );
        assert_eq!(
            verify(&none, &key(), 1_700_000_001),
            Err(IdTokenError::BadSignature)
        );
        assert_eq!(verify("abc", &key(), 0), Err(IdTokenError::Malformed));
        assert_eq!(verify("a.b.!!", &key(), 0), Err(IdTokenError::Malformed));
    }

    fn split3(token: &str) -> (&str, &str, &str) {
        let mut parts = token.split('.');
        (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        )
    }
}
