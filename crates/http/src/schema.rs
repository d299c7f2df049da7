//! The JSON Schema of each validated value type, as the OpenAPI document states it: one function per
//! type, used by `#[schema(schema_with = ...)]` on request fields, so every route that takes a
//! username (or an amount, or a role) documents the same rule the domain's parser applies.
//!
//! Patterns are ECMA-262 regular expressions (what JSON Schema specifies); `\p{L}` and `\p{N}` are
//! the Unicode letters and numbers Rust's `char::is_alphanumeric` accepts, and control characters
//! (`char::is_control`) are spelled as ranges, which every generator understands. Where a rule cannot be a
//! schema (a password's maximum is 72 *bytes*; a metadata object's 16 KiB is measured as JSON), the
//! schema states the nearest bound and the description says the rest.

use serde_json::{Value, json};
use user_service_domain::model::Count;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::{RefOr, Schema};

/// Format characters (`Cf`, Unicode 15) but the zero-width joiner and non-joiner, which names in
/// Persian, the Indic scripts and emoji sequences need; then line and paragraph separators.
/// Those beyond the BMP are the characters themselves: no escape for them reads the same in every
/// regex engine.
const FORMAT_BUT_JOINERS: &str = concat!(
    r"\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f\u202a-\u202e",
    r"\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\u2028\u2029",
    "\u{110bd}\u{110cd}\u{13430}-\u{1343f}\u{1bca0}-\u{1bca3}\u{1d173}-\u{1d17a}\u{e0001}\u{e0020}-\u{e007f}",
);
const CONTROLS: &str = r"\x00-\x1f\x7f-\x9f";
const CONTROLS_BUT_LINE_BREAKS: &str = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f";
const JOINERS: &str = r"\u200c\u200d";

/// What `text::check_visible` refuses, as the inside of a character class, per kind of text.
fn refused_in_identifiers() -> String {
    format!("{CONTROLS}{FORMAT_BUT_JOINERS}{JOINERS}")
}
fn refused_in_lines() -> String {
    format!("{CONTROLS}{FORMAT_BUT_JOINERS}")
}
fn refused_in_paragraphs() -> String {
    format!("{CONTROLS_BUT_LINE_BREAKS}{FORMAT_BUT_JOINERS}")
}
/// One line of visible text (possibly empty).
fn line_pattern() -> String {
    format!("^[^{}]*$", refused_in_lines())
}

fn schema(v: Value) -> RefOr<Schema> {
    // The literals below are valid schemas; a mistake in one shows in the OpenAPI tests.
    serde_json::from_value(v).unwrap_or_else(|_| RefOr::T(Schema::default()))
}

/// `schema`, also accepting `null` (which clears or skips the field).
fn nullable(mut v: Value) -> RefOr<Schema> {
    if let Some(t) = v.get("type").and_then(Value::as_str) {
        v["type"] = json!([t, "null"]);
    }
    schema(v)
}

/// `schema`, also accepting `null` and `""`: the admin API's clients send `""` for "leave alone".
fn nullable_or_empty(mut v: Value) -> RefOr<Schema> {
    if let Some(p) = v.get("pattern").and_then(Value::as_str) {
        v["pattern"] = json!(format!("^$|{p}"));
    }
    if v.get("minLength").is_some() {
        v["minLength"] = json!(0);
    }
    nullable(v)
}

fn namespace_slug_value() -> Value {
    json!({"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{1,49}$",
           "description": "2-50 of a-z, 0-9, - and _, starting with a letter or digit"})
}
fn username_value() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[\p{L}\p{N}._@+-]+$"})
}
fn email_value() -> Value {
    let label = r"[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?";
    let local = format!(r"[^@\s{}]{{1,64}}", refused_in_identifiers());
    json!({"type": "string", "maxLength": 254, "pattern": format!("^{local}@{label}(?:\\.{label})+$")})
}
fn password_value() -> Value {
    json!({"type": "string", "format": "password", "minLength": 8, "maxLength": 72,
           "description": "at least 8 characters and at most 72 bytes of UTF-8"})
}
fn full_name_value() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": line_pattern()})
}
fn person_name_value() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"^[\p{L}\p{M} .'-]+$"})
}
fn phone_value() -> Value {
    json!({"type": "string", "pattern": r"^\+[1-9][0-9]{1,14}$", "description": "E.164"})
}
fn extra_value(values_nullable: bool) -> Value {
    let value = if values_nullable {
        json!({"type": ["string", "null"], "maxLength": 1024, "pattern": line_pattern()})
    } else {
        json!({"type": "string", "maxLength": 1024, "pattern": line_pattern()})
    };
    json!({"type": "object", "maxProperties": 50,
           "propertyNames": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": line_pattern()},
           "additionalProperties": value})
}
fn role_value() -> Value {
    json!({"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"})
}

pub fn namespace_slug() -> RefOr<Schema> {
    schema(namespace_slug_value())
}
/// A body's namespace where `auth.default_namespace` stands in for an absent one (API.md 7).
pub fn namespace_slug_or_default() -> RefOr<Schema> {
    let mut v = namespace_slug_value();
    v["description"] = json!(
        "2-50 of a-z, 0-9, - and _, starting with a letter or digit; when absent or null, the \
         service's `auth.default_namespace`, and 400 if it has none"
    );
    nullable(v)
}
pub fn username() -> RefOr<Schema> {
    schema(username_value())
}
pub fn username_or_empty() -> RefOr<Schema> {
    nullable_or_empty(username_value())
}
pub fn email() -> RefOr<Schema> {
    schema(email_value())
}
pub fn email_nullable() -> RefOr<Schema> {
    nullable(email_value())
}
pub fn email_or_empty() -> RefOr<Schema> {
    nullable_or_empty(email_value())
}
pub fn password() -> RefOr<Schema> {
    schema(password_value())
}
pub fn password_or_empty() -> RefOr<Schema> {
    nullable_or_empty(password_value())
}
pub fn full_name_nullable() -> RefOr<Schema> {
    nullable(full_name_value())
}
pub fn full_name_or_empty() -> RefOr<Schema> {
    nullable_or_empty(full_name_value())
}
pub fn person_name_nullable() -> RefOr<Schema> {
    nullable(person_name_value())
}
pub fn person_name_or_empty() -> RefOr<Schema> {
    nullable_or_empty(person_name_value())
}
pub fn phone_nullable() -> RefOr<Schema> {
    nullable(phone_value())
}
pub fn phone_or_empty() -> RefOr<Schema> {
    nullable_or_empty(phone_value())
}
/// The profile map as a whole, at registration and creation.
pub fn extra() -> RefOr<Schema> {
    nullable(extra_value(false))
}
/// A change to the profile map: a `null` value removes that key.
pub fn extra_patch() -> RefOr<Schema> {
    nullable(extra_value(true))
}
pub fn roles() -> RefOr<Schema> {
    schema(json!({"type": ["array", "null"], "items": role_value()}))
}
/// A role filter; `""` is no filter.
pub fn role_filter() -> RefOr<Schema> {
    schema(json!({"type": "string", "pattern": "^([a-z0-9_-]{1,32})?$"}))
}

/// One line of visible text of at most `max` characters.
fn text(max: usize, nullable_: bool) -> RefOr<Schema> {
    let v = json!({"type": "string", "maxLength": max, "pattern": line_pattern()});
    if nullable_ { nullable(v) } else { schema(v) }
}
pub fn text_200() -> RefOr<Schema> {
    text(200, true)
}
pub fn text_500() -> RefOr<Schema> {
    text(500, true)
}
pub fn text_1000() -> RefOr<Schema> {
    text(1000, true)
}
pub fn text_2000() -> RefOr<Schema> {
    text(2000, true)
}
pub fn text_2048() -> RefOr<Schema> {
    text(2048, true)
}
/// A short label (event type, model, provider, ...): 1-255 characters, not only spaces.
fn label_value() -> Value {
    let bad = refused_in_lines();
    json!({"type": "string", "maxLength": 255, "pattern": format!(r"^[^{bad}]*[^\s{bad}][^{bad}]*$")})
}
pub fn label() -> RefOr<Schema> {
    schema(label_value())
}
pub fn label_nullable() -> RefOr<Schema> {
    nullable(label_value())
}
/// 1-255 characters.
pub fn reference_nullable() -> RefOr<Schema> {
    nullable(json!({"type": "string", "minLength": 1, "maxLength": 255, "pattern": line_pattern()}))
}
/// 1-64 characters.
pub fn message_type_nullable() -> RefOr<Schema> {
    nullable(json!({"type": "string", "minLength": 1, "maxLength": 64, "pattern": line_pattern()}))
}
/// A user id in a body that must equal the path's.
pub fn owner_nullable() -> RefOr<Schema> {
    nullable(json!({"type": "string", "format": "uuid",
                    "description": "when present, must equal the user of the path"}))
}

/// Money is read exactly and rounded to 6 decimal places (half to even), so the bounds are stated
/// on the sent number: anything that rounds into the range is in it.
pub fn amount() -> RefOr<Schema> {
    schema(
        json!({"type": "number", "exclusiveMinimum": 0.0000005, "maximum": 1_000_000_000_000u64,
                  "description": "greater than 0 after rounding to 6 decimal places, at most 1e12"}),
    )
}
pub fn money_nullable() -> RefOr<Schema> {
    nullable(
        json!({"type": "number", "minimum": -0.0000005, "maximum": 1_000_000_000_000u64,
                    "description": "0 to 1e12 after rounding to 6 decimal places"}),
    )
}
/// A count (tokens and the like).
pub fn count_nullable() -> RefOr<Schema> {
    nullable(json!({"type": "integer", "minimum": 0, "maximum": Count::MAX}))
}
/// The id of a stored object.
pub fn id_nullable() -> RefOr<Schema> {
    nullable(json!({"type": "integer", "minimum": 1, "maximum": Count::MAX}))
}
/// A JSON object of at most 16 KiB.
pub fn metadata_nullable() -> RefOr<Schema> {
    nullable(json!({"type": "object", "description": "a JSON object of at most 16 KiB"}))
}

/// The `Idempotency-Key` header: 1-255 visible ASCII characters (spaces and tabs inside only, as
/// HTTP trims the ends).
pub fn idempotency_key() -> RefOr<Schema> {
    schema(json!({"type": "string", "maxLength": 255, "pattern": r"^[!-~]([\t -~]*[!-~])?$"}))
}

fn one_of(values: &[&str]) -> RefOr<Schema> {
    schema(json!({"type": "string", "enum": values}))
}
pub fn message_role() -> RefOr<Schema> {
    one_of(&["user", "assistant", "system", "tool"])
}
pub fn session_status() -> RefOr<Schema> {
    one_of(&["active", "completed", "archived", "error"])
}
pub fn transaction_type() -> RefOr<Schema> {
    one_of(&["consume", "recharge"])
}
/// A message's content: at most 1 MiB of UTF-8.
pub fn content() -> RefOr<Schema> {
    schema(json!({"type": "string", "maxLength": 1_048_576,
                  "pattern": format!("^[^{}]*$", refused_in_paragraphs()),
                  "description": "at most 1 MiB of UTF-8"}))
}
/// A search: 2-100 characters once trimmed, with at least one letter or digit.
pub fn search_query() -> RefOr<Schema> {
    schema(json!({"type": "string", "minLength": 2, "allOf": [
        {"pattern": r"^\s*\S[\s\S]{0,98}\S\s*$"},
        {"pattern": r"[\p{L}\p{N}]"},
    ]}))
}

/// The optional `Idempotency-Key` header of the routes that honour it.
pub struct IdempotencyKeyHeader;

impl utoipa::IntoParams for IdempotencyKeyHeader {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .description(Some(
                    "a retry with the same key and body replays the first response (API.md 3.4)",
                ))
                .schema(Some(idempotency_key()))
                .build(),
        ]
    }
}

/// The `{user_id}` of the per-user routes.
pub struct UserIdParam;
/// The `{id}` of the admin user routes.
pub struct IdParam;

impl utoipa::IntoParams for UserIdParam {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![user_path_param("user_id")]
    }
}

impl utoipa::IntoParams for IdParam {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![user_path_param("id")]
    }
}

/// A path parameter naming a user: our id, or a linked external subject (API.md 7).
fn user_path_param(name: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(
            "the user's id (a UUID), or, in a namespace with external issuers, the URL-encoded \
             subject (`sub`) of an identity linked to a user of the caller's namespace \
             (`auth0%7C123456`); elsewhere anything but a UUID is 400",
        ))
        .schema(Some(schema(json!({
            "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]+$"
        }))))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_literal_is_a_schema() {
        let all = [
            namespace_slug(),
            namespace_slug_or_default(),
            username(),
            username_or_empty(),
            email(),
            email_nullable(),
            email_or_empty(),
            password(),
            password_or_empty(),
            full_name_nullable(),
            full_name_or_empty(),
            person_name_nullable(),
            person_name_or_empty(),
            phone_nullable(),
            phone_or_empty(),
            extra(),
            extra_patch(),
            roles(),
            role_filter(),
            text_200(),
            label(),
            label_nullable(),
            reference_nullable(),
            message_type_nullable(),
            owner_nullable(),
            amount(),
            money_nullable(),
            count_nullable(),
            metadata_nullable(),
            idempotency_key(),
            message_role(),
            session_status(),
            transaction_type(),
            content(),
            search_query(),
            id_nullable(),
        ];
        for (i, s) in all.into_iter().enumerate() {
            assert!(s != RefOr::T(Schema::default()), "schema {i} did not parse");
        }
    }
}
