//! `[cluster]`: the adapter, and for Redis its URL and channel key.

use super::error::ConfigError;
use super::raw::RawCluster;
use super::typed::ClusterSection;
use super::validate::Ctx;

/// Checks `[cluster]`: a known adapter; for `redis` and `redis-sharded`, a URL the Redis client
/// accepts and a key that is not empty and has no `#` (it separates the parts of a channel
/// name); a known `sharded_subscription_mode`.
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
            redis_keys(raw, ctx)?;
            Ok(ClusterSection::RedisSharded {
                url: raw.redis_url.clone(),
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

/// The URL and key checks of the Redis adapters.
fn redis_keys(raw: &RawCluster, ctx: &Ctx<'_>) -> Result<(), ConfigError> {
    if let Err(e) = redis::Client::open(raw.redis_url.as_str()) {
        return Err(ctx.invalid(
            "cluster.redis_url",
            format!(
                "`{}` is not a Redis URL like redis://127.0.0.1:6379/0 ({e})",
                raw.redis_url
            ),
        ));
    }
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
    fn bad_cluster_values_name_their_key() {
        let cases = [
            ("adapter = \"kafka\"", "config: cluster.adapter: `kafka` is not one of \"local\", \"redis\", \"redis-sharded\""),
            ("sharded_subscription_mode = \"dynamic-private\"", "config: cluster.sharded_subscription_mode: `dynamic-private` is not one of \"dynamic\", \"static\""),
            ("adapter = \"redis-sharded\"\nkey = \"a#b\"", "config: cluster.key: must not contain '#' (it separates the parts of a channel name)"),
            ("adapter = \"redis\"\nkey = \"\"", "config: cluster.key: must not be empty"),
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
