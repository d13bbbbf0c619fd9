//! Opaque, URL-safe page cursors: the sort position of the last item of a page.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::ApiError;

pub fn encode(date: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{date}:{id}"))
}

pub fn decode(token: &str) -> Result<(i64, String), ApiError> {
    let invalid = || ApiError::bad_request("page_token is not a cursor mailroom issued");
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (date, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok((date.parse().map_err(|_| invalid())?, id.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_url_safe() {
        let token = encode(1_700_000_000, "abc-123");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(
            decode(&token).unwrap(),
            (1_700_000_000, "abc-123".to_owned())
        );
        assert!(decode("not a cursor!").is_err());
    }
}
