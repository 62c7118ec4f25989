//! Microbenchmark of the in-process fan-out path: one broadcast to N sockets in a room, through the
//! adapter and the room supervisors into every connection's bounded queue (no network).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use roomcast::testing::FanoutFixture;
use roomcast::{Payload, Server, ServerOptions};
use serde_json::json;

fn fanout(c: &mut Criterion) {
    let system = actix_rt::System::new();
    let mut group = c.benchmark_group("broadcast to a room");
    for n in [100usize, 1000] {
        let fixture = system.block_on(FanoutFixture::new(
            Server::new(ServerOptions::default()),
            n,
            "room",
        ));
        let payload = Payload::from(json!({"seq": 1, "pad": "x".repeat(80)}));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| system.block_on(fixture.broadcast("room", payload.clone())))
        });
    }
    group.finish();
}

criterion_group!(benches, fanout);
criterion_main!(benches);
