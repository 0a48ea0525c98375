//! Records as compact JSON: byte for byte what `serde_json::to_writer` writes, in fewer steps.
//!
//! serde_json escapes a string one byte at a time, and in a module every turn of a loop also pays the host's
//! deadline check: the default rule spent a quarter of its time there. This writer checks eight bytes at a time
//! and appends clean words whole. What it does not cover (serde_json's raw values, map keys that are not strings,
//! integers or booleans, a `Serialize` impl's own error) it hands back, and serde_json writes the value instead, so
//! the output is always serde_json's (`tests` compares the two).

use std::fmt;
use std::mem::MaybeUninit;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// Appends `value` as compact JSON to `out`; `Err` (with `out` as it was) when serde_json must write it instead.
pub(crate) fn write(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) -> Result<(), Unsupported> {
    let start = out.len();
    value.serialize(&mut Writer { out }).inspect_err(|_| out.truncate(start))
}

/// A value this writer leaves to serde_json.
#[derive(Debug)]
pub(crate) struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to serde_json")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Unsupported
    }
}

/// serde_json's private names for its raw values and numbers: only serde_json can write those.
fn private(name: &str) -> bool {
    name.starts_with("$serde_json::private::")
}

/// Per byte: 0 (written as is), `u` (`\u00XX`), or the letter after the backslash.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0A] = b'n';
    table[0x0C] = b'f';
    table[0x0D] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Whether any of the eight bytes needs escaping: a control character, `"` or `\` (exact, no false positives).
fn needs_escape(word: u64) -> bool {
    let zero_in = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    (control | zero_in(word ^ (ONES * b'"' as u64)) | zero_in(word ^ (ONES * b'\\' as u64))) != 0
}

/// Appends `text` as a JSON string. In a module every turn of a loop pays the host's deadline check, and a copy
/// of a length the compiler cannot see is wasm's `memory.copy`, a call out to the host: so clean text is checked
/// and written as whole words (`append_clean`), and only a word that needs escaping goes a byte at a time.
fn escape(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        rest = &rest[append_clean(out, rest)..];
        let (dirty, after) = rest.split_at(rest.len().min(8));
        dirty.iter().for_each(|&byte| escape_byte(out, byte));
        rest = after;
    }
    out.push(b'"');
}

/// Appends text that needs no escaping (digits, `true`) as `append_clean` writes it.
fn append(out: &mut Vec<u8>, text: &[u8]) {
    let written = append_clean(out, text);
    if written < text.len() {
        // Not reached by digits or `true`; a copy rather than a lost byte if a caller ever passes other text.
        out.extend_from_slice(&text[written..]);
    }
}

/// Appends the start of `bytes` up to the first eight-byte word that needs escaping (all of `bytes` when none
/// does), and returns its length. Words go into the vector's spare capacity, its length set once: pushing them
/// one by one made the module reload the vector's length and capacity after every store. The last few bytes are
/// written as the text's last whole word, overlapping the word before it; texts shorter than a word as two
/// overlapping halves, or (under four bytes) as their first, middle and last byte.
fn append_clean(out: &mut Vec<u8>, bytes: &[u8]) -> usize {
    out.reserve(bytes.len());
    let start = out.len();
    let written = copy_clean(&mut out.spare_capacity_mut()[..bytes.len()], bytes);
    // SAFETY: `copy_clean` initialised the first `written` bytes of the spare capacity, which `reserve` made.
    unsafe { out.set_len(start + written) };
    written
}

/// Copies `from` into `to` (as long) up to the first word that needs escaping; returns how many bytes it copied.
fn copy_clean(to: &mut [MaybeUninit<u8>], from: &[u8]) -> usize {
    let n = from.len();
    if n < 8 {
        return copy_short(to, from);
    }
    let mut done = 0;
    for (word, slot) in from.chunks_exact(8).zip(to.chunks_exact_mut(8)) {
        let word = <[u8; 8]>::try_from(word).expect("eight bytes");
        if needs_escape(u64::from_ne_bytes(word)) {
            return done;
        }
        put(slot, word);
        done += 8;
    }
    let last = *from.last_chunk::<8>().expect("eight bytes or more");
    if done < n && !needs_escape(u64::from_ne_bytes(last)) {
        put(&mut to[n - 8..], last);
        done = n;
    }
    done
}

/// `copy_clean` for fewer than eight bytes: all or nothing.
fn copy_short(to: &mut [MaybeUninit<u8>], from: &[u8]) -> usize {
    let n = from.len();
    if n >= 4 {
        let (head, tail) = (*from.first_chunk::<4>().expect("four"), *from.last_chunk::<4>().expect("four"));
        if needs_escape(u64::from(u32::from_ne_bytes(head)) | u64::from(u32::from_ne_bytes(tail)) << 32) {
            return 0;
        }
        put(&mut to[n - 4..], tail);
        put(to, head);
    } else if n > 0 {
        let (first, middle, last) = (from[0], from[n / 2], from[n - 1]);
        // Five spaces (clean) fill the word the three bytes are checked in.
        if needs_escape(u64::from_ne_bytes([first, middle, last, b' ', b' ', b' ', b' ', b' '])) {
            return 0;
        }
        to[n - 1].write(last);
        to[n / 2].write(middle);
        to[0].write(first);
    }
    n
}

/// Writes `bytes` at the start of `to`.
fn put<const N: usize>(to: &mut [MaybeUninit<u8>], bytes: [u8; N]) {
    let to: &mut [MaybeUninit<u8>; N] = (&mut to[..N]).try_into().expect("N bytes");
    *to = bytes.map(MaybeUninit::new);
}

fn escape_byte(out: &mut Vec<u8>, byte: u8) {
    match ESCAPE[byte as usize] {
        0 => out.push(byte),
        escape => write_escape(out, escape, byte),
    }
}

fn write_escape(out: &mut Vec<u8>, escape: u8, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    if escape == b'u' {
        out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(byte >> 4) as usize], HEX[(byte & 0xF) as usize]]);
    } else {
        out.extend_from_slice(&[b'\\', escape]);
    }
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    fn raw(&mut self, text: &str) -> Result<(), Unsupported> {
        self.out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    /// A float, by serde_json's own formatter (so written exactly as it writes it; NaN and the infinities as
    /// `null`). Integers are written by the one serde_json uses, itoa.
    fn float(&mut self, value: impl Serialize) -> Result<(), Unsupported> {
        serde_json::to_writer(&mut *self.out, &value).map_err(|_| Unsupported)
    }

    /// `{"variant":` before a variant's value; what writes the value closes the object after it.
    fn open_variant(&mut self, variant: &str) {
        self.out.push(b'{');
        escape(self.out, variant);
        self.out.push(b':');
    }

    fn compound<'s>(&'s mut self, open: u8, close: &'static [u8]) -> Compound<'s, 'a> {
        self.out.push(open);
        Compound { writer: self, first: true, close }
    }
}

/// An array or object being written: commas between members, `close` at the end.
struct Compound<'s, 'a> {
    writer: &'s mut Writer<'a>,
    first: bool,
    close: &'static [u8],
}

impl Compound<'_, '_> {
    #[inline]
    fn comma(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.writer.out.push(b',');
        }
    }

    fn element(&mut self, value: &(impl Serialize + ?Sized)) -> Result<(), Unsupported> {
        self.comma();
        value.serialize(&mut *self.writer)
    }

    fn field(&mut self, key: &str, value: &(impl Serialize + ?Sized)) -> Result<(), Unsupported> {
        self.comma();
        escape(self.writer.out, key);
        self.writer.out.push(b':');
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), Unsupported> {
        self.writer.out.extend_from_slice(self.close);
        Ok(())
    }
}

macro_rules! integers {
    ($($method:ident: $type:ty),*) => {
        $(fn $method(self, value: $type) -> Result<(), Unsupported> {
            append(self.out, itoa::Buffer::new().format(value).as_bytes());
            Ok(())
        })*
    };
}

impl<'s, 'a> ser::Serializer for &'s mut Writer<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'s, 'a>;
    type SerializeTuple = Compound<'s, 'a>;
    type SerializeTupleStruct = Compound<'s, 'a>;
    type SerializeTupleVariant = Compound<'s, 'a>;
    type SerializeMap = Compound<'s, 'a>;
    type SerializeStruct = Compound<'s, 'a>;
    type SerializeStructVariant = Compound<'s, 'a>;

    integers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);

    fn serialize_bool(self, value: bool) -> Result<(), Unsupported> {
        self.raw(if value { "true" } else { "false" })
    }

    fn serialize_f32(self, value: f32) -> Result<(), Unsupported> {
        self.float(value)
    }

    fn serialize_f64(self, value: f64) -> Result<(), Unsupported> {
        self.float(value)
    }

    fn serialize_char(self, value: char) -> Result<(), Unsupported> {
        escape(self.out, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, value: &str) -> Result<(), Unsupported> {
        escape(self.out, value);
        Ok(())
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), Unsupported> {
        let mut array = self.compound(b'[', b"]");
        value.iter().try_for_each(|byte| array.element(byte))?;
        array.close()
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.raw("null")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.raw("null")
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unsupported> {
        self.raw("null")
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Unsupported> {
        escape(self.out, variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<(), Unsupported> {
        if private(name) {
            return Err(Unsupported);
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.raw("}")
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'s, 'a>, Unsupported> {
        Ok(self.compound(b'[', b"]"))
    }

    fn serialize_tuple(self, _: usize) -> Result<Compound<'s, 'a>, Unsupported> {
        Ok(self.compound(b'[', b"]"))
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Compound<'s, 'a>, Unsupported> {
        Ok(self.compound(b'[', b"]"))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'s, 'a>, Unsupported> {
        self.open_variant(variant);
        Ok(self.compound(b'[', b"]}"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'s, 'a>, Unsupported> {
        Ok(self.compound(b'{', b"}"))
    }

    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Compound<'s, 'a>, Unsupported> {
        if private(name) {
            return Err(Unsupported);
        }
        Ok(self.compound(b'{', b"}"))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'s, 'a>, Unsupported> {
        self.open_variant(variant);
        Ok(self.compound(b'{', b"}}"))
    }
}

macro_rules! sequence {
    ($($trait:ident :: $method:ident),*) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Unsupported;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
                self.element(value)
            }

            fn end(self) -> Result<(), Unsupported> {
                self.close()
            }
        })*
    };
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

macro_rules! object {
    ($($trait:ident),*) => {
        $(impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Unsupported;

            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Unsupported> {
                self.field(key, value)
            }

            fn end(self) -> Result<(), Unsupported> {
                self.close()
            }
        })*
    };
}

object!(SerializeStruct, SerializeStructVariant);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.comma();
        key.serialize(Key { out: self.writer.out })?;
        self.writer.out.push(b':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(&mut *self.writer)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.close()
    }
}

/// A map key: JSON object keys are strings, so integers and booleans are written quoted, as serde_json does.
struct Key<'a> {
    out: &'a mut Vec<u8>,
}

impl Key<'_> {
    fn quoted(self, text: &[u8]) -> Result<(), Unsupported> {
        self.out.push(b'"');
        append(self.out, text);
        self.out.push(b'"');
        Ok(())
    }
}

macro_rules! integer_keys {
    ($($method:ident: $type:ty),*) => {
        $(fn $method(self, value: $type) -> Result<(), Unsupported> {
            self.quoted(itoa::Buffer::new().format(value).as_bytes())
        })*
    };
}

macro_rules! unsupported_keys {
    ($($method:ident($($arg:ty),*) -> $ok:ty),*) => {
        $(fn $method(self, $(_: $arg),*) -> Result<$ok, Unsupported> {
            Err(Unsupported)
        })*
    };
}

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    integer_keys!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
        serialize_u128: u128);

    unsupported_keys!(serialize_f32(f32) -> (), serialize_f64(f64) -> (), serialize_bytes(&[u8]) -> (),
        serialize_none() -> (), serialize_unit() -> (), serialize_unit_struct(&'static str) -> (),
        serialize_seq(Option<usize>) -> Self::SerializeSeq, serialize_tuple(usize) -> Self::SerializeTuple,
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct,
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant,
        serialize_map(Option<usize>) -> Self::SerializeMap,
        serialize_struct(&'static str, usize) -> Self::SerializeStruct,
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant);

    fn serialize_bool(self, value: bool) -> Result<(), Unsupported> {
        self.quoted(if value { b"true" } else { b"false" })
    }

    fn serialize_char(self, value: char) -> Result<(), Unsupported> {
        escape(self.out, value.encode_utf8(&mut [0; 4]));
        Ok(())
    }

    fn serialize_str(self, value: &str) -> Result<(), Unsupported> {
        escape(self.out, value);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<(), Unsupported> {
        escape(self.out, variant);
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> Result<(), Unsupported> {
        if private(name) {
            return Err(Unsupported);
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Serialize;
    use serde_json::json;

    use super::*;

    /// Written by this writer, and exactly as serde_json writes it.
    fn ours(value: &(impl Serialize + ?Sized)) {
        let mut out = b"before".to_vec();
        write(&mut out, value).expect("this writer covers the value");
        let expected = serde_json::to_vec(value).expect("serde_json writes it");
        assert_eq!(String::from_utf8_lossy(&out[6..]), String::from_utf8_lossy(&expected));
    }

    /// Left to serde_json, with the buffer as it was.
    fn left(value: &(impl Serialize + ?Sized)) {
        let mut out = b"before".to_vec();
        assert!(write(&mut out, value).is_err());
        assert_eq!(out, b"before");
    }

    #[test]
    fn every_character_at_every_offset_of_a_word_is_escaped_as_serde_json_does() {
        let specials = (0u8..0x80).map(char::from).chain(['é', '€', '😀', '\u{2028}', '\u{7f}']);
        for special in specials {
            for offset in 0..17 {
                let mut text: String = "abcdefghijklmnopq".chars().take(offset).collect();
                text.push(special);
                text.push_str("rstuvwxyz0123456789");
                ours(&text);
                ours(&text[..offset + special.len_utf8()]);
            }
        }
        ours(&"\"\\\n".repeat(40));
        let clean = "abcdefghij".repeat(5);
        (0..clean.len()).for_each(|length| ours(&clean[..length]));
    }

    #[test]
    fn integers_of_every_length_are_written_as_serde_json_writes_them() {
        for shift in 0..64 {
            let value = u64::MAX >> shift;
            ours(&(value, -((value >> 1) as i64), value as i128 * -1000, value as u128 * 1000, shift as u8));
        }
    }

    #[derive(Serialize)]
    enum Shape {
        Unit,
        Newtype(u8),
        Tuple(i32, String),
        Struct { a: Option<bool>, b: Vec<u16> },
    }

    #[derive(Serialize)]
    struct UnitStruct;

    #[derive(Serialize)]
    struct Wrapper(&'static str);

    #[derive(Serialize)]
    struct Pair(i8, f32);

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Typed<'a> {
        text: &'a str,
        none: Option<i64>,
        some: Option<&'a str>,
        chars: [char; 3],
        shapes: Vec<Shape>,
        unit: (),
        unit_struct: UnitStruct,
        wrapper: Wrapper,
        pair: Pair,
        extremes: (i64, u64, i128, u128, i8),
        floats: [f64; 7],
        small: f32,
        int_keys: BTreeMap<i32, &'a str>,
        bool_keys: BTreeMap<bool, u8>,
        char_keys: HashMap<char, u8>,
        unit_keys: BTreeMap<Key, u8>,
        #[serde(rename = "_id")]
        id: &'a str,
    }

    #[derive(Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        First,
    }

    #[test]
    fn records_of_every_serde_shape_are_written_as_serde_json_writes_them() {
        let typed = Typed {
            text: "tel:+1555\t\"x\"",
            none: None,
            some: Some("a\u{1}b"),
            chars: ['a', '"', '\u{1f}'],
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(-3, "t".into()),
                Shape::Struct { a: None, b: vec![] },
                Shape::Struct { a: Some(true), b: vec![1, 2] },
            ],
            unit: (),
            unit_struct: UnitStruct,
            wrapper: Wrapper("w"),
            pair: Pair(-128, 1.5),
            extremes: (i64::MIN, u64::MAX, i128::MIN, u128::MAX, 0),
            floats: [0.1, -0.0, 1e300, 5e-324, f64::NAN, f64::INFINITY, 1.0],
            small: f32::MAX,
            int_keys: [(-1, "minus"), (2, "two")].into(),
            bool_keys: [(true, 1), (false, 0)].into(),
            char_keys: [('k', 1)].into(),
            unit_keys: [(Key::First, 1)].into(),
            id: "e-1",
        };
        ours(&typed);
        ours(&json!({"a": [1, -2, 3.25, null, true, {"b": {}}, []], "c\"d": "é😀", "": [[[]]]}));
        ours(&Vec::<u8>::new());
        ours(&Some(Shape::Unit));
        struct Bytes(&'static [u8]);
        impl Serialize for Bytes {
            fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_bytes(self.0)
            }
        }
        ours(&(Bytes(&[0, 1, 255]), Bytes(&[])));
    }

    #[test]
    fn what_only_serde_json_can_write_is_left_to_it() {
        let raw = serde_json::value::RawValue::from_string("{\"a\": 1}".into()).unwrap();
        left(&json!({"ok": 1, "raw": raw}).as_object().map(|_| &raw));
        left(&BTreeMap::from([((1, 2), "tuple key")]));
        left(&HashMap::from([(Some(1), "option key")]));
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: ser::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(ser::Error::custom("no"))
            }
        }
        left(&[Fails]);
    }

    #[test]
    fn the_word_check_finds_exactly_the_bytes_that_need_escaping() {
        for byte in 0..=255u8 {
            for place in 0..8 {
                let mut word = [b'a'; 8];
                word[place] = byte;
                assert_eq!(needs_escape(u64::from_ne_bytes(word)), ESCAPE[byte as usize] != 0, "{byte:#x} at {place}");
            }
        }
    }
}
