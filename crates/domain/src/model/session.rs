//! Conversation sessions and their messages.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::json_object::JsonObject;
use super::text::{TextKind, check_visible, line};
use super::{Checks, Count, Credits};
use crate::error::{DomainError, DomainResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStatus {
    Active,
    Completed,
    Archived,
    Error,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Active => "active",
            SessionStatus::Completed => "completed",
            SessionStatus::Archived => "archived",
            SessionStatus::Error => "error",
        }
    }

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The storage's integer id, shown as `id`.
    pub id: i64,
    /// The public id, used in paths.
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub namespace: String,
    pub title: Option<String>,
    pub metadata: JsonObject,
    pub status: SessionStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A session to store; the storage assigns `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub namespace: String,
    pub title: Option<String>,
    pub metadata: JsonObject,
    pub created_at: DateTime<Utc>,
}

pub const TITLE_MAX: usize = 500;

pub fn check_title(raw: &str) -> Result<String, String> {
    line(TITLE_MAX)(raw)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRole {
    User,
    Assistant,
    System,
    Tool,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
            MessageRole::System => "system",
            MessageRole::Tool => "tool",
        }
    }

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
    pub role: MessageRole,
    pub content: String,
    pub message_type: Option<String>,
    pub tokens_used: i64,
    pub cost_usd: Credits,
    pub metadata: Option<JsonObject>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMessage {
    pub id: i64,
    pub session_id: Uuid,
    pub message: MessageInput,
    pub created_at: DateTime<Utc>,
}

/// A session as a client asks for it, before validation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionInput {
    pub user_id: Option<String>,
    pub title: Option<String>,
    pub metadata: Option<serde_json::Value>,
}

/// A validated session request: title and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDraft {
    pub title: Option<String>,
    pub metadata: JsonObject,
}

impl SessionInput {
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
    pub role: String,
    pub content: String,
    pub message_type: Option<String>,
    pub tokens_used: Option<serde_json::Number>,
    pub cost_usd: Option<Credits>,
    pub metadata: Option<serde_json::Value>,
}

pub const MESSAGE_TYPE_MAX: usize = 64;

impl MessageDraft {
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
