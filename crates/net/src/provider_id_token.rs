//! ID tokens from an OAuth provider (OpenID Connect Core 1.0, section 3.1.3.7): a JWT
//! (RFC 7519) signed RS256 with a key the provider publishes as a JWK set (RFC 7517),
//! fetched under the outbound policy. The signature, audience and expiry are checked
//! here; the issuer, which depends on the provider (and for Microsoft on the user's
//! tenant), is returned for the caller to check.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    outbound::OutboundPolicy,
    webhook_http::{WebhookHttpError, WebhookUrl, webhook_get},
};

/// The most of a JWK set read: providers publish a few keys of a few hundred bytes.
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// The longest ID token looked at.
const MAX_ID_TOKEN_BYTES: usize = 16 * 1024;
/// Clock difference tolerated on `exp`.
const CLOCK_SKEW_SECS: i64 = 300;

/// What a verified ID token says about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub issuer: String,
    pub subject: String,
    /// `email`, or Microsoft's `preferred_username` when it has no `email` claim.
    pub email: Option<String>,
    /// Whether the provider says it verified the email (`email_verified`); Microsoft
    /// does not send the claim.
    pub email_verified: Option<bool>,
    /// Microsoft's `tid`: the tenant the user belongs to.
    pub tenant_id: Option<String>,
    pub nonce: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the provider's ID token is not a JWT mailroom can read: {0}")]
    Malformed(&'static str),
    #[error("the provider's ID token is signed with '{0}', not RS256")]
    Algorithm(String),
    #[error("the provider publishes no key matching its ID token's")]
    UnknownKey,
    #[error("the provider's ID token signature does not verify")]
    Signature,
    #[error("the provider's ID token is for another client")]
    Audience,
    #[error("the provider's ID token has expired")]
    Expired,
    #[error("the provider's keys could not be fetched: {0}")]
    Keys(String),
    #[error("the provider's keys could not be fetched: {0}")]
    Http(#[from] WebhookHttpError),
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Value,
    exp: i64,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    email_verified: Option<Value>,
    #[serde(default)]
    tid: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<Key>,
}

#[derive(Deserialize)]
struct Key {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
}

/// Verifies an ID token issued to `client_id`, with the keys at `jwks`.
pub async fn verify_id_token(
    policy: &OutboundPolicy,
    jwks: &WebhookUrl,
    id_token: &str,
    client_id: &str,
    now: i64,
    timeout: Duration,
) -> Result<ProviderIdentity, IdTokenError> {
    let parts = split(id_token)?;
    let header: Header = decode_json(parts.0)?;
    if header.alg != "RS256" {
        return Err(IdTokenError::Algorithm(
            header.alg.chars().take(16).collect(),
        ));
    }
    let reply = webhook_get(policy, jwks, timeout, MAX_JWKS_BYTES).await?;
    if reply.status != 200 {
        return Err(IdTokenError::Keys(format!("HTTP {}", reply.status)));
    }
    let keys: KeySet =
        serde_json::from_slice(&reply.body).map_err(|e| IdTokenError::Keys(e.to_string()))?;
    verify_with_keys(&keys, &header, id_token, client_id, now)
}

/// The check itself, given the provider's keys.
fn verify_with_keys(
    keys: &KeySet,
    header: &Header,
    id_token: &str,
    client_id: &str,
    now: i64,
) -> Result<ProviderIdentity, IdTokenError> {
    let (header_part, claims_part, signature_part) = split(id_token)?;
    let key = keys
        .keys
        .iter()
        .filter(|k| k.kty == "RSA")
        .find(|k| header.kid.is_none() || k.kid == header.kid)
        .ok_or(IdTokenError::UnknownKey)?;
    let (Some(n), Some(e)) = (&key.n, &key.e) else {
        return Err(IdTokenError::UnknownKey);
    };
    let component = |text: &str| {
        URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| IdTokenError::Malformed("a key component is not base64url"))
    };
    let public_key = RsaPublicKeyComponents {
        n: component(n)?,
        e: component(e)?,
    };
    let signature = URL_SAFE_NO_PAD
        .decode(signature_part)
        .map_err(|_| IdTokenError::Malformed("the signature is not base64url"))?;
    let signed = &id_token[..header_part.len() + 1 + claims_part.len()];
    public_key
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
        .map_err(|_| IdTokenError::Signature)?;

    let claims: Claims = decode_json(claims_part)?;
    let audience_matches = match &claims.aud {
        Value::String(aud) => aud == client_id,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_matches {
        return Err(IdTokenError::Audience);
    }
    if claims.exp + CLOCK_SKEW_SECS < now {
        return Err(IdTokenError::Expired);
    }
    let email_verified = match &claims.email_verified {
        Some(Value::Bool(verified)) => Some(*verified),
        // Yahoo and some Google tokens have sent it as a string.
        Some(Value::String(text)) => Some(text == "true"),
        _ => None,
    };
    Ok(ProviderIdentity {
        issuer: claims.iss,
        subject: claims.sub,
        email: claims.email.or(claims.preferred_username),
        email_verified,
        tenant_id: claims.tid,
        nonce: claims.nonce,
    })
}

fn split(token: &str) -> Result<(&str, &str, &str), IdTokenError> {
    if token.len() > MAX_ID_TOKEN_BYTES {
        return Err(IdTokenError::Malformed("it is too long"));
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(claims), Some(signature), None) => Ok((header, claims, signature)),
        _ => Err(IdTokenError::Malformed("it does not have three parts")),
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, IdTokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| IdTokenError::Malformed("a part is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| IdTokenError::Malformed("a part is not JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn malformed_tokens_are_refused_before_any_key_is_asked() {
        assert!(matches!(split("a.b"), Err(IdTokenError::Malformed(_))));
        assert!(matches!(split("a.b.c.d"), Err(IdTokenError::Malformed(_))));
        let huge = "a".repeat(MAX_ID_TOKEN_BYTES + 1);
        assert!(matches!(split(&huge), Err(IdTokenError::Malformed(_))));
        assert!(decode_json::<Header>("!!!").is_err());
    }

    /// A 2048-bit RSA key made for these tests only (`openssl genpkey`, PKCS #8 DER),
    /// standing for a provider's signing key.
    const SIGNING_KEY: &[u8] = include_bytes!("../testdata/id-token-signing-key.pk8");

    /// An ID token signed RS256 with the test key, and the key set that publishes it.
    fn signed(kid: &str, claims: serde_json::Value) -> (String, KeySet) {
        use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
        let pair = RsaKeyPair::from_pkcs8(SIGNING_KEY).expect("test key");
        let signing_input = format!(
            "{}.{}",
            b64(&serde_json::json!({"alg": "RS256", "kid": kid}).to_string()),
            b64(&claims.to_string())
        );
        let mut signature = vec![0; pair.public().modulus_len()];
        pair.sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .expect("signing");
        let public = pair.public();
        let components: RsaPublicKeyComponents<Vec<u8>> = public.into();
        let keys = KeySet {
            keys: vec![Key {
                kty: "RSA".into(),
                kid: Some(kid.into()),
                n: Some(URL_SAFE_NO_PAD.encode(components.n)),
                e: Some(URL_SAFE_NO_PAD.encode(components.e)),
            }],
        };
        (
            format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)),
            keys,
        )
    }

    fn header(kid: &str) -> Header {
        Header {
            alg: "RS256".into(),
            kid: Some(kid.into()),
        }
    }

    #[test]
    fn a_token_signed_by_the_published_key_says_who_signed_in() {
        // Microsoft's shape: no `email` claim, the tenant, no `email_verified`.
        let claims = serde_json::json!({
            "iss": "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            "sub": "s", "aud": "client", "exp": 2_000, "nonce": "n",
            "preferred_username": "someone@outlook.com",
            "tid": "9188040d-6c67-4c5b-b112-36a304b66dad",
        });
        let (token, keys) = signed("k1", claims);
        let identity = verify_with_keys(&keys, &header("k1"), &token, "client", 1_000).unwrap();
        assert_eq!(identity.email.as_deref(), Some("someone@outlook.com"));
        assert_eq!(identity.email_verified, None);
        assert_eq!(identity.nonce.as_deref(), Some("n"));
        assert_eq!(
            identity.tenant_id.as_deref(),
            Some("9188040d-6c67-4c5b-b112-36a304b66dad")
        );
        // Yahoo has sent `email_verified` as a string; an `aud` list names the client.
        let claims = serde_json::json!({
            "iss": "https://api.login.yahoo.com", "sub": "s", "aud": ["other", "client"],
            "exp": 2_000, "email": "someone@yahoo.com", "email_verified": "true",
        });
        let (token, keys) = signed("k2", claims);
        let identity = verify_with_keys(&keys, &header("k2"), &token, "client", 1_000).unwrap();
        assert_eq!(identity.email_verified, Some(true));
        assert_eq!(identity.issuer, "https://api.login.yahoo.com");
    }

    #[test]
    fn a_signed_token_for_another_client_or_past_its_expiry_is_refused() {
        let claims = serde_json::json!({"iss": "i", "sub": "s", "aud": "client", "exp": 2_000});
        let (token, keys) = signed("k1", claims);
        assert!(matches!(
            verify_with_keys(&keys, &header("k1"), &token, "another", 1_000),
            Err(IdTokenError::Audience)
        ));
        // Past its expiry and the tolerated clock difference.
        assert!(matches!(
            verify_with_keys(
                &keys,
                &header("k1"),
                &token,
                "client",
                2_000 + CLOCK_SKEW_SECS + 1
            ),
            Err(IdTokenError::Expired)
        ));
        assert!(verify_with_keys(&keys, &header("k1"), &token, "client", 2_100).is_ok());
        // Another key id than the published one.
        assert!(matches!(
            verify_with_keys(&keys, &header("k9"), &token, "client", 1_000),
            Err(IdTokenError::UnknownKey)
        ));
        // The claims changed after signing.
        let (head, rest) = token.split_once('.').unwrap();
        let (_, signature) = rest.split_once('.').unwrap();
        let altered = format!(
            "{head}.{}.{signature}",
            b64(r#"{"iss":"i","sub":"s","aud":"client","exp":9999999999}"#)
        );
        assert!(matches!(
            verify_with_keys(&keys, &header("k1"), &altered, "client", 1_000),
            Err(IdTokenError::Signature)
        ));
    }

    #[test]
    fn a_forged_signature_or_missing_key_is_refused() {
        let header = Header {
            alg: "RS256".into(),
            kid: Some("k1".into()),
        };
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","kid":"k1"}"#),
            b64(r#"{"iss":"i","sub":"s","aud":"c","exp":9999999999}"#),
            URL_SAFE_NO_PAD.encode([7u8; 256])
        );
        let no_keys = KeySet { keys: vec![] };
        assert!(matches!(
            verify_with_keys(&no_keys, &header, &token, "c", 0),
            Err(IdTokenError::UnknownKey)
        ));
        // A 2048-bit modulus of ones: a well-formed key that did not sign this.
        let keys = KeySet {
            keys: vec![Key {
                kty: "RSA".into(),
                kid: Some("k1".into()),
                n: Some(URL_SAFE_NO_PAD.encode([0xffu8; 256])),
                e: Some(URL_SAFE_NO_PAD.encode([1u8, 0, 1])),
            }],
        };
        assert!(matches!(
            verify_with_keys(&keys, &header, &token, "c", 0),
            Err(IdTokenError::Signature)
        ));
    }
}
