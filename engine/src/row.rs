//! Rows: what flows between operators, and their byte encoding in state.
//!
//! A row is a list of [`Value`]s with an event timestamp, a tag (which
//! Nexmark table a source row belongs to, or which side of a join) and a
//! [`RowKind`]: updating operators (group aggregates, top-N, dedup) emit
//! retractions as Flink does, so a sink that applies inserts and retractions
//! as a multiset ends with the query's final result.
//!
//! The encoding is self-describing and order-preserving for integers
//! (big-endian with the sign bit flipped), so a state key made of
//! `[window_end, id]` scans in time order, as Flink's RocksDB keys do.
//! Integers take 8 bytes, as in Flink's `LongSerializer`, so state sizes are
//! comparable.

use std::fmt;

use crate::keygroup::{java_long_hash, java_string_hash};

/// One field.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// BIGINT, and TIMESTAMP(3) as epoch milliseconds.
    Int(i64),
    /// DECIMAL with three fraction digits, in thousandths.
    Milli(i64),
    /// VARCHAR.
    Str(String),
    /// SQL NULL (`SPLIT_INDEX` past the last part, a regular expression
    /// that does not match).
    Null,
}

impl Value {
    /// The integer, or 0 for a non-integer (queries read their own
    /// columns, whose types they know).
    pub fn int(&self) -> i64 {
        match self {
            Value::Int(v) | Value::Milli(v) => *v,
            Value::Str(_) | Value::Null => 0,
        }
    }

    /// The string, or "" for a number.
    pub fn str(&self) -> &str {
        match self {
            Value::Str(s) => s,
            _ => "",
        }
    }

    /// Java's hash code of the value (Long.hashCode or String.hashCode).
    pub fn java_hash(&self) -> i32 {
        match self {
            Value::Int(v) | Value::Milli(v) => java_long_hash(*v),
            Value::Str(s) => java_string_hash(s),
            // Flink hashes a null field as 0.
            Value::Null => 0,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Milli(v) => {
                let sign = if *v < 0 { "-" } else { "" };
                let a = v.unsigned_abs();
                write!(f, "{sign}{}.{:03}", a / 1000, a % 1000)
            }
            Value::Str(s) => f.write_str(s),
            // As Flink's CSV format writes a null: nothing.
            Value::Null => Ok(()),
        }
    }
}

/// Whether a row adds to or retracts from the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowKind {
    /// Adds the row.
    Insert,
    /// Retracts one earlier copy of the row.
    Retract,
}

/// A row in flight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Insert or retraction.
    pub kind: RowKind,
    /// Event time, ms since the epoch.
    pub ts: u64,
    /// Which table or join side the row belongs to.
    pub tag: u8,
    /// The fields.
    pub cols: Vec<Value>,
}

impl Row {
    /// An insert row.
    pub fn insert(ts: u64, tag: u8, cols: Vec<Value>) -> Row {
        Row { kind: RowKind::Insert, ts, tag, cols }
    }

    /// Field `i` (panics on a query bug: an operator reading a column its
    /// input does not have).
    #[inline]
    pub fn col(&self, i: usize) -> &Value {
        &self.cols[i]
    }

    /// Integer field `i`.
    #[inline]
    pub fn int(&self, i: usize) -> i64 {
        self.cols[i].int()
    }
}

/// Java-style hash of a composite key (`31·h + field`), as Flink's tuple
/// keys hash.
pub fn key_hash(values: &[Value]) -> i32 {
    match values {
        [one] => one.java_hash(),
        many => many.iter().fold(0i32, |h, v| h.wrapping_mul(31).wrapping_add(v.java_hash())),
    }
}

const INT: u8 = 1;
const MILLI: u8 = 2;
const STR: u8 = 3;
const NULL: u8 = 4;

/// Appends the encoding of `values` to `out`.
pub fn encode(values: &[Value], out: &mut Vec<u8>) {
    for v in values {
        match v {
            Value::Int(i) => {
                out.push(INT);
                out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
            }
            Value::Milli(i) => {
                out.push(MILLI);
                out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes());
            }
            Value::Str(s) => {
                out.push(STR);
                out.extend_from_slice(&(s.len() as u32).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Null => out.push(NULL),
        }
    }
}

/// Encodes one integer as [`encode`] would.
pub fn encode_int(v: i64, out: &mut Vec<u8>) {
    encode(&[Value::Int(v)], out)
}

/// Bytes [`encode_time_suffix`] appends to a key.
pub const TIME_SUFFIX_LEN: usize = 16;

/// Ends the key of an entry of expiring state (see
/// [`crate::state::StateStore::expire`]): its time, big-endian so that a
/// key's entries sort by time, then `seq` so that entries of one time stay
/// distinct (writers put their subtask id in its high half, so that two
/// owners of one key group, before and after a rescale, never collide).
pub fn encode_time_suffix(time: u64, seq: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&time.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
}

/// The time [`encode_time_suffix`] put at the end of `key`, or `None` for
/// a key too short to hold one.
pub fn suffix_time(key: &[u8]) -> Option<u64> {
    let at = key.len().checked_sub(TIME_SUFFIX_LEN)?;
    let bytes: [u8; 8] = key[at..at + 8].try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// State bytes that do not decode: a bug or a foreign state directory.
#[derive(Debug, thiserror::Error)]
#[error("undecodable state value at byte {offset}: {reason}")]
pub struct DecodeError {
    /// Where decoding stopped.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// Decodes every value in `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Vec<Value>, DecodeError> {
    let mut out = Vec::with_capacity(8);
    let mut at = 0;
    while at < bytes.len() {
        let (v, next) = decode_one(bytes, at)?;
        out.push(v);
        at = next;
    }
    Ok(out)
}

/// Decodes the value at `at`; returns it and the offset after it.
pub fn decode_one(bytes: &[u8], at: usize) -> Result<(Value, usize), DecodeError> {
    let fixed = |at: usize| -> Result<i64, DecodeError> {
        let b = bytes.get(at + 1..at + 9).ok_or(DecodeError { offset: at, reason: "truncated integer" })?;
        Ok((u64::from_be_bytes(b.try_into().expect("8 bytes")) ^ (1 << 63)) as i64)
    };
    match bytes.get(at) {
        Some(&INT) => Ok((Value::Int(fixed(at)?), at + 9)),
        Some(&MILLI) => Ok((Value::Milli(fixed(at)?), at + 9)),
        Some(&STR) => {
            let len = bytes.get(at + 1..at + 5).ok_or(DecodeError { offset: at, reason: "truncated string length" })?;
            let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
            let s = bytes.get(at + 5..at + 5 + len).ok_or(DecodeError { offset: at, reason: "truncated string" })?;
            let s = std::str::from_utf8(s).map_err(|_| DecodeError { offset: at, reason: "string is not UTF-8" })?;
            Ok((Value::Str(s.to_string()), at + 5 + len))
        }
        Some(&NULL) => Ok((Value::Null, at + 1)),
        Some(_) => Err(DecodeError { offset: at, reason: "unknown value tag" }),
        None => Err(DecodeError { offset: at, reason: "no value" }),
    }
}

/// Appends one row to a row list: `u32 length | encoded row` (lists are
/// grown by appending, also through a state merge).
pub fn encode_list_item(values: &[Value], out: &mut Vec<u8>) {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    encode(values, out);
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

/// Decodes a row list written by [`encode_list_item`].
pub fn decode_list(bytes: &[u8]) -> Result<Vec<Vec<Value>>, DecodeError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(DecodeError { offset: at, reason: "truncated row list" })?;
        let body = bytes.get(at + 4..at + 4 + len).ok_or(DecodeError { offset: at, reason: "truncated row" })?;
        out.push(decode(body)?);
        at += 4 + len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::Int),
            any::<i64>().prop_map(Value::Milli),
            ".{0,20}".prop_map(Value::Str),
            Just(Value::Null)
        ]
    }

    proptest! {
        #[test]
        fn round_trips(values in proptest::collection::vec(value(), 0..6)) {
            let mut b = Vec::new();
            encode(&values, &mut b);
            prop_assert_eq!(decode(&b).unwrap(), values);
        }

        #[test]
        fn row_lists_round_trip(rows in proptest::collection::vec(proptest::collection::vec(value(), 0..4), 0..5)) {
            let mut b = Vec::new();
            for r in &rows {
                encode_list_item(r, &mut b);
            }
            prop_assert_eq!(decode_list(&b).unwrap(), rows);
        }

        #[test]
        fn integers_sort_as_their_encodings(a: i64, b: i64) {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            encode_int(a, &mut x);
            encode_int(b, &mut y);
            prop_assert_eq!(a.cmp(&b), x.cmp(&y));
        }

        #[test]
        fn garbage_is_an_error_not_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn decimals_print_as_sql_does() {
        assert_eq!(Value::Milli(908_000).to_string(), "908.000");
        assert_eq!(Value::Milli(-1_500).to_string(), "-1.500");
        assert_eq!(Value::Milli(7).to_string(), "0.007");
    }

    #[test]
    fn single_keys_hash_as_java() {
        assert_eq!(key_hash(&[Value::Int(42)]), java_long_hash(42));
        assert_eq!(key_hash(&[Value::Str("ab".into())]), java_string_hash("ab"));
    }
}
