//! The data directory and the secrets in it, the owner's alone: the directory is mode 0700, the
//! admin token, the key seed, the catalog and the journal 0600. A secret is made at the first
//! start and written atomically (a temporary file, fsync, rename, fsync of the directory): a
//! crash at any point leaves either no file or a whole one. No secret is ever logged.

use std::path::{Path, PathBuf};

use tollgate_gate::{Publish, write_atomically};

/// The fewest characters an admin token may have (a generated one has 48).
pub(crate) const MIN_TOKEN_CHARS: usize = 32;

/// The environment variable that gives the admin token (instead of `<data-dir>/admin-token`).
const TOKEN_VARIABLE: &str = "TOLLGATE_ADMIN_TOKEN";

/// Bytes of a key seed.
const SEED_BYTES: usize = 16;

/// Creates `dir` (and missing parents) with mode 0700; an existing one that group or others may
/// enter is narrowed to 0700, with a warning naming it.
///
/// # Errors
/// It cannot be created, is not a directory, or its mode cannot be changed.
pub(crate) fn data_dir(dir: &Path) -> Result<(), String> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|error| {
        format!(
            "cannot create the data directory {}: {error}",
            dir.display()
        )
    })?;
    if !dir.is_dir() {
        return Err(format!(
            "the data directory {} is not a directory",
            dir.display()
        ));
    }
    owner_only(dir, 0o700)
}

/// Narrows `path` to `mode` (0600 or 0700) if group or others have any access to it, with a
/// warning naming it; nothing if it does not exist.
///
/// # Errors
/// Its mode cannot be read or changed.
pub(crate) fn owner_only(path: &Path, mode: u32) -> Result<(), String> {
    if let Some(was) = narrow(path, mode)? {
        tracing::warn!(
            path = %path.display(),
            was = %format!("{was:o}"),
            now = %format!("{mode:o}"),
            "group or others had access; now the owner's alone"
        );
    }
    Ok(())
}

/// Narrows `path` to `mode` if group or others have any access to it; the mode it had then.
///
/// # Errors
/// Its mode cannot be read or changed.
pub(crate) fn narrow(path: &Path, mode: u32) -> Result<Option<u32>, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
        };
        let was = metadata.permissions().mode() & 0o777;
        if was & 0o077 == 0 {
            return Ok(None);
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|error| {
            format!(
                "cannot make {} private (mode {mode:o}): {error}",
                path.display()
            )
        })?;
        Ok(Some(was))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(None)
    }
}

/// The 16-byte seed partition keys are hashed with, in `<dir>/key-seed`: made at the first start,
/// and refused if damaged (its limit state could never be found again with another one).
///
/// # Errors
/// The file is damaged or unreadable, or cannot be written.
pub(crate) fn key_seed(dir: &Path) -> Result<[u8; SEED_BYTES], String> {
    let path = dir.join("key-seed");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let seed: [u8; SEED_BYTES] = bytes.as_slice().try_into().map_err(|_| {
                format!(
                    "the key seed {} is damaged ({} bytes; a key seed has {SEED_BYTES}): restore \
                     it from a backup of the data directory, or delete it to start with fresh \
                     limit state (every quota and rate limit restarts from zero)",
                    path.display(),
                    bytes.len()
                )
            })?;
            owner_only(&path, 0o600)?;
            Ok(seed)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; SEED_BYTES];
            getrandom::fill(&mut seed).map_err(|error| format!("no randomness: {error}"))?;
            match write_atomically(&path, &seed, Publish::CreateNew) {
                Ok(()) => Ok(seed),
                // Another instance starting on the same directory made one first: use it.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    made_elsewhere(&path)?;
                    key_seed(dir)
                }
                Err(error) => Err(format!("cannot write {}: {error}", path.display())),
            }
        }
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

/// The admin token: `TOLLGATE_ADMIN_TOKEN` if set, else the one in `<dir>/admin-token`, made at
/// the first start. Whitespace around it is dropped; what is left must be at least
/// [`MIN_TOKEN_CHARS`] visible ASCII characters, or the server refuses to start, naming the fix.
/// The log names the file, never the token.
///
/// # Errors
/// The token is unfit, or its file cannot be read or written.
pub(crate) fn admin_token(dir: &Path) -> Result<String, String> {
    if let Some(value) = std::env::var_os(TOKEN_VARIABLE) {
        let fix = format!(
            "set it to at least {MIN_TOKEN_CHARS} visible ASCII characters (e.g. `openssl rand \
             -hex 24`), or unset it to use the token in {}",
            dir.join("admin-token").display()
        );
        let Some(value) = value.to_str() else {
            return Err(format!("{TOKEN_VARIABLE} is not valid text: {fix}"));
        };
        return fit_token(value)
            .map_err(|unfit| format!("{TOKEN_VARIABLE} is set but {unfit}: {fix}"));
    }
    let path = dir.join("admin-token");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let fit = std::str::from_utf8(&bytes)
                .map_err(|_| "is not text".to_owned())
                .and_then(fit_token);
            let token = fit.map_err(|unfit| {
                format!(
                    "the admin token in {} {unfit}: delete the file to have a new one generated, \
                     or write a longer one (or set {TOKEN_VARIABLE})",
                    path.display()
                )
            })?;
            owner_only(&path, 0o600)?;
            Ok(token)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 24];
            getrandom::fill(&mut secret)
                .map_err(|error| format!("no randomness for the admin token: {error}"))?;
            let token: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();
            match write_atomically(&path, token.as_bytes(), Publish::CreateNew) {
                Ok(()) => {
                    tracing::info!(file = %path.display(), "admin token generated");
                    Ok(token)
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    made_elsewhere(&path)?;
                    admin_token(dir)
                }
                Err(error) => Err(format!("cannot write {}: {error}", path.display())),
            }
        }
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

/// After a secret's creation found one in place: fine if it can be read now (another instance
/// made it first), an error if `path` is a link to nothing (which reads as missing and cannot be
/// created, and would be tried forever).
fn made_elsewhere(path: &Path) -> Result<(), String> {
    std::fs::metadata(path).map(drop).map_err(|error| {
        format!(
            "{} is there but cannot be read ({error}): a link to nothing? Remove it",
            path.display()
        )
    })
}

/// `text` without the whitespace around it, if fit for a token; else what is wrong with it,
/// e.g. "is empty (at least 32 characters are needed)".
fn fit_token(text: &str) -> Result<String, String> {
    let token = text.trim();
    let count = token.chars().count();
    if count == 0 {
        return Err(format!(
            "is empty (at least {MIN_TOKEN_CHARS} characters are needed)"
        ));
    }
    if count < MIN_TOKEN_CHARS {
        return Err(format!(
            "has {count} characters (at least {MIN_TOKEN_CHARS} are needed)"
        ));
    }
    if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(
            "has characters other than visible ASCII (a client could not send it in a header)"
                .to_owned(),
        );
    }
    Ok(token.to_owned())
}

/// The catalog's SQLite file, if `url` names one (`sqlite://PATH`, not in memory).
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://")?;
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Creates the catalog's SQLite file empty and with mode 0600 if it is missing (SQLite gives its
/// `-wal`, `-shm` and `-journal` files the database's mode), so that it is never readable by
/// others, not even for a moment.
///
/// # Errors
/// It cannot be created.
pub(crate) fn create_private(path: &Path) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => owner_only(path, 0o600),
        Err(error) => Err(format!("cannot create {}: {error}", path.display())),
    }
}

/// Narrows the catalog's SQLite file and its companions to 0600 where they exist.
///
/// # Errors
/// A mode cannot be changed.
pub(crate) fn sqlite_private(path: &Path) -> Result<(), String> {
    owner_only(path, 0o600)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        owner_only(Path::new(&companion), 0o600)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_trimmed_and_must_be_long_and_visible() {
        let long = "a".repeat(MIN_TOKEN_CHARS);
        assert_eq!(fit_token(&format!("  {long}\n")), Ok(long.clone()));
        assert_eq!(
            fit_token(" \n"),
            Err("is empty (at least 32 characters are needed)".to_owned())
        );
        assert_eq!(
            fit_token("short-token\n"),
            Err("has 11 characters (at least 32 are needed)".to_owned())
        );
        assert!(fit_token(&format!("{long} {long}")).is_err());
        assert!(fit_token(&format!("{long}é")).is_err());
    }

    #[test]
    fn sqlite_files_of_catalog_urls() {
        assert_eq!(
            sqlite_file("sqlite://data/catalog.db"),
            Some(PathBuf::from("data/catalog.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///var/x.db?mode=rwc"),
            Some(PathBuf::from("/var/x.db"))
        );
        assert_eq!(sqlite_file("sqlite://:memory:"), None);
        assert_eq!(sqlite_file("postgres://u@h/db"), None);
    }
}
