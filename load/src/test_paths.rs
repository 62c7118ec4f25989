//! Paths the load crate's end-to-end tests share: the workspace root, the debug broker binary,
//! and the result document a `compare` saved.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate).
pub(crate) fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// `target/debug/roomcast` (or under `CARGO_TARGET_DIR`).
pub(crate) fn roomcast_bin(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| root.join(d))
        .unwrap_or_else(|| root.join("target"));
    target.join("debug").join("roomcast")
}

/// The saved result document in `dir` (the only compare-*.json there).
pub(crate) fn saved(dir: &Path) -> serde_json::Value {
    let entries = std::fs::read_dir(dir).expect("results directory");
    let json = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a saved compare-*.json");
    serde_json::from_str(&std::fs::read_to_string(json).expect("read")).expect("JSON")
}
