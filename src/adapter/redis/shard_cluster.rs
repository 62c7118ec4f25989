//! The sharded adapter on a Redis Cluster: each sharded channel lives on the master owning its
//! hash slot ([`super::slot`]), so its `SPUBLISH`es and `SSUBSCRIBE`s must go there, and
//! `PUBSUB SHARDNUMSUB` is asked of that master (the others know nothing of the channel).
//!
//! # Why the `redis` crate's cluster connection
//!
//! The crate's `cluster-async` connection (1.8) already does what a cluster client needs: it
//! reads the slot map (`CLUSTER SLOTS`) from the seed nodes, routes each command by its key's
//! slot, follows `MOVED`/`ASK` and re-reads the map when it meets one or loses a node, reconnects
//! to a node that comes back, and — with RESP3 and a push sender — keeps `SSUBSCRIBE`d channels:
//! it resubscribes a reconnected node to the channels of its slots and moves channels to their
//! new master after a slot map change. Its `ssubscribe`/`sunsubscribe` are sent as subscription
//! requests, so a `SUNSUBSCRIBE`'s confirmation is taken for its reply (the raw-command bug of
//! redis-rs issue 2533, worked around in [`super::shard_link`], does not arise). Writing the same
//! routing, redirection and resubscription over per-node connections would be several hundred
//! lines more of our own to get right; what is ours here is the slot of a channel (to group
//! publishes and to pick the master to ask), checked against the crate's.
//!
//! The price: the crate keeps one connection to every node of the slot map (not only to the
//! masters some channel needs), for the subscriber and again for the publisher. A cluster has few
//! nodes, so that is a handful of connections per broker.
//!
//! Publishes are grouped by slot: one pipeline per slot, the slots' pipelines in parallel, the
//! next batch after all of them, so messages on one channel keep their order. A pipeline a master
//! does not take (down, or the cluster is reconfiguring) is dropped and counted as failed
//! publishes; the connection stays and the crate finds the master again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use metrics::Counter;
use parking_lot::Mutex;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{ConnectionInfo, ProtocolVersion, RedisResult};

use crate::adapter::redis::link::{Backoff, Health, PublishQueue, PIPELINE};
use crate::adapter::redis::slot::key_slot;

/// How long a cluster connection waits to connect to a node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How often a command is retried (after a redirection, or on another connection) before it
/// fails: few, so a master that is down costs a publish or a subscription attempt little time.
const RETRIES: u32 = 2;

/// A cluster client of the seed `nodes`; `resp3` for the subscriber (pushes), with replies
/// waited for at most `response`.
pub(crate) fn cluster_client(
    nodes: &[ConnectionInfo],
    resp3: bool,
    response: Duration,
) -> RedisResult<ClusterClient> {
    let protocol = if resp3 {
        ProtocolVersion::RESP3
    } else {
        ProtocolVersion::RESP2
    };
    ClusterClientBuilder::new(nodes.to_vec())
        .use_protocol(protocol)
        .retries(RETRIES)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(response)
        .build()
}

/// The publisher's connection, shared so `PUBSUB SHARDNUMSUB` needs no connection of its own.
pub(crate) type SharedConnection = Arc<Mutex<Option<ClusterConnection>>>;

/// The publisher of a cluster: connects (with backoff until the cluster answers), then sends
/// each batch of the queue as `SPUBLISH` pipelines, one per slot.
pub(crate) async fn publisher(
    client: ClusterClient,
    mut queue: PublishQueue,
    health: Arc<Health>,
    failures: Counter,
    shared: SharedConnection,
) {
    let mut backoff = Backoff::new();
    let conn = loop {
        match client.get_async_connection().await {
            Ok(conn) => break conn,
            Err(e) => {
                tracing::warn!(error = %e, "cluster: cannot connect to the Redis Cluster to publish")
            }
        }
        // Publishes queued meanwhile are not expected (the adapters see `connected` false).
        while let Ok(_dropped) = queue.try_recv() {
            failures.increment(1);
        }
        backoff.wait().await;
    };
    tracing::info!("cluster: Redis publisher connected (Redis Cluster)");
    *shared.lock() = Some(conn.clone());
    health.publisher(true);
    let mut batch = Vec::with_capacity(PIPELINE);
    while queue.recv_many(&mut batch, PIPELINE).await > 0 {
        let sends = by_slot(batch.drain(..))
            .into_iter()
            .map(|(slot, pipe, sent)| {
                let mut conn = conn.clone();
                let failures = failures.clone();
                async move {
                    if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                        failures.increment(sent);
                        tracing::warn!(error = %e, slot, "cluster: Redis Cluster publish failed");
                    }
                }
            });
        join_all(sends).await;
    }
}

/// The `SPUBLISH`es of `batch` as one pipeline per slot, in order within each slot, with the
/// slot and the number of publishes.
pub(crate) fn by_slot(
    batch: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Vec<(u16, redis::Pipeline, u64)> {
    let mut groups: Vec<(u16, redis::Pipeline, u64)> = Vec::new();
    let mut index = HashMap::new();
    for (channel, payload) in batch {
        let slot = key_slot(channel.as_bytes());
        let at = *index.entry(slot).or_insert_with(|| {
            groups.push((slot, redis::pipe(), 0));
            groups.len() - 1
        });
        let (_, pipe, sent) = &mut groups[at];
        pipe.cmd("SPUBLISH").arg(channel).arg(payload).ignore();
        *sent += 1;
    }
    groups
}

/// How `PUBSUB SHARDNUMSUB channel` is routed: to the master owning the channel's slot.
pub(crate) fn numsub_route(channel: &str) -> RoutingInfo {
    let route = Route::new(key_slot(channel.as_bytes()), SlotAddr::Master);
    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route))
}

/// How many connections `SSUBSCRIBE` `channel`, asked of the master owning it on the publisher's
/// connection; `None` before the publisher is connected or when the master does not answer
/// within two seconds.
pub(crate) async fn shard_numsub(shared: &SharedConnection, channel: &str) -> Option<usize> {
    let mut conn = shared.lock().clone()?;
    let mut cmd = redis::cmd("PUBSUB");
    cmd.arg("SHARDNUMSUB").arg(channel);
    let query = conn.route_command(cmd, numsub_route(channel));
    match tokio::time::timeout(Duration::from_secs(2), query).await {
        Ok(Ok(value)) => match redis::from_redis_value::<(String, usize)>(value) {
            Ok((_, n)) => Some(n),
            Err(e) => {
                tracing::debug!(error = %e, "cluster: unexpected PUBSUB SHARDNUMSUB reply");
                None
            }
        },
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "cluster: PUBSUB SHARDNUMSUB failed");
            None
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

    use super::{by_slot, numsub_route};
    use crate::adapter::redis::slot::key_slot;

    #[test]
    fn publishes_are_grouped_by_slot_in_order() {
        let msg = |channel: &str, n: u8| (channel.to_owned(), vec![n]);
        // socket.io#/# is slot 13868, socket.io#/chat# 2409; a hash tag joins two rooms' channels.
        let batch = vec![
            msg("socket.io#/#", 1),
            msg("socket.io#/chat#", 2),
            msg("socket.io#/#", 3),
            msg("socket.io#/#{g}a#", 4),
            msg("socket.io#/#{g}b#", 5),
        ];
        let groups = by_slot(batch);
        let slots: Vec<(u16, u64)> = groups.iter().map(|(s, _, n)| (*s, *n)).collect();
        assert_eq!(slots, [(13868, 2), (2409, 1), (key_slot(b"g"), 2)]);
        let mut expected = redis::pipe();
        let first = expected
            .cmd("SPUBLISH")
            .arg("socket.io#/#")
            .arg(vec![1u8])
            .ignore();
        first
            .cmd("SPUBLISH")
            .arg("socket.io#/#")
            .arg(vec![3u8])
            .ignore();
        assert_eq!(
            groups[0].1.get_packed_pipeline(),
            expected.get_packed_pipeline()
        );
    }

    #[test]
    fn shardnumsub_goes_to_the_channels_master() {
        let RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)) =
            numsub_route("socket.io#/#lobby#")
        else {
            panic!("not one node");
        };
        assert_eq!(route, Route::new(11869, SlotAddr::Master));
    }
}
