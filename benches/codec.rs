//! Microbenchmarks of the pure codecs: what every packet costs to encode and decode.

use criterion::{criterion_group, criterion_main, Criterion};
use roomcast::protocol::engineio::{self, Frame};
use roomcast::protocol::socketio;
use roomcast::{Parser, Payload};
use serde_json::json;
use std::hint::black_box;

fn codecs(c: &mut Criterion) {
    let args = json!({"seq": 12345, "t": 1_700_000_000_000u64, "pad": "x".repeat(64)});
    c.bench_function("socketio encode event (100 B)", |b| {
        b.iter(|| {
            black_box(Payload::from(args.clone()).event_frames(Parser::Default, "/", "msg", None))
        })
    });
    c.bench_function("msgpack encode event (100 B)", |b| {
        b.iter(|| {
            black_box(Payload::from(args.clone()).event_frames(Parser::Msgpack, "/", "msg", None))
        })
    });
    let text = r#"2["publish","room-7","msg",{"seq":12345,"t":1700000000000,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]"#;
    c.bench_function("socketio decode event (100 B)", |b| {
        b.iter(|| black_box(socketio::decode(black_box(text)).unwrap()))
    });
    let packet = socketio::Packet::event(
        "/",
        "publish",
        vec![json!("room-7"), json!("msg"), args.clone()],
        None,
        0,
    );
    let bytes = bytes::Bytes::from(socketio::msgpack::encode(&packet, &[]));
    c.bench_function("msgpack decode event (100 B)", |b| {
        b.iter(|| black_box(socketio::msgpack::decode(black_box(&bytes)).unwrap()))
    });
    let acked = r#"21234["echo",{"seq":1}]"#;
    c.bench_function("socketio decode event with ack id", |b| {
        b.iter(|| black_box(socketio::decode(black_box(acked)).unwrap()))
    });
    let payload = "4hello\x1e42[\"a\",1]\x1ebAQIDBA==\x1e3";
    c.bench_function("engineio decode polling payload (4 packets)", |b| {
        b.iter(|| black_box(engineio::decode_payload(black_box(payload)).unwrap()))
    });
    let frames: Vec<Frame> = (0..16)
        .map(|i| Frame::message(&format!("2[\"msg\",{i}]")))
        .collect();
    c.bench_function("engineio encode polling payload (16 frames)", |b| {
        b.iter(|| black_box(engineio::encode_payload(frames.iter())))
    });
}

criterion_group!(benches, codecs);
criterion_main!(benches);
