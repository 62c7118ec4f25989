//! `[cluster]`: the adapter, and for Redis its URL and channel key.

use std::time::Duration;

use super::error::ConfigError;
use super::raw::RawCluster;
use super::typed::ClusterSection;
use super::validate::Ctx;

/// Longest `cluster.request_timeout_ms` accepted (ten minutes).
pub const MAX_REQUEST_TIMEOUT_MS: u64 = 600_000;

/// Checks `[cluster]`: a known adapter; for `redis` and `redis-sharded`, a URL the Redis client
/// accepts (inline, or from the variable `redis_url_env` names; with `redis_cluster`,
/// `redis-sharded` only: seed node URLs, comma-separated, database 0), a key that is not empty and
/// has no `#` (it separates the parts of a channel name), and a request timeout of 1 ms to ten
/// minutes; a
/// known `sharded_subscription_mode`.
pub(crate) fn validate(raw: &RawCluster, ctx: &Ctx<'_>) -> Result<ClusterSection, ConfigError> {
    let dynamic = match raw.sharded_subscription_mode.as_str() {
        "dynamic" => true,
        "static" => false,
        other => {
            return Err(ctx.invalid(
                "cluster.sharded_subscription_mode",
                format!("`{other}` is not one of \"dynamic\", \"static\""),
            ))
        }
    };
    if raw.redis_cluster && raw.adapter != "redis-sharded" {
        return Err(ctx.invalid(
            "cluster.redis_cluster",
            "only adapter = \"redis-sharded\" routes channels to a Redis Cluster's shards (the \
             classic adapter works through any one node of a cluster, with redis_cluster = false)",
        ));
    }
    match raw.adapter.as_str() {
        "local" => Ok(ClusterSection::Local),
        "redis" => Ok(ClusterSection::Redis {
            url: redis_keys(raw, ctx)?,
            key: raw.key.clone(),
            request_timeout: Duration::from_millis(raw.request_timeout_ms),
            specific_response_channel: raw.publish_on_specific_response_channel,
        }),
        "redis-sharded" => Ok(ClusterSection::RedisSharded {
            url: redis_keys(raw, ctx)?,
            cluster: raw.redis_cluster,
            key: raw.key.clone(),
            request_timeout: Duration::from_millis(raw.request_timeout_ms),
            dynamic,
        }),
        "redis-streams" => streams(raw, ctx),
        other => Err(ctx.invalid(
            "cluster.adapter",
            format!(
                "`{other}` is not one of \"local\", \"redis\", \"redis-sharded\", \"redis-streams\""
            ),
        )),
    }
}

/// `redis-streams`: the Redis checks, a stream name that is not empty, and a stream length of 1
/// to a hundred million entries.
fn streams(raw: &RawCluster, ctx: &Ctx<'_>) -> Result<ClusterSection, ConfigError> {
    let url = redis_keys(raw, ctx)?;
    if raw.stream_name.trim().is_empty() {
        return Err(ctx.invalid("cluster.stream_name", "must not be empty"));
    }
    if raw.stream_max_len == 0 || raw.stream_max_len > 100_000_000 {
        return Err(ctx.invalid("cluster.stream_max_len", "must be between 1 and 100000000"));
    }
    Ok(ClusterSection::RedisStreams {
        url,
        stream: raw.stream_name.clone(),
        max_len: usize::try_from(raw.stream_max_len).unwrap_or(usize::MAX),
        request_timeout: Duration::from_millis(raw.request_timeout_ms),
    })
}

/// The seed node URLs of a Redis Cluster in `redis_url`: comma-separated, blanks around them
/// ignored.
pub fn seed_urls(redis_url: &str) -> Vec<&str> {
    redis_url.split(',').map(str::trim).collect()
}

/// The checks of `url` as a Redis Cluster's seed nodes, named `key` in errors.
fn cluster_nodes(url: &str, key: &'static str, ctx: &Ctx<'_>) -> Result<(), ConfigError> {
    for url in seed_urls(url) {
        let info = redis::Client::open(url).map(|c| c.get_connection_info().clone());
        match info {
            Err(e) => {
                return Err(ctx.invalid(
                    key,
                    format!("`{url}` is not a Redis URL like redis://127.0.0.1:7000 ({e})"),
                ))
            }
            Ok(info) if info.redis_settings().db() != 0 => {
                return Err(
                    ctx.invalid(key, format!("`{url}`: a Redis Cluster has database 0 only"))
                )
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// The URL, key and timeout checks of the Redis adapters; the URL (or seed URLs) to connect to.
fn redis_keys(raw: &RawCluster, ctx: &Ctx<'_>) -> Result<String, ConfigError> {
    let url = redis_url(raw, ctx)?;
    if raw.key.is_empty() {
        return Err(ctx.invalid("cluster.key", "must not be empty"));
    }
    if raw.key.contains('#') {
        return Err(ctx.invalid(
            "cluster.key",
            "must not contain '#' (it separates the parts of a channel name)",
        ));
    }
    if raw.request_timeout_ms == 0 || raw.request_timeout_ms > MAX_REQUEST_TIMEOUT_MS {
        return Err(ctx.invalid(
            "cluster.request_timeout_ms",
            format!("must be between 1 and {MAX_REQUEST_TIMEOUT_MS}"),
        ));
    }
    Ok(url)
}

/// The URL of `redis_url_env`'s variable when that key is set (it must name a set, non-empty
/// variable), else `redis_url`; either way one the Redis client accepts. The URL itself is never
/// repeated in an error when it came from a variable (it may hold a password).
fn redis_url(raw: &RawCluster, ctx: &Ctx<'_>) -> Result<String, ConfigError> {
    let (key, url) = if raw.redis_url_env.is_empty() {
        ("cluster.redis_url", raw.redis_url.clone())
    } else {
        match (ctx.env)(&raw.redis_url_env) {
            Some(url) if !url.trim().is_empty() => ("cluster.redis_url_env", url.trim().to_owned()),
            _ => {
                return Err(ctx.invalid(
                    "cluster.redis_url_env",
                    format!(
                        "environment variable `{}` is not set or empty",
                        raw.redis_url_env
                    ),
                ))
            }
        }
    };
    if raw.redis_cluster {
        cluster_nodes(&url, key, ctx)?;
        return Ok(url);
    }
    if url.contains(',') {
        return Err(ctx.invalid(
            key,
            "several URLs name the nodes of a Redis Cluster: set redis_cluster = true (with \
             adapter = \"redis-sharded\")",
        ));
    }
    if let Err(e) = redis::Client::open(url.as_str()) {
        let shown = if raw.redis_url_env.is_empty() {
            format!("`{url}`")
        } else {
            format!("the value of `{}`", raw.redis_url_env)
        };
        return Err(ctx.invalid(
            key,
            format!("{shown} is not a Redis URL like redis://127.0.0.1:6379/0 ({e})"),
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::super::{parse, ClusterSection};
    use std::time::Duration;

    use super::super::tests::{err_with as err, no_env};

    #[test]
    fn the_default_is_alone_and_redis_is_typed() {
        let alone = parse("", "t.toml", &no_env).expect("valid");
        assert_eq!(alone.cluster, ClusterSection::Local);
        let text = "[cluster]\nadapter = \"redis\"\nredis_url = \"redis://10.0.0.1:6380/2\"";
        let redis = parse(text, "t.toml", &no_env).expect("valid");
        let expected = ClusterSection::Redis {
            url: "redis://10.0.0.1:6380/2".to_owned(),
            key: "socket.io".to_owned(),
            request_timeout: Duration::from_millis(5000),
            specific_response_channel: false,
        };
        assert_eq!(redis.cluster, expected);
        let text = "[cluster]\nadapter = \"redis-sharded\"\nkey = \"app\"";
        let sharded = parse(text, "t.toml", &no_env).expect("valid");
        let expected = ClusterSection::RedisSharded {
            url: "redis://127.0.0.1:6379/0".to_owned(),
            cluster: false,
            key: "app".to_owned(),
            request_timeout: Duration::from_millis(5000),
            dynamic: true,
        };
        assert_eq!(sharded.cluster, expected);
        let env = |k: &str| {
            (k == "ROOMCAST_CLUSTER_SHARDED_SUBSCRIPTION_MODE").then(|| "static".to_owned())
        };
        let fixed = parse(text, "t.toml", &env).expect("valid");
        assert!(matches!(
            fixed.cluster,
            ClusterSection::RedisSharded { dynamic: false, .. }
        ));
        let timed = "[cluster]\nadapter = \"redis-sharded\"\nrequest_timeout_ms = 1200";
        let timed = parse(timed, "t.toml", &no_env).expect("valid");
        assert!(matches!(
            timed.cluster,
            ClusterSection::RedisSharded { request_timeout, .. }
                if request_timeout == Duration::from_millis(1200)
        ));
    }

    #[test]
    fn the_environment_overrides_cluster_keys() {
        let env = |k: &str| match k {
            "ROOMCAST_CLUSTER_ADAPTER" => Some("redis".to_owned()),
            "ROOMCAST_CLUSTER_KEY" => Some("app".to_owned()),
            "ROOMCAST_CLUSTER_REQUEST_TIMEOUT_MS" => Some("250".to_owned()),
            "ROOMCAST_CLUSTER_PUBLISH_ON_SPECIFIC_RESPONSE_CHANNEL" => Some("true".to_owned()),
            _ => None,
        };
        let c = parse("", "t.toml", &env).expect("valid");
        let expected = ClusterSection::Redis {
            url: "redis://127.0.0.1:6379/0".to_owned(),
            key: "app".to_owned(),
            request_timeout: Duration::from_millis(250),
            specific_response_channel: true,
        };
        assert_eq!(c.cluster, expected);
        let bad = |k: &str| (k == "ROOMCAST_CLUSTER_KEY").then(|| "a#b".to_owned());
        let text = "[cluster]\nadapter = \"redis\"";
        assert_eq!(
            err(text, &bad),
            "config: cluster.key: must not contain '#' (it separates the parts of a channel name) \
             (set by ROOMCAST_CLUSTER_KEY)"
        );
    }

    #[test]
    fn the_streams_adapter_takes_its_stream_from_the_file_or_the_environment() {
        let text = "[cluster]\nadapter = \"redis-streams\"\nstream_name = \"app\"\n[recovery]\nenabled = true";
        let c = parse(text, "t.toml", &no_env).expect("valid, recovery included");
        let expected = ClusterSection::RedisStreams {
            url: "redis://127.0.0.1:6379/0".to_owned(),
            stream: "app".to_owned(),
            max_len: 10_000,
            request_timeout: Duration::from_millis(5000),
        };
        assert_eq!((c.cluster, c.recovery.enabled), (expected, true));
        let env = |k: &str| (k == "ROOMCAST_CLUSTER_STREAM_MAX_LEN").then(|| "0".to_owned());
        assert_eq!(
            err("[cluster]\nadapter = \"redis-streams\"", &env),
            "config: cluster.stream_max_len: must be between 1 and 100000000 \
             (set by ROOMCAST_CLUSTER_STREAM_MAX_LEN)"
        );
        let empty = "[cluster]\nadapter = \"redis-streams\"\nstream_name = \" \"";
        assert_eq!(
            err(empty, &no_env),
            "config: cluster.stream_name: must not be empty"
        );
    }

    #[test]
    fn a_redis_cluster_is_named_by_its_seed_nodes() {
        let text = "[cluster]\nadapter = \"redis-sharded\"\nredis_cluster = true\n\
                    redis_url = \"redis://10.0.0.1:7000, redis://10.0.0.2:7000\"";
        let c = parse(text, "t.toml", &no_env).expect("valid");
        let ClusterSection::RedisSharded { url, cluster, .. } = c.cluster else {
            panic!("{:?}", c.cluster);
        };
        assert!(cluster);
        assert_eq!(
            super::seed_urls(&url),
            ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]
        );
        let env = |k: &str| match k {
            "ROOMCAST_CLUSTER_ADAPTER" => Some("redis-sharded".to_owned()),
            "ROOMCAST_CLUSTER_REDIS_CLUSTER" => Some("true".to_owned()),
            _ => None,
        };
        let c = parse("", "t.toml", &env).expect("valid");
        assert!(matches!(
            c.cluster,
            ClusterSection::RedisSharded { cluster: true, .. }
        ));
    }

    #[test]
    fn bad_cluster_values_name_their_key() {
        let cases = [
            ("adapter = \"kafka\"", "config: cluster.adapter: `kafka` is not one of \"local\", \"redis\", \"redis-sharded\", \"redis-streams\""),
            ("sharded_subscription_mode = \"dynamic-private\"", "config: cluster.sharded_subscription_mode: `dynamic-private` is not one of \"dynamic\", \"static\""),
            ("adapter = \"redis-sharded\"\nkey = \"a#b\"", "config: cluster.key: must not contain '#' (it separates the parts of a channel name)"),
            ("adapter = \"redis\"\nkey = \"\"", "config: cluster.key: must not be empty"),
            ("adapter = \"redis\"\nrequest_timeout_ms = 0", "config: cluster.request_timeout_ms: must be between 1 and 600000"),
            ("adapter = \"redis\"\nrequest_timeout_ms = 600001", "config: cluster.request_timeout_ms: must be between 1 and 600000"),
            ("adapter = \"redis\"\nredis_url_env = \"RC_TEST_REDIS_URL\"", "config: cluster.redis_url_env: environment variable `RC_TEST_REDIS_URL` is not set or empty"),
        ];
        for (body, expected) in cases {
            assert_eq!(err(&format!("[cluster]\n{body}"), &no_env), expected);
        }
        let url = err(
            "[cluster]\nadapter = \"redis\"\nredis_url = \"http://x\"",
            &no_env,
        );
        assert!(
            url.starts_with("config: cluster.redis_url: `http://x` is not a Redis URL"),
            "{url}"
        );
    }

    #[test]
    fn the_url_may_come_from_a_variable_and_is_not_echoed() {
        let text = "[cluster]\nadapter = \"redis\"\nredis_url_env = \"RC_URL\"";
        let env = |k: &str| (k == "RC_URL").then(|| "redis://:s3cret@10.0.0.9:6379/1".to_owned());
        let c = parse(text, "t.toml", &env).expect("valid");
        let ClusterSection::Redis { url, .. } = c.cluster else {
            panic!("redis expected: {c:?}");
        };
        assert_eq!(url, "redis://:s3cret@10.0.0.9:6379/1");
        let empty = |k: &str| (k == "RC_URL").then(String::new);
        assert_eq!(
            err(text, &empty),
            "config: cluster.redis_url_env: environment variable `RC_URL` is not set or empty"
        );
        let bad = |k: &str| (k == "RC_URL").then(|| "http://:s3cret@x".to_owned());
        let message = err(text, &bad);
        assert!(
            message.starts_with(
                "config: cluster.redis_url_env: the value of `RC_URL` is not a Redis URL"
            ),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
    }
}
