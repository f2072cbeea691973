//! Files that a crash leaves whole or not at all: the journal's compactions and the server's
//! secrets are written so.

use std::io::Write;
use std::path::Path;

/// How [`write_atomically`] puts its file in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    /// Over whatever is there (rename).
    Replace,
    /// Only where nothing is (hard link): two processes making the same secret at once never
    /// replace each other's; the second gets `AlreadyExists` and reads the first's.
    CreateNew,
}

/// Writes `contents` to `path` so that a crash leaves no file (or the one there before) or a
/// whole one: a temporary file beside it, mode 0600, written and fsync'ed, put in place as
/// `publish` says, and the directory fsync'ed.
///
/// # Errors
/// What failed, as an I/O error (`AlreadyExists` for [`Publish::CreateNew`] over a file).
pub fn write_atomically(path: &Path, contents: &[u8], publish: Publish) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    if publish == Publish::CreateNew {
        // Processes racing to create the file (in containers, often all PID 1) each write their
        // own, under a name nobody else picks.
        let mut tag = [0u8; 8];
        getrandom::fill(&mut tag).map_err(std::io::Error::other)?;
        name.push(format!(".{}", u64::from_le_bytes(tag)));
    }
    name.push(".new");
    let temporary = folder.join(name);
    // Left by a crash before its rename: never in place, so nothing of it counts.
    if publish == Publish::Replace {
        match std::fs::remove_file(&temporary) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temporary).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    let placed = written.and_then(|()| match publish {
        Publish::Replace => std::fs::rename(&temporary, path),
        Publish::CreateNew => {
            let linked = std::fs::hard_link(&temporary, path);
            let _ = std::fs::remove_file(&temporary);
            linked
        }
    });
    if let Err(error) = placed {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    #[cfg(unix)]
    std::fs::File::open(folder)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_leaves_a_whole_private_file_and_no_temporary() {
        let folder = std::env::temp_dir().join(format!("tollgate-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let path = folder.join("admin-token");
        // A temporary file left by a crash is replaced, never taken for the secret.
        std::fs::write(folder.join(".admin-token.new"), "torn").unwrap();
        write_atomically(&path, b"whole", Publish::Replace).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        assert!(!folder.join(".admin-token.new").exists());
        // Made once only: a second maker finds the first's file and leaves it.
        let error = write_atomically(&path, b"other", Publish::CreateNew).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&folder);
    }
}
