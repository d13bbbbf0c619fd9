//! Authorization codes, access tokens and refresh tokens in the store: a code redeems
//! once and only for its client, redirect URI and PKCE verifier; a replayed code or
//! refresh token revokes what it issued; revoking a token revokes its descendants — on
//! both engines.

use crate::support::{Engine, clean_up, execute_raw, new_grant, on_both_engines, open_store};
use mailroom_model::{ApplicationId, GrantId, Provider, Scope};
use mailroom_store::{
    ACCESS_TOKEN_LIFETIME_SECS, AuthFlowRecord, CodeExchange, IssuedTokens, NewAuthFlow, Store,
    TokenError,
};

const REDIRECT: &str = "https://app.example.test/callback";
/// RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

struct Fixture {
    store: Store,
    app: ApplicationId,
    grant: GrantId,
}

async fn fixture(store: Store) -> Fixture {
    let app = store
        .create_application("t", &[])
        .await
        .unwrap()
        .application
        .id;
    let grant = new_grant(&store, &app).await.id;
    Fixture { store, app, grant }
}

impl Fixture {
    /// A code as the sign-in page issues it.
    async fn code(&self, access_type: &str, challenge: Option<(&str, &str)>) -> String {
        let (flow, _csrf): (AuthFlowRecord, String) = self
            .store
            .create_auth_flow(NewAuthFlow {
                application_id: &self.app,
                redirect_uri: REDIRECT,
                state: Some("s"),
                scope: &[Scope::EmailReadOnly],
                access_type,
                login_hint: None,
                smtp_required: false,
                code_challenge: challenge.map(|c| c.0),
                code_challenge_method: challenge.map(|c| c.1),
                provider: Provider::Imap,
                provider_state: None,
                provider_redirect_uri: None,
                response_type: "code",
            })
            .await
            .unwrap();
        self.store
            .issue_authorization_code(&flow, &self.grant)
            .await
            .unwrap()
            .expect("an open flow yields a code")
    }

    async fn redeem(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
    ) -> Result<IssuedTokens, TokenError> {
        self.store
            .redeem_authorization_code(CodeExchange {
                application_id: &self.app,
                code,
                redirect_uri,
                code_verifier: verifier,
            })
            .await
    }

    async fn live(&self, access_token: &str) -> bool {
        self.store
            .access_token(access_token)
            .await
            .unwrap()
            .is_some()
    }
}

fn refusal(result: Result<IssuedTokens, TokenError>) -> String {
    match result {
        Err(TokenError::InvalidGrant(message)) => message,
        Err(other) => panic!("a store error instead of a refusal: {other}"),
        Ok(_) => panic!("tokens were issued where they must be refused"),
    }
}

async fn a_code_redeems_once_and_a_replay_revokes_its_tokens(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let code = f.code("offline", None).await;
    let tokens = f.redeem(&code, REDIRECT, None).await.unwrap();
    assert!(tokens.access_token.starts_with("mrat_"));
    let refresh = tokens
        .refresh_token
        .clone()
        .expect("offline yields a refresh token");
    assert!(refresh.starts_with("mrrt_"));
    assert_eq!(tokens.grant_id, f.grant);
    assert_eq!(tokens.scope, vec![Scope::EmailReadOnly]);
    assert_eq!(
        tokens.expires_at - tokens.issued_at,
        ACCESS_TOKEN_LIFETIME_SECS
    );

    let record = f
        .store
        .access_token(&tokens.access_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.grant_id, f.grant);
    assert_eq!(record.application_id, f.app);
    assert_eq!(record.scope, vec![Scope::EmailReadOnly]);

    let replay = refusal(f.redeem(&code, REDIRECT, None).await);
    assert!(replay.contains("already used"), "{replay}");
    assert!(
        !f.live(&tokens.access_token).await,
        "the replay revokes the access token"
    );
    let refreshed = refusal(f.store.refresh_access_token(&f.app, &refresh).await);
    assert!(refreshed.contains("revoked"), "{refreshed}");
    clean_up(place).await;
}

async fn only_offline_codes_yield_refresh_tokens(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let code = f.code("online", None).await;
    let tokens = f.redeem(&code, REDIRECT, None).await.unwrap();
    assert!(tokens.refresh_token.is_none());
    assert!(f.live(&tokens.access_token).await);
    clean_up(place).await;
}

async fn a_code_is_bound_to_its_client_redirect_uri_and_verifier(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let other_app = f
        .store
        .create_application("other", &[])
        .await
        .unwrap()
        .application
        .id;
    let code = f.code("online", Some((CHALLENGE, "S256"))).await;

    let foreign = f
        .store
        .redeem_authorization_code(CodeExchange {
            application_id: &other_app,
            code: &code,
            redirect_uri: REDIRECT,
            code_verifier: Some(VERIFIER),
        })
        .await;
    assert!(refusal(foreign).contains("another client_id"));
    let elsewhere = refusal(
        f.redeem(&code, "https://app.example.test/callback/", Some(VERIFIER))
            .await,
    );
    assert!(elsewhere.contains("redirect_uri"), "{elsewhere}");
    let missing = refusal(f.redeem(&code, REDIRECT, None).await);
    assert!(missing.contains("code_verifier is required"), "{missing}");
    let wrong = refusal(f.redeem(&code, REDIRECT, Some("not-the-verifier")).await);
    assert!(wrong.contains("does not match"), "{wrong}");
    assert!(refusal(f.redeem("code_unknown", REDIRECT, None).await).contains("unknown"));

    // None of the refusals spent the code.
    let tokens = f.redeem(&code, REDIRECT, Some(VERIFIER)).await.unwrap();
    assert!(f.live(&tokens.access_token).await);

    // A verifier where the authorization carried no challenge is refused (no downgrade).
    let plain_code = f.code("online", None).await;
    let downgrade = refusal(f.redeem(&plain_code, REDIRECT, Some(VERIFIER)).await);
    assert!(downgrade.contains("no code_challenge"), "{downgrade}");
    clean_up(place).await;
}

async fn pkce_accepts_the_nylas_form_and_any_method_case(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let secret = "8d2b5e0a-1c7f-4f8e-9a4b-3e6d2c1f0a9b";
    let nylas_challenge =
        "M2Q0OGUxMjdkZTU4YWQyMjVlMzk4YjJjZTU4ZDdmMzZjMzU0ZGMwMjliMzdmNjU1ODU1MmY2NDNjYzEyY2Y5NA";
    let code = f.code("online", Some((nylas_challenge, "s256"))).await;
    f.redeem(&code, REDIRECT, Some(secret)).await.unwrap();
    let code = f.code("online", Some((secret, "PLAIN"))).await;
    f.redeem(&code, REDIRECT, Some(secret)).await.unwrap();
    clean_up(place).await;
}

async fn an_expired_code_is_refused(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let code = f.code("online", None).await;
    execute_raw(
        &place,
        "UPDATE oauth_tokens SET expires_at = 1 WHERE kind = 'code'",
    )
    .await;
    let expired = refusal(f.redeem(&code, REDIRECT, None).await);
    assert!(expired.contains("expired"), "{expired}");
    clean_up(place).await;
}

async fn refresh_tokens_rotate_and_a_replay_revokes_the_rotation(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let code = f.code("offline", None).await;
    let first = f.redeem(&code, REDIRECT, None).await.unwrap();
    let first_refresh = first.refresh_token.clone().unwrap();

    let other_app = f.store.create_application("other", &[]).await.unwrap();
    let foreign = refusal(
        f.store
            .refresh_access_token(&other_app.application.id, &first_refresh)
            .await,
    );
    assert!(foreign.contains("another client_id"), "{foreign}");

    let second = f
        .store
        .refresh_access_token(&f.app, &first_refresh)
        .await
        .unwrap();
    let second_refresh = second.refresh_token.clone().unwrap();
    assert_ne!(second_refresh, first_refresh);
    assert_ne!(second.access_token, first.access_token);
    assert_eq!(second.scope, vec![Scope::EmailReadOnly]);
    assert!(
        f.live(&first.access_token).await,
        "an earlier access token runs out by itself"
    );
    assert!(f.live(&second.access_token).await);

    let replay = refusal(f.store.refresh_access_token(&f.app, &first_refresh).await);
    assert!(replay.contains("already used"), "{replay}");
    assert!(!f.live(&second.access_token).await);
    let after = refusal(f.store.refresh_access_token(&f.app, &second_refresh).await);
    assert!(after.contains("revoked"), "{after}");
    assert!(
        f.live(&first.access_token).await,
        "the replay revokes what the replayed token issued, not its siblings"
    );
    clean_up(place).await;
}

async fn revoking_a_token_revokes_its_descendants_only(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let code = f.code("offline", None).await;
    let first = f.redeem(&code, REDIRECT, None).await.unwrap();
    let second = f
        .store
        .refresh_access_token(&f.app, first.refresh_token.as_deref().unwrap())
        .await
        .unwrap();
    let third = f
        .store
        .refresh_access_token(&f.app, second.refresh_token.as_deref().unwrap())
        .await
        .unwrap();

    // Revoking the second refresh token reaches the third generation, not the first.
    assert!(
        f.store
            .revoke_token(second.refresh_token.as_deref().unwrap())
            .await
            .unwrap()
    );
    assert!(!f.live(&third.access_token).await);
    assert!(
        f.live(&second.access_token).await,
        "issued from the first refresh token"
    );
    assert!(f.live(&first.access_token).await);
    assert!(matches!(
        f.store
            .refresh_access_token(&f.app, third.refresh_token.as_deref().unwrap())
            .await,
        Err(TokenError::InvalidGrant(_))
    ));

    assert!(f.store.revoke_token(&first.access_token).await.unwrap());
    assert!(!f.live(&first.access_token).await);
    assert!(!f.store.revoke_token("mrat_unknown").await.unwrap());
    // The grant stays.
    assert!(f.store.grant(&f.app, &f.grant).await.unwrap().is_some());
    clean_up(place).await;
}

async fn an_expired_access_token_is_not_live(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let code = f.code("online", None).await;
    let tokens = f.redeem(&code, REDIRECT, None).await.unwrap();
    execute_raw(
        &place,
        "UPDATE oauth_tokens SET expires_at = 1 WHERE kind = 'access'",
    )
    .await;
    assert!(!f.live(&tokens.access_token).await);
    clean_up(place).await;
}

async fn concurrent_redemptions_issue_once(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let code = f.code("offline", None).await;
    let (a, b) = tokio::join!(
        f.redeem(&code, REDIRECT, None),
        f.redeem(&code, REDIRECT, None)
    );
    let (issued, refused): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(Result::is_ok);
    assert_eq!(issued.len(), 1, "a code redeemed once, not twice nor never");
    refusal(refused.into_iter().next().unwrap());
    let tokens = issued.into_iter().next().unwrap().unwrap();
    // The loser's attempt is a replay: the winner's tokens are revoked.
    assert!(!f.live(&tokens.access_token).await);
    clean_up(place).await;
}

/// Long-expired flows and tokens are deleted; live ones stay.
async fn long_expired_flows_and_tokens_are_purged(engine: Engine) {
    let (store, place) = open_store(engine).await;
    let f = fixture(store).await;
    let live_code = f.code("online", None).await;
    let old_code = f.code("online", None).await;
    let tokens = f.redeem(&live_code, REDIRECT, None).await.unwrap();
    execute_raw(&place, "UPDATE auth_flows SET expires_at = 1000").await;
    execute_raw(
        &place,
        "UPDATE oauth_tokens SET expires_at = 1000 WHERE kind = 'code'",
    )
    .await;
    let purged = f.store.purge_expired_auth().await.unwrap();
    assert_eq!(purged, 2 + 2, "two flows and two codes");
    assert!(
        f.store
            .access_token(&tokens.access_token)
            .await
            .unwrap()
            .is_some()
    );
    assert!(f.redeem(&old_code, REDIRECT, None).await.is_err());
    assert_eq!(f.store.purge_expired_auth().await.unwrap(), 0);
    clean_up(place).await;
}

on_both_engines!(
    long_expired_flows_and_tokens_are_purged,
    a_code_redeems_once_and_a_replay_revokes_its_tokens,
    only_offline_codes_yield_refresh_tokens,
    a_code_is_bound_to_its_client_redirect_uri_and_verifier,
    pkce_accepts_the_nylas_form_and_any_method_case,
    an_expired_code_is_refused,
    refresh_tokens_rotate_and_a_replay_revokes_the_rotation,
    revoking_a_token_revokes_its_descendants_only,
    an_expired_access_token_is_not_live,
    concurrent_redemptions_issue_once,
);
