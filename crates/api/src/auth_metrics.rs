//! The series of signing in (README.md, "Monitoring"): password sign-ins by outcome,
//! custom auth and the hosted page alike, and access tokens issued by the token endpoints.

use crate::{
    connect_grant::{ConnectError, Connected, SignInOrigin},
    provider_check::CheckFailure,
};

const SIGN_INS: &str = "mailroom_sign_ins_total";
const TOKENS_ISSUED: &str = "mailroom_tokens_issued_total";

/// Gives each series its help text; once, after the recorder is installed.
pub fn describe_auth_metrics() {
    metrics::describe_counter!(
        SIGN_INS,
        "Mailbox sign-ins with a password (custom auth, the hosted page, v2 native auth), by origin and outcome"
    );
    metrics::describe_counter!(
        TOKENS_ISSUED,
        "Access tokens issued by the token endpoints, by API and grant type"
    );
}

pub(crate) fn sign_in_finished(origin: SignInOrigin, result: &Result<Connected, ConnectError>) {
    let origin = match origin {
        SignInOrigin::CustomAuth => "custom_auth",
        SignInOrigin::HostedPage { .. } => "hosted_page",
    };
    metrics::counter!(SIGN_INS, "origin" => origin, "outcome" => sign_in_outcome(result))
        .increment(1);
}

/// One word for how a sign-in ended.
fn sign_in_outcome(result: &Result<Connected, ConnectError>) -> &'static str {
    let Err(error) = result else {
        return "success";
    };
    match error {
        ConnectError::Settings(_) => "invalid_settings",
        ConnectError::ServersDiffer { .. } => "servers_differ",
        ConnectError::ForeignServers => "foreign_servers",
        ConnectError::Throttled(_) => "throttled",
        ConnectError::AttemptsExhausted => "locked_out",
        ConnectError::Check { failure, .. } => check_outcome(failure),
        ConnectError::TooManyGrants { .. } => "too_many_grants",
        ConnectError::Store(_) => "error",
    }
}

/// How the mail servers' check of the password went wrong.
fn check_outcome(failure: &CheckFailure) -> &'static str {
    match failure {
        CheckFailure::Authentication { .. } => "wrong_password",
        CheckFailure::UnknownHost { .. } | CheckFailure::Unreachable { .. } => "server_unreachable",
        CheckFailure::Policy { .. } => "server_forbidden",
        CheckFailure::Failed { .. } => "server_failed",
    }
}

/// Counts an access token issued: `api` is `v3` or `v2`, `grant_type` the OAuth grant
/// type it was issued for (RFC 6749, sections 4.1.3, 4.2 and 6).
pub(crate) fn token_issued(api: &'static str, grant_type: &'static str) {
    metrics::counter!(TOKENS_ISSUED, "api" => api, "grant_type" => grant_type).increment(1);
}

#[cfg(test)]
mod tests {
    use crate::provider_check::ServerRole;

    use super::*;

    #[test]
    fn refusals_are_told_apart() {
        assert_eq!(
            check_outcome(&CheckFailure::Authentication {
                role: ServerRole::Imap,
                response: "NO".into()
            }),
            "wrong_password"
        );
        assert_eq!(
            check_outcome(&CheckFailure::Unreachable {
                role: ServerRole::Smtp,
                reason: "timed out".into()
            }),
            "server_unreachable"
        );
        assert_eq!(
            sign_in_outcome(&Err(ConnectError::AttemptsExhausted)),
            "locked_out"
        );
        assert_eq!(
            sign_in_outcome(&Err(ConnectError::TooManyGrants { limit: 1 })),
            "too_many_grants"
        );
    }
}
