//! JSON for the few values hosts exchange as JSON (join token headers and
//! claims, the member a Worker hands its room, persisted socket state).
//!
//! Natively this is `serde_json`. In `wasm32-unknown-unknown` (the Worker,
//! the Durable Object, the browser) it is the JavaScript runtime's own
//! `JSON.parse` / `JSON.stringify`, with `serde-wasm-bindgen` turning Rust
//! values into JS ones and a small deserializer here reading them back,
//! which keeps a JSON parser and float formatting out of the wasm. The
//! same serde derives decide the shape either way.
//!
//! One difference: JavaScript numbers are doubles, so in wasm an integer
//! field accepts only safe integers (up to 2^53 − 1) and also takes `1.0`
//! or `1e3` spelled as floats, where serde_json takes any `u64` but no
//! float spelling.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value that could not be read from or written as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(String);

/// Parses `bytes` (UTF-8 JSON) into a `T`.
///
/// # Errors
///
/// [`JsonError`] when the text is not JSON or does not have `T`'s shape.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    imp::from_slice(bytes)
}

/// Parses JSON text into a `T`.
///
/// # Errors
///
/// [`JsonError`] when the text is not JSON or does not have `T`'s shape.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    imp::from_slice(text.as_bytes())
}

/// Writes `value` as compact JSON (fields in declaration order).
///
/// # Errors
///
/// [`JsonError`] when `value` cannot be represented (in wasm: an integer
/// beyond 2^53 − 1).
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, JsonError> {
    imp::to_string(value)
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod imp {
    use super::*;

    pub(super) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
        serde_json::from_slice(bytes).map_err(|e| JsonError(e.to_string()))
    }

    pub(super) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, JsonError> {
        serde_json::to_string(value).map_err(|e| JsonError(e.to_string()))
    }
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod imp {
    use super::*;
    use js_sys::JSON;
    use wasm_bindgen::{JsCast, JsValue};

    /// The message of a thrown JS error (e.g. `JSON.parse`'s SyntaxError).
    fn js_error(value: JsValue) -> JsonError {
        let message = value
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| value.as_string())
            .unwrap_or_else(|| "JavaScript error".to_owned());
        JsonError(message)
    }

    pub(super) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
        let text = core::str::from_utf8(bytes).map_err(|_| JsonError("not UTF-8".to_owned()))?;
        let value = JSON::parse(text).map_err(js_error)?;
        T::deserialize(de::Value(value)).map_err(|e| JsonError(e.0))
    }

    pub(super) fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, JsonError> {
        let value = value
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(|e| JsonError(e.to_string()))?;
        JSON::stringify(&value).map(String::from).map_err(js_error)
    }

    /// A serde deserializer over the value `JSON.parse` returned. It
    /// replaces serde-wasm-bindgen's for reading: its errors never format
    /// the offending value, which keeps float formatting (reached only
    /// through serde's `Unexpected::Float`) out of the Worker.
    mod de {
        use core::fmt;

        use js_sys::{Array, Number, Object};
        use serde::de::{
            self, DeserializeSeed, EnumAccess, Expected, IntoDeserializer, MapAccess, SeqAccess,
            Unexpected, VariantAccess, Visitor,
        };
        use wasm_bindgen::{JsCast, JsValue};

        /// Why a parsed value does not have the wanted shape.
        #[derive(Debug)]
        pub(in super::super) struct Error(pub(in super::super) String);

        impl fmt::Display for Error {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::error::Error for Error {}

        impl de::Error for Error {
            fn custom<T: fmt::Display>(msg: T) -> Self {
                Error(msg.to_string())
            }

            fn invalid_type(_: Unexpected<'_>, expected: &dyn Expected) -> Self {
                Error(format!("invalid type: expected {expected}"))
            }

            fn invalid_value(_: Unexpected<'_>, expected: &dyn Expected) -> Self {
                Error(format!("invalid value: expected {expected}"))
            }

            fn invalid_length(len: usize, expected: &dyn Expected) -> Self {
                Error(format!("invalid length {len}: expected {expected}"))
            }
        }

        /// A JSON value (null, bool, number, string, array or object).
        pub(in super::super) struct Value(pub(in super::super) JsValue);

        impl Value {
            /// The value does not have the shape `visitor` wants.
            fn mismatch<'de, V: Visitor<'de>>(&self, visitor: &V) -> Error {
                Error(format!(
                    "invalid type: expected {}",
                    visitor as &dyn Expected
                ))
            }

            /// The value as a whole number JavaScript represents exactly.
            fn integer(&self) -> Option<f64> {
                self.0.as_f64().filter(|_| Number::is_safe_integer(&self.0))
            }

            fn object_entries(&self) -> Option<Array> {
                match self.0.dyn_ref::<Object>() {
                    Some(object) if !Array::is_array(object) => Some(Object::entries(object)),
                    _ => None,
                }
            }
        }

        // Each method reads only the JS type it is asked for, so a type's
        // deserialisation carries one path, not every visitor method.
        impl<'de> de::Deserializer<'de> for Value {
            type Error = Error;

            fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                let value = &self.0;
                if value.is_null() || value.is_undefined() {
                    visitor.visit_unit()
                } else if let Some(b) = value.as_bool() {
                    visitor.visit_bool(b)
                } else if let Some(n) = self.integer() {
                    if n >= 0.0 {
                        visitor.visit_u64(n as u64)
                    } else {
                        visitor.visit_i64(n as i64)
                    }
                } else if let Some(n) = value.as_f64() {
                    visitor.visit_f64(n)
                } else if value.as_string().is_some() {
                    self.deserialize_string(visitor)
                } else if Array::is_array(value) {
                    self.deserialize_seq(visitor)
                } else {
                    self.deserialize_map(visitor)
                }
            }

            fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self.0.as_bool() {
                    Some(b) => visitor.visit_bool(b),
                    None => Err(self.mismatch(&visitor)),
                }
            }

            fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self.integer() {
                    Some(n) if n >= 0.0 => visitor.visit_u64(n as u64),
                    _ => Err(self.mismatch(&visitor)),
                }
            }

            fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_u64(visitor)
            }

            fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_u64(visitor)
            }

            fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_u64(visitor)
            }

            fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self.integer() {
                    Some(n) => visitor.visit_i64(n as i64),
                    None => Err(self.mismatch(&visitor)),
                }
            }

            fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_i64(visitor)
            }

            fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_i64(visitor)
            }

            fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_i64(visitor)
            }

            fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self.0.as_string() {
                    Some(s) => visitor.visit_string(s),
                    None => Err(self.mismatch(&visitor)),
                }
            }

            fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.deserialize_string(visitor)
            }

            fn deserialize_identifier<V: Visitor<'de>>(
                self,
                visitor: V,
            ) -> Result<V::Value, Error> {
                self.deserialize_string(visitor)
            }

            fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                if !Array::is_array(&self.0) {
                    return Err(self.mismatch(&visitor));
                }
                visitor.visit_seq(Seq {
                    items: self.0.unchecked_into(),
                    next: 0,
                })
            }

            fn deserialize_tuple<V: Visitor<'de>>(
                self,
                _len: usize,
                visitor: V,
            ) -> Result<V::Value, Error> {
                self.deserialize_seq(visitor)
            }

            fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                match self.object_entries() {
                    Some(entries) => visitor.visit_map(Map {
                        entries,
                        next: 0,
                        value: JsValue::UNDEFINED,
                    }),
                    None => Err(self.mismatch(&visitor)),
                }
            }

            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _name: &'static str,
                _fields: &'static [&'static str],
                visitor: V,
            ) -> Result<V::Value, Error> {
                self.deserialize_map(visitor)
            }

            fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                if self.0.is_null() || self.0.is_undefined() {
                    visitor.visit_unit()
                } else {
                    Err(self.mismatch(&visitor))
                }
            }

            /// The whole value is parsed already: nothing to skip.
            fn deserialize_ignored_any<V: Visitor<'de>>(
                self,
                visitor: V,
            ) -> Result<V::Value, Error> {
                visitor.visit_unit()
            }

            fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                if self.0.is_null() || self.0.is_undefined() {
                    visitor.visit_none()
                } else {
                    visitor.visit_some(self)
                }
            }

            fn deserialize_newtype_struct<V: Visitor<'de>>(
                self,
                _name: &'static str,
                visitor: V,
            ) -> Result<V::Value, Error> {
                visitor.visit_newtype_struct(self)
            }

            /// Externally tagged, as serde writes enums: `"Unit"` or
            /// `{"Variant": value}`.
            fn deserialize_enum<V: Visitor<'de>>(
                self,
                _name: &'static str,
                _variants: &'static [&'static str],
                visitor: V,
            ) -> Result<V::Value, Error> {
                if let Some(unit) = self.0.as_string() {
                    return visitor.visit_enum(unit.into_deserializer());
                }
                match self.object_entries() {
                    Some(entries) if entries.length() == 1 => {
                        let entry: Array = entries.get(0).unchecked_into();
                        visitor.visit_enum(Enum {
                            variant: entry.get(0),
                            value: entry.get(1),
                        })
                    }
                    _ => Err(self.mismatch(&visitor)),
                }
            }

            serde::forward_to_deserialize_any! {
                i128 u128 f32 f64 char bytes byte_buf unit_struct tuple_struct
            }
        }

        struct Seq {
            items: Array,
            next: u32,
        }

        impl<'de> SeqAccess<'de> for Seq {
            type Error = Error;

            fn next_element_seed<T: DeserializeSeed<'de>>(
                &mut self,
                seed: T,
            ) -> Result<Option<T::Value>, Error> {
                if self.next >= self.items.length() {
                    return Ok(None);
                }
                self.next += 1;
                seed.deserialize(Value(self.items.get(self.next - 1)))
                    .map(Some)
            }
        }

        struct Map {
            entries: Array,
            next: u32,
            value: JsValue,
        }

        impl<'de> MapAccess<'de> for Map {
            type Error = Error;

            fn next_key_seed<K: DeserializeSeed<'de>>(
                &mut self,
                seed: K,
            ) -> Result<Option<K::Value>, Error> {
                if self.next >= self.entries.length() {
                    return Ok(None);
                }
                let entry: Array = self.entries.get(self.next).unchecked_into();
                self.next += 1;
                self.value = entry.get(1);
                seed.deserialize(Value(entry.get(0))).map(Some)
            }

            fn next_value_seed<V: DeserializeSeed<'de>>(
                &mut self,
                seed: V,
            ) -> Result<V::Value, Error> {
                seed.deserialize(Value(core::mem::replace(
                    &mut self.value,
                    JsValue::UNDEFINED,
                )))
            }
        }

        struct Enum {
            variant: JsValue,
            value: JsValue,
        }

        impl<'de> EnumAccess<'de> for Enum {
            type Error = Error;
            type Variant = Value;

            fn variant_seed<V: DeserializeSeed<'de>>(
                self,
                seed: V,
            ) -> Result<(V::Value, Value), Error> {
                Ok((seed.deserialize(Value(self.variant))?, Value(self.value)))
            }
        }

        impl<'de> VariantAccess<'de> for Value {
            type Error = Error;

            fn unit_variant(self) -> Result<(), Error> {
                Ok(())
            }

            fn newtype_variant_seed<T: DeserializeSeed<'de>>(
                self,
                seed: T,
            ) -> Result<T::Value, Error> {
                seed.deserialize(self)
            }

            fn tuple_variant<V: Visitor<'de>>(
                self,
                _len: usize,
                visitor: V,
            ) -> Result<V::Value, Error> {
                de::Deserializer::deserialize_any(self, visitor)
            }

            fn struct_variant<V: Visitor<'de>>(
                self,
                _fields: &'static [&'static str],
                visitor: V,
            ) -> Result<V::Value, Error> {
                de::Deserializer::deserialize_any(self, visitor)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::room::Member;

    #[test]
    fn a_member_survives_the_round_trip() {
        let member = Member::verified("Ada", "u-1");
        let text = to_string(&member).expect("json");
        assert_eq!(from_str::<Member>(&text).expect("parse"), member);
    }

    #[test]
    fn text_that_is_not_json_is_an_error() {
        assert!(from_str::<Member>("{name").is_err());
    }
}
