//! Payload rules of Socket.IO packets (reference section 2.1, 2.2 step 7, 2.7), applied by the
//! decoder once the JSON is parsed: socket.io-parser `isPayloadValid`, the reserved event names,
//! and the placeholders of binary packets, which must name an announced attachment.

use serde_json::Value;

use super::{is_reserved_event, PacketType, ParseError, MAX_ATTACHMENTS};

/// socket.io-parser `isPayloadValid`, for a payload that is present.
pub(super) fn is_payload_valid(kind: PacketType, value: &Value) -> bool {
    match kind {
        PacketType::Connect => value.is_object(),
        PacketType::Disconnect => false,
        PacketType::ConnectError => value.is_string() || value.is_object(),
        PacketType::Event | PacketType::BinaryEvent => match value.as_array().map(|a| a.first()) {
            Some(Some(Value::String(name))) => !is_reserved_event(name),
            Some(Some(Value::Number(_))) => true,
            _ => false,
        },
        PacketType::Ack | PacketType::BinaryAck => value.is_array(),
    }
}

/// Every object with `"_placeholder": true`, at any depth, must carry a `num` that is a
/// non-negative integer below `attachments`. Recursion is bounded by serde_json's nesting limit.
pub(super) fn check_placeholders(value: &Value, attachments: usize) -> Result<(), ParseError> {
    match value {
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            let num = map.get("num").and_then(placeholder_index);
            match num {
                Some(n) if n < attachments => Ok(()),
                _ => Err(ParseError::BadPlaceholder),
            }
        }
        Value::Object(map) => map
            .values()
            .try_for_each(|v| check_placeholders(v, attachments)),
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_placeholders(v, attachments)),
        _ => Ok(()),
    }
}

/// A placeholder `num` as an index: a non-negative integer, also when written as `1.0`.
fn placeholder_index(num: &Value) -> Option<usize> {
    if let Some(n) = num.as_u64() {
        return usize::try_from(n).ok();
    }
    let f = num.as_f64()?;
    // The range check keeps the cast exact; anything larger names no attachment anyway.
    (f >= 0.0 && f.fract() == 0.0 && f <= MAX_ATTACHMENTS as f64).then_some(f as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_validity_per_type() {
        use PacketType::*;
        let cases = [
            (Connect, json!({}), true),
            (Connect, json!({"token": "x"}), true),
            (Connect, json!("x"), false),
            (Connect, json!([]), false),
            (Connect, json!(null), false),
            (Disconnect, json!({}), false),
            (Disconnect, json!(null), false),
            (Event, json!(["a"]), true),
            (Event, json!([1.5, "a"]), true),
            (Event, json!([]), false),
            (Event, json!([null]), false),
            (Event, json!([["a"]]), false),
            (Event, json!({"0": "a"}), false),
            (Event, json!(["disconnecting"]), false),
            (Event, json!(["newListener"]), false),
            (Event, json!(["connection"]), true),
            (BinaryEvent, json!(["a"]), true),
            (BinaryEvent, json!(["connect_error"]), false),
            (Ack, json!([]), true),
            (Ack, json!({}), false),
            (BinaryAck, json!([1]), true),
            (BinaryAck, json!("x"), false),
            (ConnectError, json!("x"), true),
            (ConnectError, json!({"message": "x"}), true),
            (ConnectError, json!([]), false),
            (ConnectError, json!(1), false),
        ];
        for (kind, value, valid) in cases {
            assert_eq!(is_payload_valid(kind, &value), valid, "{kind:?} {value}");
        }
    }

    #[test]
    fn placeholder_indexes() {
        let cases = [
            (json!(["a", {"_placeholder": true, "num": 0}]), 1, true),
            (
                json!([{"_placeholder": true, "num": 1}, {"_placeholder": true, "num": 0}]),
                2,
                true,
            ),
            (
                json!({"deep": [[{"x": {"_placeholder": true, "num": 2}}]]}),
                3,
                true,
            ),
            (json!([{"_placeholder": true, "num": 1.0}]), 2, true),
            (json!([{"_placeholder": false, "num": 99}]), 1, true),
            (json!([{"_placeholder": "true", "num": 99}]), 1, true),
            (json!(["no placeholders"]), 0, true),
            (json!([{"_placeholder": true, "num": 1}]), 1, false),
            (json!([{"_placeholder": true, "num": 0}]), 0, false),
            (json!([{"_placeholder": true, "num": -1}]), 1, false),
            (json!([{"_placeholder": true, "num": 0.5}]), 1, false),
            (json!([{"_placeholder": true, "num": 1e300}]), 10, false),
            (json!([{"_placeholder": true, "num": "0"}]), 1, false),
            (json!([{"_placeholder": true, "num": null}]), 1, false),
            (json!([{"_placeholder": true}]), 1, false),
            (
                json!({"a": {"b": [{"_placeholder": true, "num": 5}]}}),
                5,
                false,
            ),
        ];
        for (value, attachments, ok) in cases {
            let got = check_placeholders(&value, attachments);
            let want = if ok {
                Ok(())
            } else {
                Err(ParseError::BadPlaceholder)
            };
            assert_eq!(got, want, "{value} with {attachments} attachments");
        }
    }
}
