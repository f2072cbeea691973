//! Every file in `broken/` fails with exactly the messages in its `.expected` twin.
//! Set `UPDATE_SNAPSHOTS=1` to rewrite the twins after reading the new messages.

use std::fs;
use std::path::PathBuf;

use tollgate_policy::{Policy, Source};

#[test]
fn broken_files_report_file_line_and_column() {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/policy/broken");
    let mut checked = 0;
    for entry in fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "toml") {
            continue;
        }
        let name = format!("broken/{}", path.file_name().unwrap().to_string_lossy());
        let source = Source::new(name.clone(), fs::read_to_string(&path).unwrap());
        let errors = Policy::compile(&source).expect_err(&name);
        let actual = format!("{errors}\n");
        let expected_path = path.with_extension("expected");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            fs::write(&expected_path, &actual).unwrap();
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        assert_eq!(actual, expected, "{name}");
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} broken files");
}
