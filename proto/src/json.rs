//! JSON for the few values hosts exchange as JSON: join token headers and
//! claims, and small HTTP request and reply bodies. Engine state travels as
//! protobuf instead (`room::persist`).
//!
//! Objects are read member by member ([`JsonObject`]) and written member by
//! member ([`JsonWriter`]), not through serde derives: in the Worker's wasm
//! each derived type costs its own visitor code, which the Worker's size
//! budget cannot carry. Natively the values are `serde_json`'s; in
//! `wasm32-unknown-unknown` (the Worker, the Durable Object) they are the
//! JavaScript runtime's (`JSON.parse`, `JSON.stringify`), so no JSON parser
//! or float formatting is compiled into the wasm.
//!
//! One difference: JavaScript numbers are doubles, so in wasm an integer
//! reads back only when it is a safe integer (up to 2^53 − 1), `1.0` and
//! `1e3` count as integers, and a written integer above 2^53 loses
//! precision; natively any `u64` is exact and floats are never integers.

/// A value that could not be read from or written as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(String);

impl JsonError {
    /// Member `key` holds a value of the right type that is not allowed;
    /// `expected` says which are.
    pub fn invalid(key: &str, expected: &str) -> Self {
        Self(format!("`{key}` must be {expected}"))
    }
}

/// A parsed JSON object whose members are read by name. Absent members and
/// `null` read as `None`; a member of the wrong type is an error naming it.
pub struct JsonObject(imp::Object);

impl JsonObject {
    /// Parses UTF-8 JSON text that must be an object.
    ///
    /// # Errors
    ///
    /// [`JsonError`] when the text is not JSON or not an object.
    pub fn parse(bytes: &[u8]) -> Result<Self, JsonError> {
        imp::Object::parse(bytes).map(Self)
    }

    /// True when member `key` is present and not `null`.
    pub fn has(&self, key: &str) -> bool {
        self.0.has(key)
    }

    /// Member `key` as a string.
    ///
    /// # Errors
    ///
    /// [`JsonError`] when the member is present but not a string.
    pub fn string(&self, key: &str) -> Result<Option<String>, JsonError> {
        self.0
            .string(key)
            .map_err(|()| JsonError(format!("`{key}` must be a string")))
    }

    /// Member `key` as a non-negative integer.
    ///
    /// # Errors
    ///
    /// [`JsonError`] when the member is present but not a non-negative
    /// integer.
    pub fn uint(&self, key: &str) -> Result<Option<u64>, JsonError> {
        self.0
            .uint(key)
            .map_err(|()| JsonError(format!("`{key}` must be a non-negative integer")))
    }

    /// Member `key` as a boolean.
    ///
    /// # Errors
    ///
    /// [`JsonError`] when the member is present but not `true` or `false`.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>, JsonError> {
        self.0
            .boolean(key)
            .map_err(|()| JsonError(format!("`{key}` must be true or false")))
    }

    /// Member `key`, which must be present, as a string.
    ///
    /// # Errors
    ///
    /// [`JsonError`] when the member is absent or not a string.
    pub fn required_string(&self, key: &str) -> Result<String, JsonError> {
        self.string(key)?.ok_or_else(|| missing(key))
    }

    /// Member `key`, which must be present, as a non-negative integer.
    ///
    /// # Errors
    ///
    /// [`JsonError`] when the member is absent or not a non-negative integer.
    pub fn required_uint(&self, key: &str) -> Result<u64, JsonError> {
        self.uint(key)?.ok_or_else(|| missing(key))
    }
}

fn missing(key: &str) -> JsonError {
    JsonError(format!("`{key}` is missing"))
}

/// Writes one compact JSON object, its members in the order they are added.
#[must_use = "a JsonWriter does nothing until `finish`"]
pub struct JsonWriter(imp::Writer);

impl Default for JsonWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonWriter {
    /// An empty object.
    pub fn new() -> Self {
        Self(imp::Writer::new())
    }

    /// Adds string member `key`.
    pub fn string(mut self, key: &str, value: &str) -> Self {
        self.0.string(key, value);
        self
    }

    /// Adds string member `key` when `value` is `Some`.
    pub fn string_if(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.string(key, value),
            None => self,
        }
    }

    /// Adds integer member `key`.
    pub fn uint(mut self, key: &str, value: u64) -> Self {
        self.0.uint(key, value);
        self
    }

    /// Adds integer member `key` when `value` is `Some`.
    pub fn uint_if(self, key: &str, value: Option<u64>) -> Self {
        match value {
            Some(value) => self.uint(key, value),
            None => self,
        }
    }

    /// Adds boolean member `key`.
    pub fn boolean(mut self, key: &str, value: bool) -> Self {
        self.0.boolean(key, value);
        self
    }

    /// Adds member `key`, an array of integers.
    pub fn uints(mut self, key: &str, values: &[u32]) -> Self {
        self.0.uints(key, values);
        self
    }

    /// The object as compact JSON text.
    pub fn finish(self) -> String {
        self.0.finish()
    }
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod imp {
    use serde_json::{Map, Value};

    use super::JsonError;

    pub(super) struct Object(Map<String, Value>);

    impl Object {
        pub(super) fn parse(bytes: &[u8]) -> Result<Self, JsonError> {
            match serde_json::from_slice(bytes) {
                Ok(Value::Object(map)) => Ok(Self(map)),
                Ok(_) => Err(JsonError("not a JSON object".to_owned())),
                Err(err) => Err(JsonError(format!("not JSON: {err}"))),
            }
        }

        fn get(&self, key: &str) -> Option<&Value> {
            self.0.get(key).filter(|v| !v.is_null())
        }

        pub(super) fn has(&self, key: &str) -> bool {
            self.get(key).is_some()
        }

        pub(super) fn string(&self, key: &str) -> Result<Option<String>, ()> {
            self.get(key)
                .map(|v| v.as_str().map(str::to_owned).ok_or(()))
                .transpose()
        }

        pub(super) fn uint(&self, key: &str) -> Result<Option<u64>, ()> {
            self.get(key).map(|v| v.as_u64().ok_or(())).transpose()
        }

        pub(super) fn boolean(&self, key: &str) -> Result<Option<bool>, ()> {
            self.get(key).map(|v| v.as_bool().ok_or(())).transpose()
        }
    }

    pub(super) struct Writer(Vec<(String, Value)>);

    impl Writer {
        pub(super) fn new() -> Self {
            Self(Vec::new())
        }

        pub(super) fn string(&mut self, key: &str, value: &str) {
            self.0.push((key.to_owned(), Value::from(value)));
        }

        pub(super) fn uint(&mut self, key: &str, value: u64) {
            self.0.push((key.to_owned(), Value::from(value)));
        }

        pub(super) fn boolean(&mut self, key: &str, value: bool) {
            self.0.push((key.to_owned(), Value::from(value)));
        }

        pub(super) fn uints(&mut self, key: &str, values: &[u32]) {
            self.0.push((key.to_owned(), Value::from(values.to_vec())));
        }

        /// serde_json's `Map` sorts its keys, so members are written in
        /// order here, each with serde_json's own string escaping.
        pub(super) fn finish(self) -> String {
            let mut out = String::from("{");
            for (i, (key, value)) in self.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                out.push_str(&value.to_string());
            }
            out.push('}');
            out
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod imp {
    use js_sys::{Array, Number, Object as JsObject, Reflect, JSON};
    use wasm_bindgen::{JsCast, JsValue};

    use super::JsonError;

    pub(super) struct Object(JsObject);

    impl Object {
        pub(super) fn parse(bytes: &[u8]) -> Result<Self, JsonError> {
            let text =
                core::str::from_utf8(bytes).map_err(|_| JsonError("not UTF-8".to_owned()))?;
            let value = JSON::parse(text).map_err(|e| {
                let reason = e
                    .dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .unwrap_or_default();
                JsonError(format!("not JSON: {reason}"))
            })?;
            if value.is_object() && !Array::is_array(&value) {
                Ok(Self(value.unchecked_into()))
            } else {
                Err(JsonError("not a JSON object".to_owned()))
            }
        }

        /// Own members only: `JSON.parse` objects inherit from
        /// `Object.prototype`, whose members are not the document's.
        fn get(&self, key: &str) -> Option<JsValue> {
            let key = JsValue::from_str(key);
            if !JsObject::has_own(&self.0, &key) {
                return None;
            }
            Reflect::get(&self.0, &key).ok().filter(|v| !v.is_null())
        }

        pub(super) fn has(&self, key: &str) -> bool {
            self.get(key).is_some()
        }

        pub(super) fn string(&self, key: &str) -> Result<Option<String>, ()> {
            self.get(key).map(|v| v.as_string().ok_or(())).transpose()
        }

        pub(super) fn uint(&self, key: &str) -> Result<Option<u64>, ()> {
            self.get(key)
                .map(|v| match v.as_f64() {
                    // A safe integer: whole and below 2^53, so the cast is exact.
                    Some(n) if n >= 0.0 && Number::is_safe_integer(&v) => Ok(n as u64),
                    _ => Err(()),
                })
                .transpose()
        }

        pub(super) fn boolean(&self, key: &str) -> Result<Option<bool>, ()> {
            self.get(key).map(|v| v.as_bool().ok_or(())).transpose()
        }
    }

    pub(super) struct Writer(JsObject);

    impl Writer {
        pub(super) fn new() -> Self {
            Self(JsObject::new())
        }

        fn set(&mut self, key: &str, value: &JsValue) {
            // Setting a member of a plain object cannot fail.
            let _ = Reflect::set(&self.0, &JsValue::from_str(key), value);
        }

        pub(super) fn string(&mut self, key: &str, value: &str) {
            self.set(key, &JsValue::from_str(value));
        }

        pub(super) fn uint(&mut self, key: &str, value: u64) {
            self.set(key, &JsValue::from_f64(value as f64));
        }

        pub(super) fn boolean(&mut self, key: &str, value: bool) {
            self.set(key, &JsValue::from_bool(value));
        }

        pub(super) fn uints(&mut self, key: &str, values: &[u32]) {
            let array: Array = values.iter().map(|&v| JsValue::from(v)).collect();
            self.set(key, &array);
        }

        /// JavaScript objects keep the insertion order of string keys.
        pub(super) fn finish(self) -> String {
            // Strings, numbers, booleans and arrays of numbers always
            // stringify.
            JSON::stringify(&self.0)
                .map(String::from)
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn members_are_read_by_type() {
        let object = JsonObject::parse(
            br#"{"room":"standup","exp":1700000000,"publish":false,"sub":null,"n":-1,"f":1.5}"#,
        )
        .expect("an object");
        assert_eq!(object.required_string("room"), Ok("standup".to_owned()));
        assert_eq!(object.required_uint("exp"), Ok(1_700_000_000));
        assert_eq!(object.boolean("publish"), Ok(Some(false)));
        assert_eq!(object.string("sub"), Ok(None));
        assert!(!object.has("sub"));
        assert!(object.has("room"));
        assert_eq!(object.boolean("subscribe"), Ok(None));
        assert!(object.uint("n").is_err());
        assert!(object.uint("f").is_err());
        assert_eq!(
            object.string("exp"),
            Err(JsonError("`exp` must be a string".to_owned()))
        );
        assert_eq!(
            object.required_string("name"),
            Err(JsonError("`name` is missing".to_owned()))
        );
    }

    #[test]
    fn text_that_is_not_a_json_object_is_an_error() {
        assert!(JsonObject::parse(b"{room").is_err());
        assert!(JsonObject::parse(b"[1,2]").is_err());
        assert!(JsonObject::parse(b"\"text\"").is_err());
        assert!(JsonObject::parse(b"\xff").is_err());
    }

    #[test]
    fn members_are_written_in_order() {
        let json = JsonWriter::new()
            .string("room", "standup")
            .uint("exp", 7)
            .boolean("restored", true)
            .uints("recent", &[3, 1])
            .string_if("absent", None)
            .uint_if("iat", Some(5))
            .finish();
        assert_eq!(
            json,
            r#"{"room":"standup","exp":7,"restored":true,"recent":[3,1],"iat":5}"#
        );
        assert_eq!(JsonWriter::new().finish(), "{}");
    }

    proptest! {
        #[test]
        fn any_string_reads_back_as_written(key in "\\PC{0,12}", value in "\\PC{0,40}|[\"\\\\\\x00-\\x1f]{0,8}") {
            let json = JsonWriter::new().string(&key, &value).finish();
            let object = JsonObject::parse(json.as_bytes()).expect("writer output parses");
            prop_assert_eq!(object.string(&key), Ok(Some(value)));
        }
    }
}
