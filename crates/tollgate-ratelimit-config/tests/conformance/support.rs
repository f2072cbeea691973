//! Helpers shared by the conformance tests.

use std::path::PathBuf;

use tollgate_core::KeySpace;
use tollgate_ratelimit_config::{RateLimitConfig, Source};

/// A fixture directory under `tests/conformance/files/`.
pub(crate) fn fixtures(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance/files")
        .join(name)
}

/// Files given as `(name, text)`.
pub(crate) fn sources(files: &[(&str, &str)]) -> Vec<Source> {
    files
        .iter()
        .map(|(name, text)| Source::new(*name, *text))
        .collect()
}

/// A configuration that must compile, in a fixed key space.
pub(crate) fn compile(files: &[(&str, &str)]) -> RateLimitConfig {
    match RateLimitConfig::compile_in(&sources(files), KeySpace::new([7; 16])) {
        Ok(config) => config,
        Err(errors) => panic!("the configuration should compile:\n{errors}"),
    }
}

/// One file that must compile.
pub(crate) fn compile_one(text: &str) -> RateLimitConfig {
    compile(&[("config.yaml", text)])
}

/// Every error of files that must not compile, one `FILE:LINE:COL: message` each.
pub(crate) fn errors(files: &[(&str, &str)]) -> Vec<String> {
    match RateLimitConfig::compile(&sources(files)) {
        Ok(config) => panic!("the configuration should not compile: {}", config.summary()),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

/// The one error of `config.yaml` holding `text`.
pub(crate) fn error(text: &str) -> String {
    let mut all = errors(&[("config.yaml", text)]);
    assert_eq!(all.len(), 1, "exactly one error expected: {all:#?}");
    all.remove(0)
}

/// The path of the rule a descriptor falls under, if any.
pub(crate) fn rule_path(
    config: &RateLimitConfig,
    domain: &str,
    entries: &[(&str, &str)],
) -> Option<String> {
    config
        .find(domain, entries.iter().copied())
        .map(|found| found.rule().path().to_owned())
}
