//! A record's size as a DynamoDB item, computed the way serde_dynamo would map it (structs and
//! maps to M, sequences to L, strings and unit variants to S, numbers to N, booleans to BOOL,
//! `None` to NULL) but without building the item: the simulator sizes millions of them. A test
//! holds it to `meter::item_size` of the real mapping.

use serde::ser::{self, Impossible, Serialize};

/// The size of `record` stored as an item under a key of these lengths.
pub(super) fn record_size(pk: &str, sk: &str, record: &impl Serialize) -> usize {
    let body = record.serialize(Size).map_or(0, |sized| sized.attributes());
    "pk".len() + pk.len() + "sk".len() + sk.len() + body
}

/// What a value serialized to: a struct or map (its attributes, and how many), or one value.
enum Measured {
    Item { bytes: usize, members: usize },
    Value(usize),
}

impl Measured {
    /// At the top of an item: the attributes alone.
    fn attributes(self) -> usize {
        match self {
            Measured::Item { bytes, .. } | Measured::Value(bytes) => bytes,
        }
    }

    /// Nested in a map or list: 3 bytes, plus one a member.
    fn nested(self) -> usize {
        match self {
            Measured::Item { bytes, members } => 3 + bytes + members,
            Measured::Value(bytes) => bytes,
        }
    }
}

#[derive(Debug)]
struct Unsized;

impl std::fmt::Display for Unsized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot size this value")
    }
}

impl std::error::Error for Unsized {}

impl ser::Error for Unsized {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unsized
    }
}

fn number(text: &str) -> usize {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.max(1).div_ceil(2) + 1
}

struct Size;

/// Sums the attributes of a struct or map, or the elements of a sequence.
#[derive(Default)]
struct Members {
    bytes: usize,
    members: usize,
    list: bool,
    pending_key: usize,
}

impl Members {
    fn add(&mut self, name: usize, value: Measured) {
        self.bytes += name + value.nested();
        self.members += 1;
    }

    fn done(self) -> Result<Measured, Unsized> {
        Ok(if self.list {
            Measured::Value(3 + self.bytes + self.members)
        } else {
            Measured::Item {
                bytes: self.bytes,
                members: self.members,
            }
        })
    }
}

/// Integers without formatting them: trailing zeros are not significant.
pub(super) fn integer(mut v: u128) -> usize {
    if v == 0 {
        return 2;
    }
    while v % 10 == 0 {
        v /= 10;
    }
    let digits = v.ilog10() as usize + 1;
    digits.div_ceil(2) + 1
}

macro_rules! integers {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result<Measured, Unsized> {
            Ok(Measured::Value(integer(v.unsigned_abs() as u128)))
        })*
    };
}

macro_rules! naturals {
    ($($method:ident: $ty:ty),*) => {
        $(fn $method(self, v: $ty) -> Result<Measured, Unsized> {
            Ok(Measured::Value(integer(v as u128)))
        })*
    };
}

impl ser::Serializer for Size {
    type Ok = Measured;
    type Error = Unsized;
    type SerializeSeq = Members;
    type SerializeTuple = Members;
    type SerializeTupleStruct = Members;
    type SerializeTupleVariant = Impossible<Measured, Unsized>;
    type SerializeMap = Members;
    type SerializeStruct = Members;
    type SerializeStructVariant = Impossible<Measured, Unsized>;

    integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64);
    naturals!(serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);

    fn serialize_f32(self, v: f32) -> Result<Measured, Unsized> {
        Ok(Measured::Value(number(&v.to_string())))
    }
    fn serialize_f64(self, v: f64) -> Result<Measured, Unsized> {
        Ok(Measured::Value(number(&v.to_string())))
    }

    fn serialize_bool(self, _: bool) -> Result<Measured, Unsized> {
        Ok(Measured::Value(1))
    }
    fn serialize_char(self, v: char) -> Result<Measured, Unsized> {
        Ok(Measured::Value(v.len_utf8()))
    }
    fn serialize_str(self, v: &str) -> Result<Measured, Unsized> {
        Ok(Measured::Value(v.len()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Measured, Unsized> {
        Ok(Measured::Value(v.len()))
    }
    fn serialize_none(self) -> Result<Measured, Unsized> {
        Ok(Measured::Value(1))
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Measured, Unsized> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Measured, Unsized> {
        Ok(Measured::Value(1))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Measured, Unsized> {
        Ok(Measured::Value(1))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Measured, Unsized> {
        Ok(Measured::Value(variant.len()))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Measured, Unsized> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Measured, Unsized> {
        Ok(Measured::Item {
            bytes: variant.len() + value.serialize(Size)?.nested(),
            members: 1,
        })
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Members, Unsized> {
        Ok(Members {
            list: true,
            ..Members::default()
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Members, Unsized> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Members, Unsized> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsized> {
        Err(Unsized)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Members, Unsized> {
        Ok(Members::default())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Members, Unsized> {
        Ok(Members::default())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsized> {
        Err(Unsized)
    }
    fn collect_str<T: ?Sized + std::fmt::Display>(self, value: &T) -> Result<Measured, Unsized> {
        Ok(Measured::Value(value.to_string().len()))
    }
}

impl ser::SerializeSeq for Members {
    type Ok = Measured;
    type Error = Unsized;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unsized> {
        let value = value.serialize(Size)?;
        self.add(0, value);
        Ok(())
    }
    fn end(self) -> Result<Measured, Unsized> {
        self.done()
    }
}

impl ser::SerializeTuple for Members {
    type Ok = Measured;
    type Error = Unsized;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unsized> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Measured, Unsized> {
        self.done()
    }
}

impl ser::SerializeTupleStruct for Members {
    type Ok = Measured;
    type Error = Unsized;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unsized> {
        ser::SerializeSeq::serialize_element(self, value)
    }
    fn end(self) -> Result<Measured, Unsized> {
        self.done()
    }
}

impl ser::SerializeMap for Members {
    type Ok = Measured;
    type Error = Unsized;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), Unsized> {
        // Map keys are names: serde_dynamo writes a number key as its digits.
        self.pending_key = match serde_json::to_value(key).map_err(|_| Unsized)? {
            serde_json::Value::String(name) => name.len(),
            other => other.to_string().len(),
        };
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), Unsized> {
        let value = value.serialize(Size)?;
        let name = std::mem::take(&mut self.pending_key);
        self.add(name, value);
        Ok(())
    }
    fn end(self) -> Result<Measured, Unsized> {
        self.done()
    }
}

impl ser::SerializeStruct for Members {
    type Ok = Measured;
    type Error = Unsized;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Unsized> {
        let value = value.serialize(Size)?;
        self.add(name.len(), value);
        Ok(())
    }
    fn end(self) -> Result<Measured, Unsized> {
        self.done()
    }
}
