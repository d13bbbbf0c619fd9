//! The JSON objects of the Nylas v3 API that mailroom serves. Every documented field is
//! always serialized (null, [] or false when empty): the Python SDK parses single objects
//! strictly.

pub mod application;
pub mod connector;
pub mod grant;
pub mod message;
pub mod oauth;
pub mod redirect_uri;

pub use application::{Application, Branding};
pub use connector::{Connector, ConnectorInput};
pub use grant::{CustomAuthRequest, Grant, GrantStatus, SyncProgress, UpdateGrantRequest};
pub use message::{Attachment, EmailName, Folder, Header, Message};
pub use oauth::{GrantType, IdTokenClaims, TokenInfo, TokenRequest, TokenResponse};
pub use redirect_uri::{RedirectUri, RedirectUriInput, RedirectUriSettings};
