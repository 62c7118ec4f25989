//! MessagePack values as JSON values with their binary beside them: the value layer of the
//! msgpack Socket.IO parser (`socketio/msgpack.rs`), reusable by anything else that speaks
//! notepack's msgpack (the Redis adapter's wire format).
//!
//! Decoding turns every msgpack `bin` into a `{"_placeholder":true,"num":i}` object and collects
//! the bytes (zero-copy slices of the input) in order, so the layers above see the same model as
//! with the text parser's attachments. Encoding does the reverse: a placeholder naming one of the
//! given binaries is written as `bin`. The encoder makes notepack's choices (reference section
//! 4.6): integers in their smallest form (also integral floats, since JavaScript cannot tell them
//! apart), other numbers as float 64, the smallest str/bin/array/map headers.
//!
//! notepack's extensions are read as it reads them: fixext 1 of type 0 is `undefined` (absent in a
//! map, `null` in an array), fixext 8 of type 0 a `Date` (its ISO 8601 text, what `JSON.stringify`
//! makes of it), ext 8/16/32 of type 0 an `ArrayBuffer` (binary), any other extension
//! `[type, <binary>]`. notepack 3 (the Redis adapter's and emitter's) also reads msgpack's
//! timestamp extension (type -1: 32, 64 and 96 bits) as a `Date`, and so does a reader made with
//! [`Reader::notepack3`]; notepack 2 (the msgpack Socket.IO parser's) leaves it `[-1, <binary>]`,
//! as [`Reader::new`] does. Map keys must be strings or scalars (scalars become their text). NaN and
//! infinities, which JSON cannot hold, become `null`.
//!
//! Everything is bounded: nesting deeper than [`MAX_DEPTH`] is an error, declared lengths are
//! checked against the bytes actually left before anything is allocated.

use bytes::Bytes;
use rmp::Marker;
use serde_json::{Map, Number, Value};

use crate::protocol::socketio::placeholder;

/// Deepest nesting of arrays and maps a decoded value may have (serde_json's limit for text).
pub const MAX_DEPTH: usize = 128;

/// Why bytes are not one msgpack value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MsgpackError {
    /// The input ends inside a value.
    #[error("truncated")]
    Truncated,
    /// The marker 0xc1, which msgpack never uses.
    #[error("reserved marker")]
    ReservedMarker,
    /// Arrays and maps nested deeper than [`MAX_DEPTH`].
    #[error("nested too deep")]
    TooDeep,
    /// A map key that is an array, a map, binary or an extension.
    #[error("map key is not a string")]
    BadKey,
    /// Bytes left after the value.
    #[error("trailing bytes")]
    TrailingBytes,
}

/// Reads msgpack values from one input, collecting the binaries of the values read so far.
#[derive(Debug)]
pub struct Reader<'a> {
    input: &'a Bytes,
    pos: usize,
    binary: Vec<Bytes>,
    timestamps: bool,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `input`.
    pub fn new(input: &'a Bytes) -> Self {
        Reader {
            input,
            pos: 0,
            binary: Vec::new(),
            timestamps: false,
        }
    }

    /// A reader at the start of `input` that also reads timestamps as notepack 3 does.
    pub fn notepack3(input: &'a Bytes) -> Self {
        Reader {
            timestamps: true,
            ..Reader::new(input)
        }
    }

    /// The next value; `None` is JavaScript's `undefined`. Its binaries (and those of the values
    /// read before it) are in [`Reader::take_binary`], numbered in reading order.
    pub fn read(&mut self) -> Result<Option<Value>, MsgpackError> {
        self.value(0)
    }

    /// The number of entries when the next value is a map (its header is consumed), `None`
    /// (nothing consumed) when it is anything else.
    pub fn map_len(&mut self) -> Result<Option<usize>, MsgpackError> {
        let start = self.pos;
        let len = match Marker::from_u8(self.byte()?) {
            Marker::FixMap(n) => usize::from(n),
            Marker::Map16 => self.uint(2)?,
            Marker::Map32 => self.uint(4)?,
            _ => {
                self.pos = start;
                return Ok(None);
            }
        };
        Ok(Some(len))
    }

    /// The binaries collected since the last call, leaving none.
    pub fn take_binary(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.binary)
    }

    /// `Ok` when the whole input has been read.
    pub fn finish(&self) -> Result<(), MsgpackError> {
        if self.pos == self.input.len() {
            Ok(())
        } else {
            Err(MsgpackError::TrailingBytes)
        }
    }

    fn byte(&mut self) -> Result<u8, MsgpackError> {
        let b = *self.input.get(self.pos).ok_or(MsgpackError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// The next `n` bytes, if the input holds them.
    fn take(&mut self, n: usize) -> Result<&'a [u8], MsgpackError> {
        let input: &'a [u8] = self.input;
        let end = self.pos.checked_add(n).ok_or(MsgpackError::Truncated)?;
        let bytes = input.get(self.pos..end).ok_or(MsgpackError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    /// A length of `n` (1, 2 or 4) big-endian bytes.
    fn uint(&mut self, n: usize) -> Result<usize, MsgpackError> {
        let v = self.u64(n)?;
        // A length beyond usize (16-bit targets) cannot be one the input holds: truncated.
        usize::try_from(v).map_err(|_| MsgpackError::Truncated)
    }

    /// A big-endian unsigned integer of `n` (1..=8) bytes.
    fn u64(&mut self, n: usize) -> Result<u64, MsgpackError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
    }

    fn i64(&mut self, n: usize) -> Result<i64, MsgpackError> {
        let raw = self.u64(n)?;
        let shift = 64 - 8 * n as u32;
        // Sign-extend the n-byte two's complement value.
        Ok(((raw << shift) as i64) >> shift)
    }

    fn bin(&mut self, len: usize) -> Result<Value, MsgpackError> {
        let start = self.pos;
        self.take(len)?;
        self.binary.push(self.input.slice(start..start + len));
        Ok(placeholder(self.binary.len() - 1))
    }

    fn str(&mut self, len: usize) -> Result<Value, MsgpackError> {
        let bytes = self.take(len)?;
        Ok(Value::String(String::from_utf8_lossy(bytes).into_owned()))
    }

    fn value(&mut self, depth: usize) -> Result<Option<Value>, MsgpackError> {
        let v = match Marker::from_u8(self.byte()?) {
            Marker::FixPos(n) => Value::from(n),
            Marker::FixNeg(n) => Value::from(n),
            Marker::Null => Value::Null,
            Marker::False => Value::Bool(false),
            Marker::True => Value::Bool(true),
            Marker::U8 => Value::from(self.u64(1)?),
            Marker::U16 => Value::from(self.u64(2)?),
            Marker::U32 => Value::from(self.u64(4)?),
            Marker::U64 => Value::from(self.u64(8)?),
            Marker::I8 => Value::from(self.i64(1)?),
            Marker::I16 => Value::from(self.i64(2)?),
            Marker::I32 => Value::from(self.i64(4)?),
            Marker::I64 => Value::from(self.i64(8)?),
            Marker::F32 => float(f64::from(f32::from_bits(self.u64(4)? as u32))),
            Marker::F64 => float(f64::from_bits(self.u64(8)?)),
            Marker::FixStr(n) => self.str(usize::from(n))?,
            Marker::Str8 => self.sized(1, Self::str)?,
            Marker::Str16 => self.sized(2, Self::str)?,
            Marker::Str32 => self.sized(4, Self::str)?,
            Marker::Bin8 => self.sized(1, Self::bin)?,
            Marker::Bin16 => self.sized(2, Self::bin)?,
            Marker::Bin32 => self.sized(4, Self::bin)?,
            Marker::FixArray(n) => self.array(usize::from(n), depth)?,
            Marker::Array16 => self.sized(2, |r, n| r.array(n, depth))?,
            Marker::Array32 => self.sized(4, |r, n| r.array(n, depth))?,
            Marker::FixMap(n) => self.map(usize::from(n), depth)?,
            Marker::Map16 => self.sized(2, |r, n| r.map(n, depth))?,
            Marker::Map32 => self.sized(4, |r, n| r.map(n, depth))?,
            Marker::FixExt1 => return self.ext(1, true),
            Marker::FixExt2 => return self.ext(2, true),
            Marker::FixExt4 => return self.ext(4, true),
            Marker::FixExt8 => return self.ext(8, true),
            Marker::FixExt16 => return self.ext(16, true),
            Marker::Ext8 => return self.sized(1, |r, n| r.ext(n, false)),
            Marker::Ext16 => return self.sized(2, |r, n| r.ext(n, false)),
            Marker::Ext32 => return self.sized(4, |r, n| r.ext(n, false)),
            Marker::Reserved => return Err(MsgpackError::ReservedMarker),
        };
        Ok(Some(v))
    }

    /// Reads a length of `width` bytes, then the body with `f`.
    fn sized<T>(
        &mut self,
        width: usize,
        f: impl FnOnce(&mut Self, usize) -> Result<T, MsgpackError>,
    ) -> Result<T, MsgpackError> {
        let len = self.uint(width)?;
        f(self, len)
    }

    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn array(&mut self, len: usize, depth: usize) -> Result<Value, MsgpackError> {
        if depth >= MAX_DEPTH {
            return Err(MsgpackError::TooDeep);
        }
        // Every element takes at least one byte: never reserve more than the input can fill.
        let mut items = Vec::with_capacity(len.min(self.remaining()));
        for _ in 0..len {
            items.push(self.value(depth + 1)?.unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value, MsgpackError> {
        if depth >= MAX_DEPTH {
            return Err(MsgpackError::TooDeep);
        }
        // Every entry takes at least two bytes.
        let mut map = Map::with_capacity(len.min(self.remaining() / 2));
        for _ in 0..len {
            let key = match self.value(depth + 1)? {
                Some(Value::String(s)) => s,
                Some(Value::Null) => "null".to_owned(),
                Some(v @ (Value::Bool(_) | Value::Number(_))) => v.to_string(),
                _ => return Err(MsgpackError::BadKey),
            };
            match self.value(depth + 1)? {
                Some(v) => {
                    map.insert(key, v);
                }
                None => {
                    map.shift_remove(&key);
                }
            }
        }
        Ok(Value::Object(map))
    }

    /// An extension of `len` data bytes (the type byte follows the length).
    fn ext(&mut self, len: usize, fixed: bool) -> Result<Option<Value>, MsgpackError> {
        let kind = self.byte()? as i8;
        Ok(Some(match (kind, fixed, len) {
            (0, true, 1) => {
                self.take(1)?;
                return Ok(None);
            }
            (0, true, 8) => {
                let ms = self.i64(8)?;
                date_json(ms)
            }
            (0, false, _) => self.bin(len)?,
            (-1, _, 4 | 8 | 12) if self.timestamps => self.timestamp(len)?,
            _ => Value::Array(vec![Value::from(kind), self.bin(len)?]),
        }))
    }

    /// msgpack's timestamp of `len` (4, 8 or 12) bytes, as the milliseconds notepack 3 makes a
    /// `Date` of (sub-millisecond nanoseconds truncated, as `new Date` truncates).
    fn timestamp(&mut self, len: usize) -> Result<Value, MsgpackError> {
        let (secs, nanos) = match len {
            4 => (self.u64(4)? as i64, 0),
            8 => {
                let raw = self.u64(8)?;
                ((raw & 0x3_ffff_ffff) as i64, (raw >> 34) as i64)
            }
            _ => {
                let nanos = self.u64(4)? as i64;
                (self.i64(8)?, nanos)
            }
        };
        let ms = secs
            .checked_mul(1000)
            .and_then(|ms| ms.checked_add(nanos / 1_000_000));
        Ok(ms.map_or(Value::Null, date_json))
    }
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// notepack's `Date` (fixext 8, type 0): high 32 bits signed, low 32 unsigned, milliseconds since
/// the epoch, as `Date.prototype.toJSON` writes it (`null` out of its range).
fn date_json(raw: i64) -> Value {
    // notepack writes `hi * 2^32 + lo` with a signed high word: that is the i64 as read.
    const MAX_MS: i64 = 8_640_000_000_000_000;
    if !(-MAX_MS..=MAX_MS).contains(&raw) {
        return Value::Null;
    }
    Value::String(crate::time::iso_millis(raw))
}

/// Appends the msgpack encoding of `value` to `out`; a placeholder naming one of `binary` is
/// written as that binary.
pub fn write_value(out: &mut Vec<u8>, value: &Value, binary: &[Bytes]) {
    // Writing into a Vec<u8> cannot fail: every rmp write below is infallible here.
    match value {
        Value::Null => {
            let _ = rmp::encode::write_nil(out);
        }
        Value::Bool(b) => {
            let _ = rmp::encode::write_bool(out, *b);
        }
        Value::Number(n) => write_number(out, n),
        Value::String(s) => {
            let _ = rmp::encode::write_str(out, s);
        }
        Value::Array(items) => {
            let _ = rmp::encode::write_array_len(out, len32(items.len()));
            for item in items {
                write_value(out, item, binary);
            }
        }
        Value::Object(map) => {
            if let Some(bytes) = placeholder_target(map, binary) {
                let _ = rmp::encode::write_bin(out, bytes);
                return;
            }
            let _ = rmp::encode::write_map_len(out, len32(map.len()));
            for (key, item) in map {
                let _ = rmp::encode::write_str(out, key);
                write_value(out, item, binary);
            }
        }
    }
}

/// The binary a `{"_placeholder":true,"num":i}` object stands for, when `i` names one.
fn placeholder_target<'b>(map: &Map<String, Value>, binary: &'b [Bytes]) -> Option<&'b Bytes> {
    if binary.is_empty() || map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    let num = map.get("num")?.as_u64()?;
    binary.get(usize::try_from(num).ok()?)
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        let _ = rmp::encode::write_uint(out, u);
    } else if let Some(i) = n.as_i64() {
        let _ = rmp::encode::write_sint(out, i);
    } else {
        let f = n.as_f64().unwrap_or(f64::NAN);
        // As notepack: an integral number is an integer (the casts are exact in these ranges).
        if f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f) {
            let _ = rmp::encode::write_uint(out, f as u64);
        } else if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
            let _ = rmp::encode::write_sint(out, f as i64);
        } else {
            let _ = rmp::encode::write_f64(out, f);
        }
    }
}

/// A collection length as msgpack's 32-bit length; anything longer cannot be sent in one
/// Engine.IO message anyway (bounded by `max_payload`), so saturating is never reached in practice.
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[path = "msgpack_tests.rs"]
mod tests;
