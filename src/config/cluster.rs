//! `[cluster]`: the adapter, and for Redis its URL and channel key.

use super::error::ConfigError;
use super::raw::RawCluster;
use super::typed::ClusterSection;
use super::validate::Ctx;

/// Checks `[cluster]`: a known adapter; for `redis` and `redis-sharded`, a URL the Redis client
/// accepts (with `redis_cluster`, `redis-sharded` only: seed node URLs, comma-separated, database
/// 0) and a key that is not empty and has no `#` (it separates the parts of a channel name); a
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
        "redis" => {
            redis_keys(raw, ctx)?;
            Ok(ClusterSection::Redis {
                url: raw.redis_url.clone(),
                key: raw.key.clone(),
            })
        }
        "redis-sharded" => {
            if raw.redis_cluster {
                cluster_nodes(raw, ctx)?;
            } else {
                redis_keys(raw, ctx)?;
            }
            Ok(ClusterSection::RedisSharded {
                url: raw.redis_url.clone(),
                cluster: raw.redis_cluster,
                key: raw.key.clone(),
                dynamic,
            })
        }
        other => Err(ctx.invalid(
            "cluster.adapter",
            format!("`{other}` is not one of \"local\", \"redis\", \"redis-sharded\""),
        )),
    }
}

/// The seed node URLs of a Redis Cluster in `redis_url`: comma-separated, blanks around them
/// ignored.
pub fn seed_urls(redis_url: &str) -> Vec<&str> {
    redis_url.split(',').map(str::trim).collect()
}

/// The checks of `redis_url` as a Redis Cluster's seed nodes, and of the key.
fn cluster_nodes(raw: &RawCluster, ctx: &Ctx<'_>) -> Result<(), ConfigError> {
    for url in seed_urls(&raw.redis_url) {
        let info = redis::Client::open(url).map(|c| c.get_connection_info().clone());
        match info {
            Err(e) => {
                return Err(ctx.invalid(
                    "cluster.redis_url",
                    format!("`{url}` is not a Redis URL like redis://127.0.0.1:7000 ({e})"),
                ))
            }
            Ok(info) if info.redis_settings().db() != 0 => {
                return Err(ctx.invalid(
                    "cluster.redis_url",
                    format!("`{url}`: a Redis Cluster has database 0 only"),
                ))
            }
            Ok(_) => {}
        }
    }
    check_key(raw, ctx)
}

/// The URL and key checks of the Redis adapters.
fn redis_keys(raw: &RawCluster, ctx: &Ctx<'_>) -> Result<(), ConfigError> {
    if raw.redis_url.contains(',') {
        return Err(ctx.invalid(
            "cluster.redis_url",
            "several URLs name the nodes of a Redis Cluster: set redis_cluster = true (with \
             adapter = \"redis-sharded\")",
        ));
    }
    if let Err(e) = redis::Client::open(raw.redis_url.as_str()) {
        return Err(ctx.invalid(
            "cluster.redis_url",
            format!(
                "`{}` is not a Redis URL like redis://127.0.0.1:6379/0 ({e})",
                raw.redis_url
            ),
        ));
    }
    check_key(raw, ctx)
}

/// The key: not empty, no `#`.
fn check_key(raw: &RawCluster, ctx: &Ctx<'_>) -> Result<(), ConfigError> {
    if raw.key.is_empty() {
        return Err(ctx.invalid("cluster.key", "must not be empty"));
    }
    if raw.key.contains('#') {
        return Err(ctx.invalid(
            "cluster.key",
            "must not contain '#' (it separates the parts of a channel name)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{parse, ClusterSection};

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn err(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
        match parse(text, "t.toml", env) {
            Ok(c) => panic!("accepted {text:?}: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_default_is_alone_and_redis_is_typed() {
        let alone = parse("", "t.toml", &no_env).expect("valid");
        assert_eq!(alone.cluster, ClusterSection::Local);
        let text = "[cluster]\nadapter = \"redis\"\nredis_url = \"redis://10.0.0.1:6380/2\"";
        let redis = parse(text, "t.toml", &no_env).expect("valid");
        let expected = ClusterSection::Redis {
            url: "redis://10.0.0.1:6380/2".to_owned(),
            key: "socket.io".to_owned(),
        };
        assert_eq!(redis.cluster, expected);
        let text = "[cluster]\nadapter = \"redis-sharded\"\nkey = \"app\"";
        let sharded = parse(text, "t.toml", &no_env).expect("valid");
        let expected = ClusterSection::RedisSharded {
            url: "redis://127.0.0.1:6379/0".to_owned(),
            cluster: false,
            key: "app".to_owned(),
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
    }

    #[test]
    fn the_environment_overrides_cluster_keys() {
        let env = |k: &str| match k {
            "ROOMCAST_CLUSTER_ADAPTER" => Some("redis".to_owned()),
            "ROOMCAST_CLUSTER_KEY" => Some("app".to_owned()),
            _ => None,
        };
        let c = parse("", "t.toml", &env).expect("valid");
        let url = "redis://127.0.0.1:6379/0".to_owned();
        let key = "app".to_owned();
        assert_eq!(c.cluster, ClusterSection::Redis { url, key });
        let bad = |k: &str| (k == "ROOMCAST_CLUSTER_KEY").then(|| "a#b".to_owned());
        let text = "[cluster]\nadapter = \"redis\"";
        assert_eq!(
            err(text, &bad),
            "config: cluster.key: must not contain '#' (it separates the parts of a channel name) \
             (set by ROOMCAST_CLUSTER_KEY)"
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
            ("adapter = \"kafka\"", "config: cluster.adapter: `kafka` is not one of \"local\", \"redis\", \"redis-sharded\""),
            ("sharded_subscription_mode = \"dynamic-private\"", "config: cluster.sharded_subscription_mode: `dynamic-private` is not one of \"dynamic\", \"static\""),
            ("adapter = \"redis-sharded\"\nkey = \"a#b\"", "config: cluster.key: must not contain '#' (it separates the parts of a channel name)"),
            ("adapter = \"redis\"\nkey = \"\"", "config: cluster.key: must not be empty"),
            ("adapter = \"redis\"\nredis_cluster = true", "config: cluster.redis_cluster: only adapter = \"redis-sharded\" routes channels to a Redis Cluster's shards (the classic adapter works through any one node of a cluster, with redis_cluster = false)"),
            ("adapter = \"redis-sharded\"\nredis_url = \"redis://a:1,redis://b:2\"", "config: cluster.redis_url: several URLs name the nodes of a Redis Cluster: set redis_cluster = true (with adapter = \"redis-sharded\")"),
            ("adapter = \"redis-sharded\"\nredis_cluster = true\nredis_url = \"redis://a:1/2\"", "config: cluster.redis_url: `redis://a:1/2`: a Redis Cluster has database 0 only"),
            ("adapter = \"redis-sharded\"\nredis_cluster = true\nkey = \"\"", "config: cluster.key: must not be empty"),
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
}
