//! A JSON object of bounded size, as the metadata of sessions, messages and usage records.

use serde_json::{Map, Value};

/// A JSON object whose serialized form is at most `METADATA_MAX_BYTES`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonObject(Map<String, Value>);

/// 16 KiB: enough for tags and client context, small enough that lists stay cheap.
pub const METADATA_MAX_BYTES: usize = 16 * 1024;

impl JsonObject {
    /// An object whose serialized form is at most `METADATA_MAX_BYTES`; anything else is refused with the reason.
    pub fn parse(value: Value) -> Result<Self, String> {
        match value {
            Value::Object(map) => {
                let size = serde_json::to_vec(&map)
                    .map(|v| v.len())
                    .unwrap_or(usize::MAX);
                if size > METADATA_MAX_BYTES {
                    Err(format!(
                        "must be at most {METADATA_MAX_BYTES} bytes of JSON"
                    ))
                } else {
                    Ok(Self(map))
                }
            }
            _ => Err("must be a JSON object".into()),
        }
    }

    /// Trusted input: what the service stored itself.
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self(map)
    }

    /// The object's members.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The object's members, owned.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_up_to_16_kib_only() {
        assert!(JsonObject::parse(json!({"a": 1})).is_ok());
        assert!(JsonObject::parse(json!({})).is_ok());
        assert!(JsonObject::parse(json!([1])).is_err());
        assert!(JsonObject::parse(json!("x")).is_err());
        assert!(JsonObject::parse(json!(null)).is_err());
        // {"k":"<s>"} is 8 bytes plus s.
        let fits = "x".repeat(METADATA_MAX_BYTES - 8);
        assert!(JsonObject::parse(json!({ "k": fits })).is_ok());
        let over = "x".repeat(METADATA_MAX_BYTES - 7);
        assert!(JsonObject::parse(json!({ "k": over })).is_err());
    }
}
