//! Unit tests of the msgpack value codec; the expected bytes are notepack.io's encodings of the
//! same JavaScript values.

use super::*;
use serde_json::json;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test vectors are hex"))
        .collect()
}

fn encoded(value: &Value, binary: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, value, binary);
    out
}

fn decoded(bytes: &[u8]) -> Result<(Option<Value>, Vec<Bytes>), MsgpackError> {
    let input = Bytes::copy_from_slice(bytes);
    let mut reader = Reader::new(&input);
    let value = reader.read()?;
    reader.finish()?;
    Ok((value, reader.take_binary()))
}

#[test]
fn scalars_match_notepack_both_ways() {
    let cases = [
        (json!(null), "c0"),
        (json!(true), "c3"),
        (json!(false), "c2"),
        (json!(0), "00"),
        (json!(127), "7f"),
        (json!(128), "cc80"),
        (json!(255), "ccff"),
        (json!(256), "cd0100"),
        (json!(65535), "cdffff"),
        (json!(65536), "ce00010000"),
        (json!(4294967295u64), "ceffffffff"),
        (json!(4294967296u64), "cf0000000100000000"),
        (json!(-1), "ff"),
        (json!(-32), "e0"),
        (json!(-33), "d0df"),
        (json!(-128), "d080"),
        (json!(-129), "d1ff7f"),
        (json!(-32768), "d18000"),
        (json!(-32769), "d2ffff7fff"),
        (json!(-2147483648i64), "d280000000"),
        (json!(-2147483649i64), "d3ffffffff7fffffff"),
        (json!(1.5), "cb3ff8000000000000"),
        (json!(-0.25), "cbbfd0000000000000"),
        (json!(""), "a0"),
        (json!("a".repeat(31)), &format!("bf{}", "61".repeat(31))),
        (json!("a".repeat(32)), &format!("d920{}", "61".repeat(32))),
        (json!("é☃😀"), "a9c3a9e29883f09f9880"),
        (json!([]), "90"),
        (
            json!((0..15).collect::<Vec<_>>()),
            "9f000102030405060708090a0b0c0d0e",
        ),
        (
            json!((0..16).collect::<Vec<_>>()),
            "dc0010000102030405060708090a0b0c0d0e0f",
        ),
        (json!({}), "80"),
        (json!({"z": 1, "a": [null]}), "82a17a01a16191c0"),
    ];
    for (value, wire) in cases {
        assert_eq!(encoded(&value, &[]), hex(wire), "encode {value}");
        assert_eq!(
            decoded(&hex(wire)),
            Ok((Some(value.clone()), vec![])),
            "decode {wire}"
        );
    }
}

#[test]
fn integral_floats_are_integers_as_in_javascript() {
    assert_eq!(encoded(&json!(2.0), &[]), hex("02"));
    assert_eq!(encoded(&json!(-300.0), &[]), hex("d1fed4"));
    assert_eq!(encoded(&json!(-0.0), &[]), hex("00"));
    // notepack mangles integral numbers beyond 2^64 into a wrong uint 64; we keep the float.
    assert_eq!(encoded(&json!(1e300), &[]), hex("cb7e37e43c8800759c"));
}

#[test]
fn large_headers_match_notepack() {
    let cases = [
        (json!("a".repeat(255)), "d9ff"),
        (json!("a".repeat(256)), "da0100"),
        (json!("a".repeat(65536)), "db00010000"),
    ];
    for (value, head) in cases {
        let bytes = encoded(&value, &[]);
        assert!(bytes.starts_with(&hex(head)), "{head}");
        assert_eq!(decoded(&bytes), Ok((Some(value), vec![])));
    }
    let map: Map<String, Value> = (0..16).map(|i| (format!("k{i}"), json!(i))).collect();
    let bytes = encoded(&Value::Object(map.clone()), &[]);
    assert!(bytes.starts_with(&hex("de0010")));
    assert_eq!(decoded(&bytes), Ok((Some(Value::Object(map)), vec![])));
}

#[test]
fn binaries_become_placeholders_and_back() {
    let bins = |lens: &[usize]| -> Vec<Bytes> {
        lens.iter().map(|n| Bytes::from(vec![7u8; *n])).collect()
    };
    for (len, head) in [
        (0, "c400"),
        (3, "c403"),
        (255, "c4ff"),
        (256, "c50100"),
        (65536, "c600010000"),
    ] {
        let binary = bins(&[len]);
        let bytes = encoded(&placeholder(0), &binary);
        assert!(bytes.starts_with(&hex(head)), "{len}");
        assert_eq!(bytes.len(), head.len() / 2 + len);
        assert_eq!(decoded(&bytes), Ok((Some(placeholder(0)), binary)));
    }
    // nested, in reading order, zero-copy slices of the input
    let wire = hex("93a46563686fc40301020381a66e657374656491c40104");
    let (value, binary) = decoded(&wire).expect("valid");
    assert_eq!(
        value,
        Some(json!(["echo", placeholder(0), {"nested": [placeholder(1)]}]))
    );
    assert_eq!(
        binary,
        vec![Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4])]
    );
    assert_eq!(encoded(&value.expect("some"), &binary), wire);
    // a placeholder naming no binary stays an object
    let lone = json!({"_placeholder": true, "num": 1});
    assert_eq!(encoded(&lone, &bins(&[1]))[0], 0x82);
}

#[test]
fn notepack_extensions() {
    let cases = [
        // undefined: dropped from maps, null in arrays
        ("82a161d40000a16201", Some(json!({"b": 1})), 0),
        ("92d40000c3", Some(json!([null, true])), 0),
        // a defined key later set to undefined is removed, as in JavaScript
        ("82a16101a161d40000", Some(json!({})), 0),
        ("d40000", None, 0),
        // Date
        (
            "d700000001a2420451b2",
            Some(json!("2026-12-04T17:05:09.042Z")),
            0,
        ),
        (
            "d700ffffffffffffffff",
            Some(json!("1969-12-31T23:59:59.999Z")),
            0,
        ),
        ("d7007fffffffffffffff", Some(json!(null)), 0),
        // ArrayBuffer (ext type 0) is binary; other extensions are [type, binary]
        ("c702000102", Some(placeholder(0)), 1),
        ("d5050102", Some(json!([5, placeholder(0)])), 1),
        ("d4ff09", Some(json!([-1, placeholder(0)])), 1),
        // scalar map keys become text
        (
            "8301c3c0c3c2c3",
            Some(json!({"1": true, "null": true, "false": true})),
            0,
        ),
        // invalid UTF-8 is replaced, as Buffer.toString does
        ("a2ff61", Some(json!("\u{fffd}a")), 0),
        ("ca3fc00000", Some(json!(1.5)), 0),
        ("cb7ff8000000000000", Some(json!(null)), 0),
    ];
    for (wire, want, bins) in cases {
        let (value, binary) = decoded(&hex(wire)).unwrap_or_else(|e| panic!("{wire}: {e}"));
        assert_eq!((value, binary.len()), (want, bins), "{wire}");
    }
}

#[test]
fn malformed_input() {
    let cases = [
        ("", MsgpackError::Truncated),
        ("c1", MsgpackError::ReservedMarker),
        ("92c0", MsgpackError::Truncated),
        ("a361", MsgpackError::Truncated),
        ("cd01", MsgpackError::Truncated),
        ("c0c0", MsgpackError::TrailingBytes),
        ("8191c0c0", MsgpackError::BadKey),
        ("81c400c0", MsgpackError::BadKey),
        ("81d40000c0", MsgpackError::BadKey),
        // declared lengths far beyond the input: an error, not an allocation
        ("dbffffffff", MsgpackError::Truncated),
        ("c6ffffffff", MsgpackError::Truncated),
        ("ddffffffff", MsgpackError::Truncated),
        ("dfffffffff", MsgpackError::Truncated),
        ("c9ffffffff00", MsgpackError::Truncated),
        ("c801000300", MsgpackError::Truncated),
    ];
    for (wire, error) in cases {
        assert_eq!(decoded(&hex(wire)), Err(error), "{wire}");
    }
}

#[test]
fn nesting_is_bounded() {
    let nested = |depth: usize| {
        let mut bytes = vec![0x91; depth];
        bytes.push(0xc0);
        bytes
    };
    assert!(decoded(&nested(MAX_DEPTH)).is_ok());
    assert_eq!(decoded(&nested(MAX_DEPTH + 1)), Err(MsgpackError::TooDeep));
    let mut maps = vec![];
    for _ in 0..100_000 {
        maps.extend_from_slice(&hex("81a0"));
    }
    maps.push(0xc0);
    assert_eq!(decoded(&maps), Err(MsgpackError::TooDeep));
}

#[test]
fn map_len_peeks_without_consuming_other_values() {
    let input = Bytes::from(hex("92c0c0"));
    let mut reader = Reader::new(&input);
    assert_eq!(reader.map_len(), Ok(None));
    assert_eq!(reader.read(), Ok(Some(json!([null, null]))));
    let input = Bytes::from(hex("de0001a0c0"));
    let mut reader = Reader::new(&input);
    assert_eq!(reader.map_len(), Ok(Some(1)));
    assert_eq!(reader.read(), Ok(Some(json!(""))));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let len = (next() % 24) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Ok((Some(value), binary)) = decoded(&bytes) {
            // whatever decodes re-encodes and decodes to the same value
            let again = encoded(&value, &binary);
            assert_eq!(decoded(&again).map(|d| d.0), Ok(Some(value)));
        }
    }
}

#[test]
fn notepack3_timestamps_are_dates_and_notepack2_leaves_them_extensions() {
    // as notepack.io 3.0.1 encodes `new Date(ms)`, and what JSON.stringify makes of it
    let cases = [
        ("d7ff1d5353006553f100", json!("2023-11-14T22:13:20.123Z")),
        ("d6ff6553f100", json!("2023-11-14T22:13:20.000Z")),
        (
            "c70cff3b8b87c0ffffffffffffffff",
            json!("1969-12-31T23:59:59.999Z"),
        ),
        // past the range of a JavaScript Date
        ("c70cff00000000000007dba8218001", json!(null)),
        ("c70cff000000007fffffffffffffff", json!(null)),
    ];
    for (wire, want) in cases {
        let input = Bytes::from(hex(wire));
        let mut reader = Reader::notepack3(&input);
        let value = reader.read().unwrap_or_else(|e| panic!("{wire}: {e}"));
        reader.finish().expect("one value");
        assert_eq!(value, Some(want), "{wire}");
        let (old, binary) = decoded(&hex(wire)).expect("valid msgpack");
        assert_eq!(
            old,
            Some(json!([-1, placeholder(0)])),
            "{wire} for notepack 2"
        );
        assert_eq!(binary.len(), 1);
    }
    let truncated = Bytes::from(hex("d7ff1d535300"));
    assert_eq!(
        Reader::notepack3(&truncated).read(),
        Err(MsgpackError::Truncated)
    );
}
