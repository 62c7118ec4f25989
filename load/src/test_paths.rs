//! Paths the load crate's end-to-end tests share: the workspace root and the debug broker binary.

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
