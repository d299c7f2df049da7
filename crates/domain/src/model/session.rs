//! Conversation sessions and their messages.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::json_object::JsonObject;
use super::text::{TextKind, check_visible, line};
use super::{Checks, Count, Credits};
use crate::error::{DomainError, DomainResult};

/// Where a conversation session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    /// Going on.
    Active,
    /// Finished.
    Completed,
    /// Kept for the record, no longer in use.
    Archived,
    /// Ended by an error.
    Error,
}

impl SessionStatus {
    /// The contract's text form.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Completed => "completed",
            SessionStatus::Archived => "archived",
            SessionStatus::Error => "error",
        }
    }

    /// Parses the contract's text form.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "active" => Ok(Self::Active),
            "completed" => Ok(Self::Completed),
            "archived" => Ok(Self::Archived),
            "error" => Ok(Self::Error),
            _ => Err("must be one of active, completed, archived, error".into()),
        }
    }
}

/// A conversation session of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The storage's integer id, shown as `id`.
    pub id: i64,
    /// The public id, used in paths.
    pub session_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The owner's namespace.
    pub namespace: String,
    /// A title.
    pub title: Option<String>,
    /// The client's metadata.
    pub metadata: JsonObject,
    /// Where it stands.
    pub status: SessionStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A session to store; the storage assigns `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The public id, chosen before writing.
    pub session_id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The owner's namespace.
    pub namespace: String,
    /// A title.
    pub title: Option<String>,
    /// The client's metadata.
    pub metadata: JsonObject,
    /// When it is created.
    pub created_at: DateTime<Utc>,
}

/// The longest title, in characters.
pub const TITLE_MAX: usize = 500;

/// A title of at most `TITLE_MAX` characters without invisible characters.
pub fn check_title(raw: &str) -> Result<String, String> {
    line(TITLE_MAX)(raw)
}

/// Who wrote a message of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRole {
    /// The user.
    User,
    /// The assistant (the model).
    Assistant,
    /// The system prompt.
    System,
    /// A tool's output.
    Tool,
}

impl MessageRole {
    /// The contract's text form.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
            MessageRole::System => "system",
            MessageRole::Tool => "tool",
        }
    }

    /// Parses the contract's text form.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "user" => Ok(Self::User),
            "assistant" => Ok(Self::Assistant),
            "system" => Ok(Self::System),
            "tool" => Ok(Self::Tool),
            _ => Err("must be one of user, assistant, system, tool".into()),
        }
    }
}

/// 1 MiB of UTF-8.
pub const CONTENT_MAX_BYTES: usize = 1024 * 1024;

/// Message content: not empty, within the length limit, without invisible characters.
pub fn check_content(raw: &str) -> Result<String, String> {
    if raw.len() > CONTENT_MAX_BYTES {
        Err(format!("must be at most {CONTENT_MAX_BYTES} bytes"))
    } else {
        check_visible(raw, TextKind::Multiline)?;
        Ok(raw.to_owned())
    }
}

/// What a client adds to a session, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInput {
    /// Who wrote it.
    pub role: MessageRole,
    /// The text.
    pub content: String,
    /// The client's kind of message.
    pub message_type: Option<String>,
    /// Tokens it used.
    pub tokens_used: i64,
    /// What it cost, in US dollars.
    pub cost_usd: Credits,
    /// The client's metadata.
    pub metadata: Option<JsonObject>,
}

/// A stored message of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMessage {
    /// The storage's id, in the order messages were added.
    pub id: i64,
    /// The session's public id.
    pub session_id: Uuid,
    /// The message.
    pub message: MessageInput,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// A session as a client asks for it, before validation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionInput {
    /// The owner named in the body, checked against the path.
    pub user_id: Option<String>,
    /// A title.
    pub title: Option<String>,
    /// Metadata: must be a JSON object.
    pub metadata: Option<serde_json::Value>,
}

/// A validated session request: title and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDraft {
    /// A checked title.
    pub title: Option<String>,
    /// Checked metadata.
    pub metadata: JsonObject,
}

impl SessionInput {
    /// Checks the input for a session of `owner`.
    pub fn validate(self, owner: Uuid) -> DomainResult<SessionDraft> {
        let mut checks = Checks::new();
        if let Some(named) = &self.user_id
            && Uuid::parse_str(named).ok() != Some(owner)
        {
            checks.push("user_id", "must equal the user of the path");
        }
        let title = checks.check_opt("title", self.title.as_deref(), check_title);
        let metadata = match self.metadata {
            None | Some(serde_json::Value::Null) => Some(JsonObject::default()),
            Some(v) => checks.check("metadata", JsonObject::parse(v)),
        };
        checks.finish()?;
        Ok(SessionDraft {
            title,
            metadata: metadata.unwrap_or_default(),
        })
    }
}

/// A message as a client sent it, before validation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MessageDraft {
    /// Who wrote it (`user`, `assistant`, `system`, `tool`).
    pub role: String,
    /// The text.
    pub content: String,
    /// The client's kind of message.
    pub message_type: Option<String>,
    /// Tokens used, as sent.
    pub tokens_used: Option<serde_json::Number>,
    /// What it cost.
    pub cost_usd: Option<Credits>,
    /// Metadata: must be a JSON object.
    pub metadata: Option<serde_json::Value>,
}

/// The longest message type, in characters.
pub const MESSAGE_TYPE_MAX: usize = 64;

impl MessageDraft {
    /// Checks every field, reporting each failing one.
    pub fn validate(self) -> DomainResult<MessageInput> {
        let mut checks = Checks::new();
        let role = checks.check("role", MessageRole::parse(&self.role));
        let content = checks.check("content", check_content(&self.content));
        let message_type = checks.check_opt("message_type", self.message_type.as_deref(), |s| {
            if s.is_empty() || s.chars().count() > MESSAGE_TYPE_MAX {
                Err(format!("must be 1-{MESSAGE_TYPE_MAX} characters"))
            } else {
                check_visible(s, TextKind::Line)?;
                Ok(s.to_owned())
            }
        });
        let tokens_used = checks
            .check(
                "tokens_used",
                Count::from_json(self.tokens_used.as_ref()).map_err(String::from),
            )
            .map_or(0, Count::get);
        let cost_usd = self.cost_usd.unwrap_or_default();
        if cost_usd < Credits::ZERO || cost_usd > Credits::MAX_AMOUNT {
            checks.push("cost_usd", "must be between 0 and 1000000000000");
        }
        let metadata = match self.metadata {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => checks.check("metadata", JsonObject::parse(v)),
        };
        checks.finish()?;
        match (role, content) {
            (Some(role), Some(content)) => Ok(MessageInput {
                role,
                content,
                message_type,
                tokens_used,
                cost_usd,
                metadata,
            }),
            _ => Err(DomainError::field("role", "is invalid")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_roles_parse_exactly() {
        for s in ["active", "completed", "archived", "error"] {
            assert_eq!(SessionStatus::parse(s).map(SessionStatus::as_str), Ok(s));
        }
        for r in ["user", "assistant", "system", "tool"] {
            assert_eq!(MessageRole::parse(r).map(MessageRole::as_str), Ok(r));
        }
        assert!(SessionStatus::parse("Active").is_err());
        assert!(MessageRole::parse("bot").is_err());
    }

    #[test]
    fn content_is_bounded_in_bytes() {
        assert!(check_content(&"a".repeat(CONTENT_MAX_BYTES)).is_ok());
        assert!(check_content(&"a".repeat(CONTENT_MAX_BYTES + 1)).is_err());
        assert!(check_content(&"é".repeat(CONTENT_MAX_BYTES / 2 + 1)).is_err());
    }
}
