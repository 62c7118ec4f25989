//! Load-level tests of the configuration: the embedded defaults agree with [`RawConfig::default`], and
//! every refused input produces its exact one-line message (file values, environment overrides, secrets).

use std::net::SocketAddr;
use std::time::Duration;

use super::*;

/// No environment variable is set.
pub(super) fn no_env(_: &str) -> Option<String> {
    None
}

fn with_env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    }
}

fn err(text: &str) -> String {
    err_with(text, &no_env)
}

/// The message refusing config `text` with environment `env` (panics when it is accepted).
pub(super) fn err_with(text: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    match parse(text, "t.toml", env) {
        Ok(c) => panic!("accepted {text:?}: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn embedded_file_is_exactly_the_defaults() {
    let file: toml::Table = DEFAULT_TOML.parse().expect("config.toml is TOML");
    assert_eq!(
        file,
        schema::schema(),
        "config.toml must list every key with its default"
    );
    let from_file = parse(DEFAULT_TOML, DEFAULTS_NAME, &no_env).expect("config.toml is valid");
    assert_eq!(
        from_file,
        parse("", "empty", &no_env).expect("empty is valid")
    );
    assert_eq!(from_file, load(None, &no_env).expect("defaults load"));
}

#[test]
fn every_key_in_config_toml_has_a_comment() {
    let lines: Vec<&str> = DEFAULT_TOML.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(" = ") && !line.starts_with('#') {
            assert!(
                i > 0 && lines[i - 1].starts_with('#'),
                "undocumented: {line}"
            );
        }
    }
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = load(None, &no_env).expect("defaults load");
    assert_eq!(c.server.bind, "0.0.0.0:3000".parse::<SocketAddr>().unwrap());
    assert_eq!(c.server.path, "/socket.io/");
    assert!(c.server.workers >= 1);
    assert_eq!(c.server.shutdown_timeout, Duration::from_secs(10));
    assert_eq!(c.engine.ping_interval, Duration::from_millis(25_000));
    assert_eq!(c.engine.max_payload_bytes, 1_000_000);
    assert!(c.engine.polling && c.engine.websocket);
    assert_eq!(c.engine.sticky_cookie, None);
    assert_eq!(c.engine.parser, crate::Parser::Default);
    assert_eq!(c.cors.origins, ["*"]);
    assert_eq!(
        c.admin.bind,
        "127.0.0.1:3001".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.admin.token, None);
    assert_eq!(
        (c.log.level.as_str(), c.log.format),
        ("info", LogFormat::Text)
    );
    assert_eq!(c.limits.max_connections, 100_000);
    let ns = &c.namespaces[..];
    assert_eq!(ns.len(), 1);
    assert_eq!((ns[0].name.as_str(), ns[0].pattern), ("/", false));
    assert_eq!((&ns[0].auth, ns[0].client_join), (&Auth::None, true));
    assert_eq!(ns[0].client_publish, Publish::Joined);
    let o = c.server_options();
    let d = crate::options::ServerOptions::default();
    assert_eq!(
        (o.path.as_str(), o.ping_timeout),
        (d.path.as_str(), d.ping_timeout)
    );
    assert_eq!(
        (o.max_payload, o.outbound_queue),
        (d.max_payload, d.outbound_queue)
    );
    assert_eq!(o.cors, crate::options::Cors::any());
}

#[test]
fn bad_values_name_their_key() {
    let cases = [
        ("[server]\nbind = \"3000\"", "config: server.bind: `3000` is not an address like 0.0.0.0:3000 or [::1]:3000"),
        ("[server]\npath = \"\"", "config: server.path: must not be empty (the clients' default is \"/socket.io\")"),
        ("[server]\npath = \"/a b\"", "config: server.path: must not contain ' '"),
        ("[engine]\nping_interval_ms = 0", "config: engine.ping_interval_ms: must be greater than 0"),
        ("[engine]\nwrite_delay_ms = 1001", "config: engine.write_delay_ms: must be at most 1000 (it delays every packet)"),
        ("[engine]\nping_timeout_ms = 0", "config: engine.ping_timeout_ms: must be greater than 0"),
        ("[engine]\nping_interval_ms = 3000000000", "config: engine.ping_interval_ms: plus engine.ping_timeout_ms must be at most 2147483647 (browser timer limit)"),
        ("[engine]\nmax_payload_bytes = 1023", "config: engine.max_payload_bytes: must be between 1024 (1 KiB) and 104857600 (100 MiB)"),
        ("[engine]\nmax_payload_bytes = 104857601", "config: engine.max_payload_bytes: must be between 1024 (1 KiB) and 104857600 (100 MiB)"),
        ("[engine]\ntransports = []", "config: engine.transports: must name at least one of \"polling\", \"websocket\""),
        ("[engine]\ntransports = [\"xhr\"]", "config: engine.transports: unknown transport \"xhr\" (expected \"polling\" or \"websocket\")"),
        ("[engine]\nparser = \"json\"", "config: engine.parser: \"json\" is not \"default\" or \"msgpack\""),
        ("[engine]\nsticky_cookie = \"a b\"", "config: engine.sticky_cookie: \"a b\" is not a valid cookie name"),
        ("[cors]\norigins = [\"example.com\"]", "config: cors.origins: \"example.com\": must be \"*\" or start with http:// or https://"),
        ("[cors]\norigins = [\"https://a.com/\"]", "config: cors.origins: \"https://a.com/\": an origin has no path or trailing slash (write \"https://a.com\")"),
        ("[cors]\norigins = [\"https://A.com\"]", "config: cors.origins: \"https://A.com\": must be scheme://host[:port] with a lower-case host"),
        ("[cors]\norigins = [\"http://a:99999\"]", "config: cors.origins: \"http://a:99999\": has an invalid port"),
        ("[limits]\nmax_connections = 0", "config: limits.max_connections: must be greater than 0"),
        ("[limits]\noutbound_queue = 0", "config: limits.outbound_queue: must be greater than 0"),
        ("[admin]\nbind = \"0.0.0.0:3000\"", "config: admin.bind: uses the port of server.bind `0.0.0.0:3000`"),
        ("[admin]\ntoken = \"a\"\ntoken_env = \"T\"", "config: admin.token: set it or admin.token_env, not both"),
        ("[admin]\ntoken_env = \"UNSET_VAR\"", "config: admin.token_env: environment variable `UNSET_VAR` is not set or empty"),
        ("[log]\nlevel = \"verbose\"", "config: log.level: \"verbose\" is not one of error, warn, info, debug, trace"),
        ("[log]\nformat = \"xml\"", "config: log.format: \"xml\" is not \"text\" or \"json\""),
        ("namespaces = []", "config: namespaces: at least one [[namespaces]] entry is needed"),
        ("[[namespaces]]\nname = \"chat\"", "config: namespaces[0].name: \"chat\" must start with '/'"),
        ("[[namespaces]]\nname = \"/a*b\"", "config: namespaces[0].name: \"/a*b\" may contain '*' only as its last character"),
        ("[[namespaces]]\nname = \"/a,b\"", "config: namespaces[0].name: \"/a,b\" must not contain ',', whitespace or control characters"),
        ("[[namespaces]]\n[[namespaces]]", "config: namespaces[1].name: \"/\" is listed twice"),
        ("[[namespaces]]\nauth = \"jwt\"", "config: namespaces[0].auth: is \"jwt\" but neither jwt_secret nor jwt_secret_env is set"),
        ("[[namespaces]]\nauth = \"basic\"", "config: namespaces[0].auth: \"basic\" is not \"none\" or \"jwt\""),
        ("[[namespaces]]\njwt_secret = \"s\"", "config: namespaces[0].auth: is \"none\" but a JWT secret is set: set auth = \"jwt\" or remove the secret"),
        ("[[namespaces]]\nauth = \"jwt\"\njwt_secret = \"s\"\njwt_secret_env = \"S\"", "config: namespaces[0].jwt_secret: set it or namespaces[0].jwt_secret_env, not both"),
        ("[[namespaces]]\nauth = \"jwt\"\njwt_secret_env = \"NOPE\"", "config: namespaces[0].jwt_secret_env: environment variable `NOPE` is not set or empty"),
        ("[[namespaces]]\nclient_publish = \"all\"", "config: namespaces[0].client_publish: \"all\" is not \"none\", \"joined\" or \"any\""),
        ("[engine\n", "config: t.toml:1:8: unclosed table, expected `]`"),
        ("[server]\nbind = 1\nbind = 2", "config: t.toml:3:1: duplicate key"),
    ];
    for (input, want) in cases {
        assert_eq!(err(input), want, "input: {input:?}");
    }
}

#[test]
fn good_values_are_typed() {
    let text = "[server]\npath = \"io\"\nworkers = 3\n[engine]\ntransports = [\"websocket\"]\n\
                sticky_cookie = \"io\"\n[cors]\norigins = [\"https://app.example.com\", \"http://[::1]:8080\"]\n\
                [admin]\nbind = \"localhost:0\"\n[log]\nlevel = \"DEBUG\"\nformat = \"json\"\n\
                [[namespaces]]\nname = \"/tenant-*\"\nauth = \"jwt\"\njwt_secret = \"s3\"\nclient_publish = \"any\"\n\
                [[namespaces]]\nname = \"/tenant-vip\"\nclient_join = false\nclient_publish = \"none\"";
    let c = parse(text, "t.toml", &no_env).expect("valid");
    assert_eq!((c.server.path.as_str(), c.server.workers), ("/io/", 3));
    assert!(!c.engine.polling && c.engine.websocket);
    assert_eq!(c.engine.sticky_cookie.as_deref(), Some("io"));
    assert_eq!(c.admin.bind, "127.0.0.1:0".parse::<SocketAddr>().unwrap());
    assert_eq!(
        (c.log.level.as_str(), c.log.format),
        ("debug", LogFormat::Json)
    );
    assert!(c.namespaces[0].pattern);
    assert_eq!(
        c.namespaces[0].auth,
        Auth::Jwt {
            secret: "s3".into()
        }
    );
    assert!(
        !format!("{:?}", c.namespaces[0]).contains("s3"),
        "secrets are redacted"
    );
    assert_eq!(
        c.namespace("/tenant-42").map(|n| n.client_publish),
        Some(Publish::Any)
    );
    assert_eq!(
        c.namespace("/tenant-vip").map(|n| n.client_publish),
        Some(Publish::None)
    );
    assert_eq!(c.namespace("/tenant-"), None);
    assert_eq!(c.namespace("/"), None);
    assert_eq!(c.server_options().cookie.as_deref(), Some("io"));
    assert_eq!(c.server_options().parser, crate::Parser::Default);
    let c = parse("[engine]\nparser = \"msgpack\"", "t.toml", &no_env).expect("valid");
    assert_eq!(c.server_options().parser, crate::Parser::Msgpack);
}

#[test]
fn environment_overrides_keys_by_type() {
    let env = with_env(&[
        ("ROOMCAST_SERVER_BIND", "127.0.0.1:9000"),
        ("ROOMCAST_ENGINE_PING_INTERVAL_MS", "1_000"),
        ("ROOMCAST_ENGINE_TRANSPORTS", "websocket, polling"),
        ("ROOMCAST_CORS_CREDENTIALS", "true"),
        ("ROOMCAST_CORS_ORIGINS", "https://a.com,https://b.com"),
        ("ROOMCAST_ADMIN_TOKEN", "s3cr3t-admin"),
        ("ROOMCAST_LOG_FORMAT", "json"),
        ("ROOMCAST_ENGINE_PARSER", "msgpack"),
    ]);
    let c = parse("[server]\nbind = \"0.0.0.0:1\"", "t.toml", &env).expect("valid");
    assert_eq!(
        c.server.bind,
        "127.0.0.1:9000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(c.engine.ping_interval, Duration::from_secs(1));
    assert!(c.engine.polling && c.engine.websocket && c.cors.credentials);
    assert_eq!(c.cors.origins, ["https://a.com", "https://b.com"]);
    assert_eq!(c.admin.token.as_deref(), Some("s3cr3t-admin"));
    assert!(!format!("{c:?}").contains("s3cr3t"), "secrets are redacted");
    assert_eq!(c.log.format, LogFormat::Json);
    assert_eq!(c.engine.parser, crate::Parser::Msgpack);
}

#[test]
fn environment_errors_name_the_variable() {
    let cases: [(&'static [(&str, &str)], &str); 7] = [
        (&[("ROOMCAST_ENGINE_PING_INTERVAL_MS", "0")], "config: engine.ping_interval_ms: must be greater than 0 (set by ROOMCAST_ENGINE_PING_INTERVAL_MS)"),
        (&[("ROOMCAST_ENGINE_PING_INTERVAL_MS", "fast")], "config: environment variable ROOMCAST_ENGINE_PING_INTERVAL_MS: engine.ping_interval_ms expects a non-negative integer, got \"fast\""),
        (&[("ROOMCAST_ENGINE_PARSER", "MessagePack")], "config: engine.parser: \"MessagePack\" is not \"default\" or \"msgpack\" (set by ROOMCAST_ENGINE_PARSER)"),
        (&[("ROOMCAST_CORS_CREDENTIALS", "maybe")], "config: environment variable ROOMCAST_CORS_CREDENTIALS: cors.credentials expects a boolean (true or false), got \"maybe\""),
        (&[("ROOMCAST_ENGINE_PINGINTERVAL", "1")], "config: environment variable ROOMCAST_ENGINE_PINGINTERVAL: names no key of [engine]; did you mean ROOMCAST_ENGINE_PING_INTERVAL_MS?"),
        (&[("ROOMCAST_LOG_COLOUR", "1")], "config: environment variable ROOMCAST_LOG_COLOUR: names no key of [log] (its keys: color, format, level)"),
        (&[("ROOMCAST_NAMESPACES_0_NAME", "/x")], "config: environment variable ROOMCAST_NAMESPACES_0_NAME: [[namespaces]] cannot be overridden from the environment (edit the file; use jwt_secret_env for secrets)"),
    ];
    for (vars, want) in cases {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        let got = load_with_env(None, &vars)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!(got, want);
    }
}

#[test]
fn foreign_and_secret_variables_are_allowed() {
    let path = temp_file("[admin]\ntoken_env = \"ROOMCAST_ADMIN_SECRET\"\n");
    let vars: Vec<(String, String)> = [
        ("ROOMCAST_REFERENCE", "1"),
        ("ROOMCAST_URL", "http://localhost:3000"),
        ("ROOMCAST_ADMIN_SECRET", "from-env"),
        ("PATH", "/bin"),
    ]
    .iter()
    .map(|(k, v)| ((*k).into(), (*v).into()))
    .collect();
    let c = load_with_env(Some(&path), &vars).expect("valid");
    assert_eq!(c.admin.token.as_deref(), Some("from-env"));
    let env = with_env(&[("JWT", "k")]);
    let ns = "[[namespaces]]\nauth = \"jwt\"\njwt_secret_env = \"JWT\"";
    let c = parse(ns, "t.toml", &env).expect("valid");
    assert_eq!(c.namespaces[0].auth, Auth::Jwt { secret: "k".into() });
    std::fs::remove_file(path).ok();
}

#[test]
fn file_errors_name_the_file() {
    let path = temp_file("[engine]\npingInterval = 5\n");
    let got = load(Some(&path), &no_env).unwrap_err().to_string();
    let want = format!(
        "config: unknown key `pingInterval` in [engine]; did you mean `ping_interval_ms`? ({})",
        path.display()
    );
    assert_eq!(got, want);
    std::fs::remove_file(&path).ok();
    let got = load(Some(&path), &no_env).unwrap_err().to_string();
    assert!(
        got.starts_with(&format!("config: cannot read {}: ", path.display())),
        "{got}"
    );
    assert!(!got.contains('\n'));
}

fn temp_file(text: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("roomcast-config-{}-{n}.toml", std::process::id()));
    std::fs::write(&path, text).expect("temp dir is writable");
    path
}

#[test]
fn log_color_follows_the_terminal_and_no_color() {
    use super::LogColor;
    assert!(LogColor::Auto.enabled(true, None));
    assert!(
        LogColor::Auto.enabled(true, Some("")),
        "an empty NO_COLOR is unset"
    );
    assert!(!LogColor::Auto.enabled(true, Some("1")));
    assert!(
        !LogColor::Auto.enabled(false, None),
        "redirected: no colour"
    );
    assert!(LogColor::Always.enabled(false, Some("1")));
    assert!(!LogColor::Never.enabled(true, None));
    let bad = parse("[log]\ncolor = \"sometimes\"\n", "t", &no_env).unwrap_err();
    assert!(bad.to_string().contains("log.color"), "{bad}");
}

/// An environment lookup, as `parse` takes it.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Found by the `config` fuzz target: a value holding a newline (a TOML `"\n"` escape) was quoted
/// as is, so the refusal printed as two lines. Control characters are now written as escapes.
#[test]
fn refusals_quoting_control_characters_stay_one_line() {
    let env = with_env(&[("ROOMCAST_LOG_LEVEL", "deb\tug")]);
    let cases: [(&str, Env, &str); 4] = [
        (
            "[admin]\nbind = \"0.0.3\\n00\"",
            &no_env,
            "config: admin.bind: `0.0.3\\n00` is not an address like 0.0.0.0:3000 or [::1]:3000",
        ),
        (
            "[engine]\n\"ping\\ninterval\" = 1",
            &no_env,
            "config: unknown key `ping\\ninterval` in [engine] (t.toml)",
        ),
        (
            "[admin]\ntoken_env = \"A\\rB\"",
            &no_env,
            "config: admin.token_env: environment variable `A\\rB` is not set or empty",
        ),
        ("", &env, "config: log.level: \"deb\\tug\" is not one of error, warn, info, debug, trace (set by ROOMCAST_LOG_LEVEL)"),
    ];
    for (text, env, want) in cases {
        let got = parse(text, "t.toml", env)
            .map(drop)
            .map_err(|e| e.to_string());
        assert_eq!(got, Err(want.to_owned()), "{text:?}");
    }
}
