//! The JSON objects of the Nylas v3 API that mailroom serves. Every documented field is
//! always serialized (null, [] or false when empty): the Python SDK parses single objects
//! strictly.

pub mod application;
pub mod compose;
pub mod connector;
pub mod contact;
pub mod event;
pub mod grant;
pub mod message;
pub mod oauth;
pub mod redirect_uri;
pub mod template;
pub mod webhook;

pub use application::{Application, Branding};
pub use compose::{ComposeAttachment, ComposeRequest, CustomHeader};
pub use connector::{Connector, ConnectorInput};
pub use contact::{
    Contact, ContactEmail, ContactGroup, ContactGroupType, ContactSource, NameParts,
};
pub use event::{Calendar, Event, EventStatus, Participant, ParticipantStatus, Visibility, When};
pub use grant::{CustomAuthRequest, Grant, GrantStatus, SyncProgress, UpdateGrantRequest};
pub use message::{Attachment, CleanedMessage, EmailName, Folder, Header, Message, Thread};
pub use oauth::{GrantType, IdTokenClaims, TokenInfo, TokenRequest, TokenResponse};
pub use redirect_uri::{RedirectUri, RedirectUriInput, RedirectUriSettings};
pub use template::{
    RenderHtmlRequest, RenderTemplateRequest, RenderedHtml, RenderedTemplate, Template,
    TemplateEngine, TemplateInput, TemplateUse, UnknownEngine,
};
pub use webhook::{
    CreateWebhookRequest, MockPayloadRequest, NotificationData, SendTestEventRequest, TriggerType,
    UnknownTriggerType, UpdateWebhookRequest, Webhook, WebhookIpAddresses, WebhookNotification,
    WebhookStatus,
};
