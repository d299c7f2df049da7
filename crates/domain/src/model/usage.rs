//! Usage records: metered events of a user (AI calls, API calls, storage), and their statistics.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::json_object::JsonObject;
use super::text::line as bounded;
use super::{Checks, Count, Credits};
use crate::error::DomainResult;

/// A usage event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    /// The storage's id.
    pub id: i64,
    /// Whose usage it is.
    pub user_id: Uuid,
    /// The user's namespace.
    pub namespace: String,
    /// What happened.
    pub event: UsageEvent,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// What a client reports about one event, validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageEvent {
    /// The client's session id.
    pub session_id: Option<String>,
    /// The endpoint called.
    pub endpoint: Option<String>,
    /// The kind of event (e.g. `api_call`, `llm_request`).
    pub event_type: String,
    /// Credits charged for it.
    pub credits_charged: Credits,
    /// What it cost, in US dollars.
    pub cost_usd: Credits,
    /// Tokens used in all.
    pub tokens_used: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// The model used.
    pub model_name: Option<String>,
    /// The model's provider.
    pub provider: Option<String>,
    /// The tool used.
    pub tool_name: Option<String>,
    /// The operation performed.
    pub operation_name: Option<String>,
    /// The client's metadata.
    pub metadata: Option<JsonObject>,
}

/// A record to store; the storage assigns `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUsageRecord {
    /// Whose usage it is.
    pub user_id: Uuid,
    /// The user's namespace.
    pub namespace: String,
    /// What happened.
    pub event: UsageEvent,
    /// When it happens.
    pub created_at: DateTime<Utc>,
}

/// The most records one batch may carry; more is refused whole.
pub const BATCH_MAX: usize = 1000;

/// An inclusive time window; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateRange {
    /// From this instant on, or from the beginning.
    pub start: Option<DateTime<Utc>>,
    /// Up to this instant, or to now.
    pub end: Option<DateTime<Utc>>,
}

impl DateRange {
    /// A window; `VALIDATION_ERROR` when it ends before it starts.
    pub fn new(
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Self, (&'static str, String)> {
        if let (Some(s), Some(e)) = (start, end)
            && s > e
        {
            return Err(("start_date", "must not be after end_date".into()));
        }
        Ok(Self { start, end })
    }
}

/// Totals of a user's usage within a window.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UsageStats {
    /// Records in the window.
    pub total_records: u64,
    /// Credits charged in all.
    pub total_credits_charged: Credits,
    /// Cost in all, in US dollars.
    pub total_cost_usd: Credits,
    /// Tokens used in all.
    pub total_tokens_used: i64,
    /// Records per event type.
    pub by_event_type: BTreeMap<String, u64>,
    /// Records per model.
    pub by_model: BTreeMap<String, u64>,
}

/// One event as a client sent it, before validation. Money was already read exactly (rounded to 6
/// places) by `Credits`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageInput {
    /// Names the owner; must equal the user of the path when present.
    pub user_id: Option<String>,
    /// The client's session id.
    pub session_id: Option<String>,
    /// The endpoint called.
    pub endpoint: Option<String>,
    /// The kind of event.
    pub event_type: Option<String>,
    /// Credits charged.
    pub credits_charged: Option<Credits>,
    /// What it cost, in US dollars.
    pub cost_usd: Option<Credits>,
    /// Tokens used, as sent.
    pub tokens_used: Option<serde_json::Number>,
    /// Prompt tokens, as sent.
    pub prompt_tokens: Option<serde_json::Number>,
    /// Completion tokens, as sent.
    pub completion_tokens: Option<serde_json::Number>,
    /// The model used.
    pub model_name: Option<String>,
    /// The model's provider.
    pub provider: Option<String>,
    /// The tool used.
    pub tool_name: Option<String>,
    /// The operation performed.
    pub operation_name: Option<String>,
    /// Metadata: must be a JSON object.
    pub metadata: Option<serde_json::Value>,
}

/// A usage record's `session_id` names a session of the same user (API.md 1.3).
pub const NOT_A_SESSION: &str = "must be the session_id of a session of this user";

/// Short labels (event type, model, provider, ...): at most this many characters.
pub const LABEL_MAX: usize = 255;
/// Endpoints are paths or URLs.
pub const ENDPOINT_MAX: usize = 2048;

fn label(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    bounded(LABEL_MAX)(s)
}

impl UsageInput {
    /// Validates one event of `owner`; `prefix` names the item in a batch (`records[3].`) so a
    /// client can find its mistake.
    pub fn validate(self, owner: Uuid, prefix: &str, checks: &mut Checks) -> Option<UsageEvent> {
        let f = |name: &str| format!("{prefix}{name}");
        if let Some(named) = &self.user_id
            && Uuid::parse_str(named).ok() != Some(owner)
        {
            checks.push(&f("user_id"), "must equal the user of the path");
        }
        let event_type = match self.event_type.as_deref() {
            Some(t) => checks.check(&f("event_type"), label(t)),
            None => {
                checks.push(&f("event_type"), "is required");
                None
            }
        };
        let session_id = checks.check_opt(&f("session_id"), self.session_id.as_deref(), |s| {
            Uuid::parse_str(s)
                .map(|id| id.to_string())
                .map_err(|_| NOT_A_SESSION.to_owned())
        });
        let endpoint = checks.check_opt(
            &f("endpoint"),
            self.endpoint.as_deref(),
            bounded(ENDPOINT_MAX),
        );
        let model_name = checks.check_opt(&f("model_name"), self.model_name.as_deref(), label);
        let provider = checks.check_opt(&f("provider"), self.provider.as_deref(), label);
        let tool_name = checks.check_opt(&f("tool_name"), self.tool_name.as_deref(), label);
        let operation_name =
            checks.check_opt(&f("operation_name"), self.operation_name.as_deref(), label);
        let mut money = |name: &str, v: Option<Credits>| -> Credits {
            let v = v.unwrap_or_default();
            if v < Credits::ZERO || v > Credits::MAX_AMOUNT {
                checks.push(&f(name), "must be between 0 and 1000000000000");
            }
            v
        };
        let credits_charged = money("credits_charged", self.credits_charged);
        let cost_usd = money("cost_usd", self.cost_usd);
        let mut count = |name: &str, v: Option<&serde_json::Number>| -> i64 {
            checks
                .check(&f(name), Count::from_json(v).map_err(String::from))
                .map_or(0, Count::get)
        };
        let tokens_used = count("tokens_used", self.tokens_used.as_ref());
        let prompt_tokens = count("prompt_tokens", self.prompt_tokens.as_ref());
        let completion_tokens = count("completion_tokens", self.completion_tokens.as_ref());
        let metadata = match self.metadata {
            None | Some(serde_json::Value::Null) => None,
            Some(v) => checks.check(&f("metadata"), JsonObject::parse(v)),
        };
        Some(UsageEvent {
            session_id,
            endpoint,
            event_type: event_type?,
            credits_charged,
            cost_usd,
            tokens_used,
            prompt_tokens,
            completion_tokens,
            model_name,
            provider,
            tool_name,
            operation_name,
            metadata,
        })
    }

    /// A single event: every mistake reported at once.
    pub fn into_event(self, owner: Uuid) -> DomainResult<UsageEvent> {
        let mut checks = Checks::new();
        let event = self.validate(owner, "", &mut checks);
        checks.finish()?;
        event.ok_or_else(|| crate::error::DomainError::field("event_type", "is required"))
    }
}
