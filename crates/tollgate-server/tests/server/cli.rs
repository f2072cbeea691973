//! The `tollgate` command line as an operator meets it: `--version`.

use std::process::Command;

/// `tollgate --version` names the version and the commit it was built from.
#[test]
fn the_version_names_the_commit() {
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|git| git.status.success())
        .map_or_else(
            || "unknown".to_owned(),
            |git| String::from_utf8_lossy(&git.stdout).trim().to_owned(),
        );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("tollgate {} (commit {commit})", env!("CARGO_PKG_VERSION"))
    );
}
