//! Reloads the policy file and envoyproxy/ratelimit's files when what they hold changes, as
//! envoyproxy/ratelimit reloads its runtime directory: an edit, a file renamed into place, or a
//! symlink above them swapped (how Kubernetes updates a mounted ConfigMap: `..data` pointed at a
//! new directory at once). Every [`EVERY`] the files are looked at through their links — which
//! file each is (device and inode), its length and its change times — so an edit, a rename
//! over it or a swap of any link on the way is seen without reading them; a change is loaded
//! once it looks the same twice in a row, so a file caught half written is not.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tollgate_core::Clock;

use crate::Admin;

/// How often the files are read.
pub(super) const EVERY: Duration = Duration::from_millis(200);

/// Reads the files `admin` reloads every [`EVERY`] and reloads them once a change has settled;
/// invalid files are logged (and counted as failed reloads) and the rules in force stay.
pub(super) async fn reload_on_change<C: Clock>(admin: Arc<Admin<C>>) {
    let files = Watched {
        config: admin.config_file().map(Path::to_owned),
        ratelimit: admin.ratelimit_dir().map(Path::to_owned),
    };
    if files.config.is_none() && files.ratelimit.is_none() {
        return;
    }
    let mut loaded = files.fingerprint();
    let mut seen = loaded;
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = files.fingerprint();
        let settled = now == seen;
        seen = now;
        if !settled || now == loaded {
            continue;
        }
        loaded = now;
        match admin.reload_files() {
            Ok(summary) => tracing::info!(%summary, "policy reloaded: its files changed"),
            Err(errors) => {
                for error in &errors.0 {
                    tracing::error!(%error, "policy not reloaded: its files changed");
                }
            }
        }
    }
}

/// The files a reload reads.
struct Watched {
    config: Option<PathBuf>,
    ratelimit: Option<PathBuf>,
}

impl Watched {
    /// A hash of what the files are now (and of what could not be looked at, and why).
    fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        if let Some(file) = &self.config {
            hash_file(&mut hasher, file);
        }
        if let Some(dir) = &self.ratelimit {
            // The files the loader reads: `*.yaml` and `*.yml` directly in the directory.
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    let mut files: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .map(|entry| entry.path())
                        .filter(|path| {
                            path.extension()
                                .is_some_and(|extension| extension == "yaml" || extension == "yml")
                        })
                        .collect();
                    files.sort();
                    for file in &files {
                        hash_file(&mut hasher, file);
                    }
                }
                Err(error) => error.kind().hash(&mut hasher),
            }
        }
        hasher.finish()
    }
}

/// Adds `file`'s name and which file it is now (through any symlinks): device, inode, length,
/// and its modification and change times to the nanosecond; or why it cannot be looked at.
fn hash_file(hasher: &mut DefaultHasher, file: &Path) {
    use std::os::unix::fs::MetadataExt;
    file.hash(hasher);
    match std::fs::metadata(file) {
        Ok(found) => (
            found.dev(),
            found.ino(),
            found.len(),
            found.mtime(),
            found.mtime_nsec(),
            found.ctime(),
            found.ctime_nsec(),
        )
            .hash(hasher),
        Err(error) => error.kind().hash(hasher),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_swapped_above_the_files_changes_the_fingerprint() {
        let dir = std::env::temp_dir().join(format!("tollgate-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (version, count) in [("..v1", 2), ("..v2", 5)] {
            std::fs::create_dir_all(dir.join(version)).unwrap();
            std::fs::write(
                dir.join(version).join("edge.yaml"),
                format!("requests_per_unit: {count}\n"),
            )
            .unwrap();
        }
        std::os::unix::fs::symlink("..v1", dir.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/edge.yaml", dir.join("edge.yaml")).unwrap();
        let watched = Watched {
            config: None,
            ratelimit: Some(dir.clone()),
        };
        let before = watched.fingerprint();
        assert_eq!(watched.fingerprint(), before, "nothing changed");
        std::os::unix::fs::symlink("..v2", dir.join("..data_tmp")).unwrap();
        std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
        assert_ne!(watched.fingerprint(), before);
        // A file the loader does not read changes nothing.
        let swapped = watched.fingerprint();
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        assert_eq!(watched.fingerprint(), swapped);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
