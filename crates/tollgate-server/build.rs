//! Puts the commit the binary is built from into `tollgate --version`: `TOLLGATE_COMMIT` when
//! set (an image or package built from a tarball), else `git rev-parse` of the checkout, else
//! "unknown". Only a change of commit builds it again (not every edit: that would rebuild the
//! server crate on each one).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TOLLGATE_COMMIT");
    let commit = std::env::var("TOLLGATE_COMMIT")
        .ok()
        .filter(|commit| !commit.is_empty())
        .or_else(from_git)
        .unwrap_or_else(|| {
            // No commit to name: look again when anything of the crate changes, rather than
            // keep "unknown" for builds that could name one.
            println!("cargo:rerun-if-changed=.");
            "unknown".to_owned()
        });
    println!("cargo:rustc-env=TOLLGATE_COMMIT={commit}");
}

/// The checkout's commit. Its HEAD and branch are watched whether or not `git` answered, so
/// that a new commit (or a `git` that works again) builds it again.
fn from_git() -> Option<String> {
    if let Some(dir) = git_dir() {
        let branch = std::fs::read_to_string(dir.join("HEAD"))
            .ok()
            .and_then(|head| {
                head.strip_prefix("ref: ")
                    .map(|name| name.trim().to_owned())
            });
        let watched = ["HEAD", "packed-refs"].into_iter().chain(branch.as_deref());
        // A path that does not exist would make the script run on every build.
        for path in watched
            .map(|name| dir.join(name))
            .filter(|path| path.exists())
        {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let output = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|output| output.status.success())?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned()).filter(|head| !head.is_empty())
}

/// The `.git` directory above this crate, if it is in a checkout (a worktree's `.git` file
/// names its directory).
fn git_dir() -> Option<PathBuf> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let found = Path::new(&manifest)
        .ancestors()
        .map(|dir| dir.join(".git"))
        .find(|git| git.exists())?;
    if found.is_dir() {
        return Some(found);
    }
    let text = std::fs::read_to_string(&found).ok()?;
    let named = text.strip_prefix("gitdir: ")?.trim();
    Some(found.parent()?.join(named))
}
