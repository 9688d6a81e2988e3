//! A request body read as JSON that means one thing: an object naming a key twice is refused
//! (`400 MALFORMED_JSON`), where a plain parse keeps the last and a client, a proxy or a WAF
//! that reads the first would see another request than the one served.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as JSON, refusing an object with a key given twice, at any depth.
pub fn parse_unique(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = Unique.deserialize(&mut reader)?;
    reader.end()?;
    Ok(value)
}

/// Reads one JSON value, each object's keys once.
struct Unique;

impl<'de> DeserializeSeed<'de> for Unique {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Unique {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Unique)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.contains_key(&key) {
                return Err(de::Error::custom(format!("the key {key:?} is given twice")));
            }
            let value = map.next_value_seed(Unique)?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        for twice in [
            r#"{"amount": 1, "amount": 1000000}"#,
            r#"{"seats": [{"a": 1, "a": 2}]}"#,
            r#"{"x": {"y": {"z": 1, "z": 1}}}"#,
        ] {
            let error = parse_unique(twice.as_bytes()).unwrap_err().to_string();
            assert!(error.contains("given twice"), "{twice}: {error}");
        }
    }

    #[test]
    fn any_other_json_reads_as_serde_json_reads_it() {
        for text in [
            r#"{"amount": 1, "nested": {"amount": 2}, "list": [1, -2, 3.5, "x", null, true]}"#,
            r#"[{"a": 1}, {"a": 2}]"#,
            "18446744073709551615",
            r#""é\u200b""#,
        ] {
            let plain: Value = serde_json::from_str(text).unwrap();
            assert_eq!(parse_unique(text.as_bytes()).unwrap(), plain, "{text}");
        }
        assert!(parse_unique(br#"{"a": 1} trailing"#).is_err());
        assert!(parse_unique(b"{").is_err());
    }
}
