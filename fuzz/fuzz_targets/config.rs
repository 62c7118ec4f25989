//! The configuration parser (`config::parse`): TOML text -> schema check -> `ROOMCAST_*`
//! environment overrides -> raw config -> `validate()`. The input is the file text, then
//! optionally a NUL byte and environment lines `NAME=value` (`ROOMCAST_` is prefixed to each name,
//! which also names the variables `token_env`/`jwt_secret_env` point at).
//!
//! Checks: every refusal is one non-empty line (the operator's message); an accepted config yields
//! its server options; and the file's raw form, written back as TOML, is accepted or refused
//! alike and gives the same config (parse is a function of the keys' values, not their layout).
#![no_main]

use libfuzzer_sys::fuzz_target;
use roomcast::config::{parse, RawConfig};

fuzz_target!(|data: &[u8]| {
    let (file, env) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let (Ok(file), Ok(env)) = (std::str::from_utf8(file), std::str::from_utf8(env)) else {
        return;
    };
    let vars: Vec<(String, &str)> = env
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (format!("ROOMCAST_{name}"), value))
        .collect();
    let lookup = |name: &str| {
        vars.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let parsed = parse(file, "fuzz.toml", &lookup);
    match &parsed {
        Err(e) => {
            let line = e.to_string();
            assert!(!line.is_empty() && !line.contains('\n'), "{line:?}");
        }
        Ok(config) => {
            let options = config.server_options();
            assert_eq!(options.max_payload, config.engine.max_payload_bytes);
        }
    }
    let Ok(raw) = toml::from_str::<RawConfig>(file) else {
        return;
    };
    let text = toml::to_string(&raw).expect("a raw config serializes");
    let again = parse(&text, "fuzz.toml", &lookup);
    match (&parsed, &again) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{file:?} rewritten as {text:?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("{file:?} gave {parsed:?}, rewritten as {text:?} it gave {again:?}"),
    }
});
