//! The JSON bodies of each route family, from raw bytes, through the domain validation they feed.
//!
//! The body types themselves live in the HTTP crate beside their routes, which would drag the whole
//! web stack into an instrumented build; these mirror their field types exactly (plain serde derives
//! over `Option<String>`, `Credits`, `serde_json::Number` and `Change`), and the parsing that matters
//! is in those field types and in the domain, which is the real code here.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use user_service_domain::model::{
    Change, Checks, ConsumeCredits, Credits, MessageDraft, ProfileInput, RechargeCredits,
    SessionInput, SessionStatus, UsageInput,
};
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageBody {
    user_id: Option<String>,
    session_id: Option<String>,
    endpoint: Option<String>,
    event_type: Option<String>,
    credits_charged: Option<Credits>,
    cost_usd: Option<Credits>,
    tokens_used: Option<serde_json::Number>,
    prompt_tokens: Option<serde_json::Number>,
    completion_tokens: Option<serde_json::Number>,
    model_name: Option<String>,
    provider: Option<String>,
    tool_name: Option<String>,
    operation_name: Option<String>,
    metadata: Option<serde_json::Value>,
}

impl From<UsageBody> for UsageInput {
    fn from(b: UsageBody) -> Self {
        UsageInput {
            user_id: b.user_id,
            session_id: b.session_id,
            endpoint: b.endpoint,
            event_type: b.event_type,
            credits_charged: b.credits_charged,
            cost_usd: b.cost_usd,
            tokens_used: b.tokens_used,
            prompt_tokens: b.prompt_tokens,
            completion_tokens: b.completion_tokens,
            model_name: b.model_name,
            provider: b.provider,
            tool_name: b.tool_name,
            operation_name: b.operation_name,
            metadata: b.metadata,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    records: Vec<UsageBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    role: String,
    content: String,
    message_type: Option<String>,
    tokens_used: Option<serde_json::Number>,
    cost_usd: Option<Credits>,
    metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionBody {
    user_id: Option<String>,
    title: Option<String>,
    metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumeBody {
    amount: Credits,
    description: Option<String>,
    usage_record_id: Option<serde_json::Number>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RechargeBody {
    amount: Credits,
    description: Option<String>,
    reference_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    #[serde(default)]
    email: Change<String>,
    #[serde(default)]
    full_name: Change<String>,
    #[serde(default)]
    first_name: Change<String>,
    #[serde(default)]
    last_name: Change<String>,
    #[serde(default)]
    phone: Change<String>,
    #[serde(default)]
    extra: Change<BTreeMap<String, Option<String>>>,
}

fuzz_target!(|data: &[u8]| {
    let owner = Uuid::nil();
    if let Ok(b) = serde_json::from_slice::<UsageBody>(data) {
        if let Ok(e) = UsageInput::from(b).into_event(owner) {
            assert!(e.credits_charged >= Credits::ZERO && e.credits_charged <= Credits::MAX_AMOUNT);
            assert!(e.tokens_used >= 0 && e.prompt_tokens >= 0 && e.completion_tokens >= 0);
        }
    }
    if let Ok(b) = serde_json::from_slice::<BatchBody>(data) {
        let mut checks = Checks::new();
        for (i, r) in b.records.into_iter().enumerate() {
            let _ = UsageInput::from(r).validate(owner, &format!("records[{i}]."), &mut checks);
        }
        let _ = checks.finish();
    }
    if let Ok(b) = serde_json::from_slice::<MessageBody>(data) {
        let _ = MessageDraft {
            role: b.role,
            content: b.content,
            message_type: b.message_type,
            tokens_used: b.tokens_used,
            cost_usd: b.cost_usd,
            metadata: b.metadata,
        }
        .validate();
    }
    if let Ok(b) = serde_json::from_slice::<SessionBody>(data) {
        let _ = SessionInput {
            user_id: b.user_id,
            title: b.title,
            metadata: b.metadata,
        }
        .validate(owner);
    }
    if let Ok(b) = serde_json::from_slice::<StatusBody>(data) {
        let _ = SessionStatus::parse(&b.status);
    }
    if let Ok(b) = serde_json::from_slice::<ConsumeBody>(data) {
        if let Ok(c) = ConsumeCredits::new(b.amount, b.description, b.usage_record_id) {
            assert!(c.amount > Credits::ZERO && c.amount <= Credits::MAX_AMOUNT);
        }
    }
    if let Ok(b) = serde_json::from_slice::<RechargeBody>(data) {
        let _ = RechargeCredits::new(b.amount, b.description, b.reference_id);
    }
    if let Ok(b) = serde_json::from_slice::<ProfileBody>(data) {
        let mut checks = Checks::new();
        let _ = ProfileInput {
            email: b.email,
            full_name: b.full_name,
            first_name: b.first_name,
            last_name: b.last_name,
            phone: b.phone,
            extra: b.extra,
        }
        .validate(&mut checks, false);
        let _ = checks.finish();
    }
});
