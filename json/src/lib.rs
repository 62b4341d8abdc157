//! Strict JSON decoding for every zkmargin input file (SPEC section 2: "every input file
//! is strict").
//!
//! serde's derived `Deserialize` and serde_json together accept more than a JSON object
//! where a struct is expected: a JSON array is read as the struct's fields in order
//! (`"loss_factor": ["1.0", "0.8"]`), which bypasses every key-name check (two swapped
//! rates would pass unnoticed); and `serde_json::from_str` is the only entry point that
//! refuses text after the value, which the streaming deserializer does not. [`decode`]
//! refuses both, and names the JSON path of the fault:
//!
//! - a struct must be written as a JSON object ([`ObjectsOnly`] wraps the deserializer,
//!   and every deserializer it hands to nested values, so the rule holds at every depth —
//!   except inside `#[serde(untagged)]`, internally tagged (`tag = "…"`) enums and
//!   `#[serde(flatten)]` fields, which serde replays from its own buffer: input types
//!   must not use them, and none does);
//! - nothing but whitespace may follow the value;
//! - an error carries the path of the field at fault (`accounts[1].positions[0].qty`),
//!   found by a second, path-tracking pass only when the first one fails, so that good
//!   input decodes at full speed.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected, VariantAccess,
    Visitor,
};

/// Why a text was refused: the JSON path of the fault (empty for the whole document)
/// and serde's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// JSON path of the field at fault (`accounts[1].positions[0].qty`), or empty.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "field `{}`: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JsonError {}

/// Decodes `text` as `T` strictly (see the crate doc).
pub fn decode<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    if let Ok(value) = T::deserialize(ObjectsOnly(&mut *de)) {
        if de.end().is_ok() {
            return Ok(value);
        }
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(ObjectsOnly(&mut *de)).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." || path == "?" { String::new() } else { path };
        let message = err.into_inner().to_string();
        // serde names a missing field in its message; make it part of the path.
        let path = match message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            Some(field) if path.is_empty() => field.to_string(),
            Some(field) => format!("{path}.{field}"),
            None => path,
        };
        JsonError { path, message }
    })?;
    de.end().map_err(|e| JsonError { path: String::new(), message: format!("{e} after the JSON value") })?;
    Ok(value)
}

/// A deserializer that reads structs from JSON objects only; every value nested in
/// what it reads is read through an `ObjectsOnly` too.
pub struct ObjectsOnly<D>(pub D);

/// A visitor wrapper: its maps, sequences, options and enums hand out [`ObjectsOnly`]
/// deserializers; with `object`, it is a struct's visitor and refuses a sequence.
struct Strict<V> {
    inner: V,
    object: bool,
}

impl<V> Strict<V> {
    fn plain(inner: V) -> Self {
        Strict { inner, object: false }
    }
}

/// A seed whose deserializer is wrapped in [`ObjectsOnly`].
struct Seed<S>(S);

/// Sequence, map, enum and variant access whose seeds are wrapped in [`Seed`].
struct Access<A>(A);

macro_rules! forward_deserialize {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.0.$method(Strict::plain(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Strict::plain(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Strict::plain(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Strict::plain(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Strict::plain(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, Strict { inner: visitor, object: true })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Strict::plain(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Strict<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.object {
            f.write_str("a JSON object")
        } else {
            self.inner.expecting(f)
        }
    }

    forward_visit!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
        visit_str: &str,
        visit_borrowed_str: &'de str,
        visit_string: String,
        visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8],
        visit_byte_buf: Vec<u8>,
    );

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(ObjectsOnly(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(ObjectsOnly(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if self.object {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        self.inner.visit_seq(Access(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(Access(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(Access(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ObjectsOnly(deserializer))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Access<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Access<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Access<A> {
    type Error = A::Error;
    type Variant = Access<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        self.0.variant_seed(Seed(seed)).map(|(value, variant)| (value, Access(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Access<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Strict::plain(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], visitor: V) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Strict { inner: visitor, object: true })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Rates {
        initial: String,
        maintenance: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        name: String,
        rates: Rates,
        #[serde(default)]
        extra: Option<Rates>,
        tags: Vec<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        version: u32,
        entries: Vec<Entry>,
    }

    const GOOD: &str = r#"{"version": 1, "entries": [
        {"name": "a", "rates": {"initial": "1", "maintenance": "0.8"}, "tags": []},
        {"name": "b", "rates": {"initial": "2", "maintenance": "1"}, "extra": {"initial": "3", "maintenance": "4"}, "tags": ["x"]}
    ]}"#;

    fn refused(text: &str) -> JsonError {
        decode::<Doc>(text).expect_err("must be refused")
    }

    #[test]
    fn an_object_decodes_as_serde_json_does() {
        let strict: Doc = decode(GOOD).unwrap();
        let plain: Doc = serde_json::from_str(GOOD).unwrap();
        assert_eq!(strict, plain);
        assert_eq!(strict.entries[1].extra.as_ref().unwrap().maintenance, "4");
    }

    #[test]
    fn a_struct_written_as_an_array_is_refused_at_every_depth() {
        // serde_json alone accepts each of these (fields by position).
        let nested = GOOD.replace(r#"{"initial": "1", "maintenance": "0.8"}"#, r#"["0.8", "1"]"#);
        assert!(serde_json::from_str::<Doc>(&nested).is_ok());
        let err = refused(&nested);
        assert_eq!(err.path, "entries[0].rates");
        assert!(err.message.contains("expected a JSON object"), "{err}");

        let in_option = GOOD.replace(r#"{"initial": "3", "maintenance": "4"}"#, r#"["3", "4"]"#);
        assert_eq!(refused(&in_option).path, "entries[1].extra");

        let element = r#"{"version": 1, "entries": [["a", {"initial": "1", "maintenance": "1"}, null, []]]}"#;
        assert!(serde_json::from_str::<Doc>(element).is_ok());
        assert_eq!(refused(element).path, "entries[0]");

        let root = r#"[1, []]"#;
        assert!(serde_json::from_str::<Doc>(root).is_ok());
        let err = refused(root);
        assert_eq!(err.path, "");
        assert!(err.message.contains("expected a JSON object") && !err.message.contains("Doc"), "{err}");
    }

    #[test]
    fn text_after_the_value_is_refused() {
        for tail in ["garbage", "{}", "]", "{\"version\": 2}", "1"] {
            let text = format!("{GOOD}{tail}");
            let err = refused(&text);
            assert!(err.message.contains("trailing characters"), "{tail}: {err}");
        }
        // Whitespace after the value is fine.
        assert!(decode::<Doc>(&format!("{GOOD}\n\t \n")).is_ok());
    }

    #[test]
    fn errors_name_the_path() {
        let unknown = GOOD.replace(r#""tags": ["x"]"#, r#""tags": ["x"], "tag": 1"#);
        let err = refused(&unknown);
        assert_eq!(err.path, "entries[1].tag");
        assert!(err.message.contains("unknown field `tag`"), "{err}");

        let missing = GOOD.replace(r#", "tags": []"#, "");
        let err = refused(&missing);
        assert_eq!(err.path, "entries[0].tags");

        let wrong_type = GOOD.replace(r#""name": "a""#, r#""name": 7"#);
        assert_eq!(refused(&wrong_type).path, "entries[0].name");
        assert_eq!(
            refused(&wrong_type).to_string(),
            "field `entries[0].name`: invalid type: integer `7`, expected a string at line 2 column 18"
        );
    }

    #[test]
    fn enums_and_sequences_still_decode() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum Mode {
            Portfolio,
            Standard,
        }
        #[derive(Debug, Deserialize, PartialEq)]
        enum Shape {
            Point { x: i32 },
            Pair(i32, i32),
        }
        assert_eq!(decode::<Vec<Mode>>(r#"["portfolio", "standard"]"#).unwrap(), vec![Mode::Portfolio, Mode::Standard]);
        assert_eq!(decode::<Shape>(r#"{"Pair": [1, 2]}"#).unwrap(), Shape::Pair(1, 2));
        assert_eq!(decode::<Shape>(r#"{"Point": {"x": 3}}"#).unwrap(), Shape::Point { x: 3 });
        assert!(decode::<Shape>(r#"{"Point": [3]}"#).is_err());
        assert_eq!(decode::<(u8, String)>(r#"[1, "a"]"#).unwrap(), (1, "a".to_string()));
        let value: serde_json::Value = decode(r#"{"a": [1, {"b": null}]}"#).unwrap();
        assert_eq!(value["a"][1]["b"], serde_json::Value::Null);
    }
}
