//! The operator dashboard (README.md, "Operator dashboard"): a page that shows nothing
//! before an admin token opens a session, kept in an HttpOnly, SameSite=Strict cookie;
//! its forms act only with the page's CSRF token; a revoked token or a sign-out closes
//! the session.

use axum::http::{StatusCode, header};

use crate::support::{App, Reply};

/// Signs in with a fresh admin token; the record, the token and the session cookie.
async fn signed_in(app: &App) -> (mailroom_store::AdminTokenRecord, String, String) {
    let (record, token) = app.store.create_admin_token().await.expect("a token");
    let reply = app
        .post_form("/admin/login", None, &format!("token={token}"))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text);
    let set_cookie = reply
        .header(header::SET_COOKIE.as_str())
        .expect("a session cookie")
        .to_owned();
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    (record, token, cookie)
}

/// The CSRF token a form of the page carries.
fn csrf_of(page: &Reply) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = page.text.find(marker).expect("a form with a CSRF token") + marker.len();
    page.text[at..]
        .split('"')
        .next()
        .expect("the token")
        .to_owned()
}

#[tokio::test]
async fn without_a_session_the_dashboard_shows_only_its_sign_in_form() {
    let app = App::new().await;
    let page = app.get_page("/admin", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Admin token"), "the sign-in form");
    assert!(!page.text.contains("in-process"), "no application shown");
    assert!(!page.text.contains("ann@example.test"), "no grant shown");
    let forged = app.get_page("/admin", Some("mailroom_admin=forged")).await;
    assert!(!forged.text.contains("ann@example.test"));
}

#[tokio::test]
async fn an_unknown_or_empty_admin_token_is_refused() {
    let app = App::new().await;
    for form in ["token=mra_guess", "token=", "nothing=here"] {
        let reply = app.post_form("/admin/login", None, form).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{form}");
        assert!(reply.header("set-cookie").is_none(), "{form}");
    }
    let unknown = app.post_form("/admin/login", None, "token=mra_guess").await;
    assert!(unknown.text.contains("unknown or revoked"));
}

#[tokio::test]
async fn a_sign_in_form_is_refused_before_it_is_read_whole() {
    let app = App::new().await;
    let huge = format!("token={}", "a".repeat(64 * 1024));
    for path in ["/admin/login", "/connect/authorize"] {
        let reply = app.post_form(path, None, &huge).await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
}

#[tokio::test]
async fn an_admin_token_opens_a_session_that_shows_applications_and_grants() {
    let app = App::new().await;
    let (_, token, cookie) = signed_in(&app).await;
    let login = app
        .post_form("/admin/login", None, &format!("token={token}"))
        .await;
    let set_cookie = login.header("set-cookie").expect("a cookie");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(set_cookie.contains("Path=/admin"));
    assert!(
        !set_cookie.contains(&token),
        "the cookie is a session, not the token"
    );
    assert_eq!(login.header("location"), Some("/admin"));

    let page = app.get_page("/admin", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("in-process") && page.text.contains("ann@example.test"),
        "{}",
        page.text
    );
    // The page is not to be framed, cached or scripted.
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(
        page.header("content-security-policy")
            .is_some_and(|p| p.contains("default-src 'none'"))
    );
}

#[tokio::test]
async fn a_retry_needs_the_page_s_csrf_token_and_a_session() {
    let app = App::new().await;
    let (_, _, cookie) = signed_in(&app).await;
    let path = "/admin/webhooks/any/retry";
    let form = format!("csrf=forged&application={}", app.application_id);
    let forged = app.post_form(path, Some(&cookie), &form).await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
    assert_eq!(forged.header("location"), Some("/admin?outcome=stale"));
    let no_session = app.post_form(path, None, &form).await;
    assert_eq!(no_session.status, StatusCode::SEE_OTHER);
    assert_eq!(no_session.header("location"), Some("/admin"));
    // With the page's token the retry is done (nothing was waiting).
    let page = app.get_page("/admin", Some(&cookie)).await;
    let form = format!("csrf={}&application={}", csrf_of(&page), app.application_id);
    let done = app.post_form(path, Some(&cookie), &form).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.header("location"), Some("/admin?retried=0"));
}

#[tokio::test]
async fn signing_out_needs_the_csrf_token_and_closes_the_session() {
    let app = App::new().await;
    let (_, _, cookie) = signed_in(&app).await;
    let forged = app
        .post_form("/admin/logout", Some(&cookie), "csrf=forged")
        .await;
    assert_eq!(forged.status, StatusCode::SEE_OTHER);
    let still = app.get_page("/admin", Some(&cookie)).await;
    assert!(
        still.text.contains("ann@example.test"),
        "a forged sign-out does nothing"
    );
    let form = format!("csrf={}", csrf_of(&still));
    let out = app.post_form("/admin/logout", Some(&cookie), &form).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(
        out.header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0"))
    );
    let after = app.get_page("/admin", Some(&cookie)).await;
    assert!(after.text.contains("Admin token") && !after.text.contains("ann@example.test"));
}

#[tokio::test]
async fn a_revoked_admin_token_closes_its_sessions() {
    let app = App::new().await;
    let (record, _, cookie) = signed_in(&app).await;
    assert!(
        app.store
            .revoke_admin_token(&record.id)
            .await
            .expect("revoked")
    );
    let page = app.get_page("/admin", Some(&cookie)).await;
    assert!(page.text.contains("Admin token") && !page.text.contains("ann@example.test"));
}
