//! The recovery state file (`[recovery] state_file`): on a drain the store is written to it, on
//! the next start of the same node it is read back, so the clients of a node that restarts recover
//! on it. The file is one JSON document, a [`Snapshot`]: serde_json is already a dependency,
//! stored packets are mostly JSON text already, an operator can read the file, and the
//! `format`/`version` header tells a file of ours, of a newer build, or something else apart. It is
//! written whole to a temporary file beside it, synced, and renamed over it (never half written).
//! Read back, it is removed at once, so a session is recovered at most once; a file that cannot be
//! used (corrupt, foreign, of a newer version, larger than the bounds allow) is renamed to
//! `<file>.rejected` with an error logged, and the node starts with an empty store: a bad file
//! never keeps the node from starting.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::snapshot::{Imported, Snapshot, FORMAT, VERSION};
use super::Recovery;

/// Why a state file was not used.
#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    /// It could not be read (or removed after reading).
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
    /// It is larger than the store's bounds allow.
    #[error("{size} bytes, more than the {max} the [recovery] bounds allow")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The most accepted.
        max: u64,
    },
    /// It is not a roomcast recovery state file, or not a whole one.
    #[error("not a roomcast recovery state file, or a damaged one: {0}")]
    Corrupt(String),
    /// It was written by a newer roomcast.
    #[error("written in format version {0}, newer than this build's {VERSION}")]
    FutureVersion(u32),
}

/// The header every version keeps.
#[derive(Deserialize)]
struct Header {
    format: Option<String>,
    version: Option<u32>,
}

/// Milliseconds since the Unix epoch, by the wall clock.
pub fn wall_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map_or(0, |d| d.as_millis() as u64)
}

/// Writes `snap` to `path` atomically: a temporary file in the same directory, synced, renamed
/// over `path`. Returns the bytes written.
pub fn write(path: &Path, snap: &Snapshot) -> std::io::Result<u64> {
    let tmp = sibling(path, &format!("tmp-{}", std::process::id()));
    let written = (|| {
        let mut out = std::io::BufWriter::new(create_private(&tmp)?);
        serde_json::to_writer(&mut out, snap)?;
        out.flush()?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        file.metadata().map(|m| m.len())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory is synced (best effort).
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    written
}

/// A new file (replacing any) only its owner may read: it holds private session ids, with which
/// a client takes a session over.
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Reads the snapshot at `path` (at most `max` bytes) and removes the file: `Ok(None)` when
/// there is none; with the snapshot, the file's bytes (to set them aside should the snapshot's
/// content be refused). A file that cannot be used is renamed to `<path>.rejected`.
pub fn take(path: &Path, max: u64) -> Result<Option<(Snapshot, Vec<u8>)>, StateFileError> {
    let bytes = match read_bounded(path, max) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        Err(e) => {
            if !matches!(e, StateFileError::Io(_)) {
                let _ = std::fs::rename(path, sibling(path, "rejected"));
            }
            return Err(e);
        }
    };
    let parsed = parse(&bytes);
    match &parsed {
        Ok(_) => std::fs::remove_file(path)?,
        Err(_) => std::fs::rename(path, sibling(path, "rejected"))?,
    }
    parsed.map(|snap| Some((snap, bytes)))
}

fn read_bounded(path: &Path, max: u64) -> Result<Option<Vec<u8>>, StateFileError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let size = file.metadata()?.len();
    if size > max {
        return Err(StateFileError::TooLarge { size, max });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    std::io::Read::read_to_end(&mut std::io::Read::take(file, max + 1), &mut bytes)?;
    if bytes.len() as u64 > max {
        let size = bytes.len() as u64;
        return Err(StateFileError::TooLarge { size, max });
    }
    Ok(Some(bytes))
}

/// The snapshot in `bytes`, its header checked first so that a newer version is named as such.
pub fn parse(bytes: &[u8]) -> Result<Snapshot, StateFileError> {
    let corrupt = |e: serde_json::Error| StateFileError::Corrupt(e.to_string());
    let header: Header = serde_json::from_slice(bytes).map_err(corrupt)?;
    if header.format.as_deref() != Some(FORMAT) {
        let found = header.format.unwrap_or_default();
        return Err(StateFileError::Corrupt(format!(
            "format {found:?}, not {FORMAT:?}"
        )));
    }
    match header.version {
        Some(v) if v > VERSION => return Err(StateFileError::FutureVersion(v)),
        Some(_) => {}
        None => return Err(StateFileError::Corrupt("no version".to_owned())),
    }
    serde_json::from_slice(bytes).map_err(corrupt)
}

/// `<path>.<suffix>`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

impl Recovery {
    /// Loads the state file, if one is configured and present, into the (empty) store, and
    /// removes it. Every outcome is logged; a file that cannot be used leaves the store empty.
    pub fn load_state_file(&self) -> Option<Imported> {
        let path = self.state_file.as_deref()?;
        let file = path.display();
        let loaded = take(path, self.max_file_bytes).and_then(|taken| {
            let Some((snap, bytes)) = taken else {
                return Ok(None);
            };
            let wall = wall_ms();
            let imported = self.with(|store, now| store.import(snap, now, wall));
            imported.map(Some).map_err(|why| {
                let _ = std::fs::write(sibling(path, "rejected"), bytes);
                StateFileError::Corrupt(why)
            })
        });
        match loaded {
            Ok(None) => {
                tracing::info!(%file, "no recovery state file: starting with no sessions");
                None
            }
            Ok(Some(i)) => {
                tracing::info!(
                    %file, sessions = i.sessions, packets = i.packets, expired = i.expired,
                    "recovery state loaded (the file is removed: each session recovers once)"
                );
                Some(i)
            }
            Err(error) => {
                tracing::error!(
                    %file, %error,
                    "recovery state file rejected: starting with no sessions (the file is kept \
                     as <file>.rejected)"
                );
                None
            }
        }
    }

    /// Writes the store to the state file, if one is configured: (sessions, packets) written.
    /// Called once the node's sockets have left (so their sessions are kept) and nothing more is
    /// broadcast.
    pub fn save_state_file(&self) -> std::io::Result<Option<(usize, usize)>> {
        let Some(path) = self.state_file.as_deref() else {
            return Ok(None);
        };
        let wall = wall_ms();
        let snap = self.with(|store, now| store.export(now, wall));
        let packets = snap.logs.iter().map(|l| l.packets.len()).sum();
        let sessions = snap.sessions.len();
        let bytes = write(path, &snap)?;
        tracing::info!(
            file = %path.display(), sessions, packets, bytes,
            "recovery state written for the next start"
        );
        Ok(Some((sessions, packets)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RecoveryBounds;
    use std::time::Instant;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("roomcast-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn snapshot() -> Snapshot {
        let mut store = super::super::RecoveryStore::new(RecoveryBounds::default(), "ab".into());
        let now = Instant::now();
        let sel = std::sync::Arc::new(crate::room::Selector::default());
        store.push(
            "/",
            sel,
            vec![crate::protocol::engineio::Frame::Text("42[\"m\"]".into())].into(),
            now,
        );
        store.export(now, wall_ms())
    }

    #[test]
    fn a_written_file_is_read_back_once() {
        let d = dir("once");
        let path = d.join("state.json");
        let snap = snapshot();
        let written = write(&path, &snap).expect("written");
        assert!(written > 0);
        let names: Vec<_> = std::fs::read_dir(&d).expect("dir").flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("there")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "private session ids: owner only");
        }
        let (read, bytes) = take(&path, 1 << 20).expect("read").expect("there");
        assert_eq!((read, bytes.len() as u64), (snap, written));
        assert!(!path.exists(), "removed once read");
        assert!(take(&path, 1 << 20).expect("no file").is_none());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_recovery_saved_by_one_server_is_loaded_by_the_next_one() {
        use crate::adapter::recovery::store::SessionState;
        let d = dir("servers");
        let options = crate::options::RecoveryOptions {
            enabled: true,
            state_file: Some(d.join("state.json")),
            ..Default::default()
        };
        let metrics = || std::sync::Arc::new(crate::metrics::Metrics::new());
        let parser = crate::protocol::socketio::Parser::Default;
        let first = Recovery::new(&options, parser, metrics());
        let pid = crate::protocol::ids::Sid::new();
        let offset = first.with(|store, now| {
            let sel = std::sync::Arc::new(crate::room::Selector::default());
            let frames = vec![crate::protocol::engineio::Frame::Text("42[\"m\"]".into())];
            let seq = store.push("/", sel, frames.into(), now);
            let sid = crate::protocol::ids::Sid::new();
            let data = serde_json::Value::Null;
            let nsp = "/".to_owned();
            let rooms = Vec::new();
            store.persist(
                SessionState {
                    sid,
                    pid,
                    nsp,
                    rooms,
                    data,
                },
                now,
            );
            store.offset(seq)
        });
        assert_eq!(first.save_state_file().expect("written"), Some((1, 1)));
        let next = Recovery::new(&options, parser, metrics());
        let loaded = next.load_state_file().expect("loaded");
        assert_eq!((loaded.sessions, loaded.packets), (1, 1));
        assert_eq!(next.sizes().2, 1);
        let restored = next.with(|store, now| store.restore("/", pid.as_str(), &offset, now));
        assert!(restored.is_ok(), "{restored:?}");
        let again = Recovery::new(&options, parser, metrics());
        assert!(again.load_state_file().is_none(), "loaded once");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn an_unusable_file_is_named_and_set_aside() {
        let d = dir("bad");
        let path = d.join("state.json");
        let good = serde_json::to_string(&snapshot()).expect("encodes");
        let future = good.replacen("\"version\":1", "\"version\":7", 1);
        for (content, want) in [
            (
                &good[..good.len() / 2],
                "not a roomcast recovery state file, or a damaged one",
            ),
            (
                "{\"hello\":1}",
                "format \"\", not \"roomcast-recovery-state\"",
            ),
            ("\u{1}\u{2}binary", "not a roomcast recovery state file"),
            (
                &future[..],
                "written in format version 7, newer than this build's 1",
            ),
            (&"x".repeat(2000)[..], "2000 bytes, more than the 1000"),
        ] {
            std::fs::write(&path, content).expect("written");
            let err = take(&path, 1000.max(good.len() as u64)).expect_err(want);
            assert!(err.to_string().contains(want), "{err} names {want}");
            assert!(!path.exists(), "moved aside");
            let aside = std::fs::read_to_string(sibling(&path, "rejected")).expect("kept");
            assert_eq!(aside, content, "kept as it was");
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
