//! A directory of envoyproxy/ratelimit files, compiled into one lookup tree per domain.

use std::path::Path;

use tollgate_core::KeySpace;
use tollgate_policy::{ConfigError, ConfigErrors, Source};

use crate::compile::Compiler;
use crate::rule::Rule;
use crate::tree::{Level, Map, TreeNode};

/// Every domain of a set of envoyproxy/ratelimit configuration files, ready to match requests.
///
/// Built by [`load_dir`](Self::load_dir) or [`compile`](Self::compile); matched with
/// [`find`](Self::find).
#[derive(Debug)]
pub struct RateLimitConfig {
    pub(crate) domains: Map<Box<str>, Level>,
    pub(crate) nodes: Vec<TreeNode>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) key_space: KeySpace,
    pub(crate) merge_domains: bool,
}

impl RateLimitConfig {
    /// Reads and compiles every `*.yaml` and `*.yml` file directly in `dir` (not in its
    /// subdirectories), in the order of their names, with a fresh random key space.
    ///
    /// # Errors
    /// The directory or a file cannot be read, the directory holds no such file, or everything
    /// wrong in the files, each as `FILE:LINE:COL: message`.
    pub fn load_dir(dir: &Path) -> Result<Self, ConfigErrors> {
        Self::load_dir_in(dir, KeySpace::random())
    }

    /// Reads and compiles one envoyproxy/ratelimit file (of any name), with a fresh random key
    /// space: what `tollgate check-config FILE.yaml` checks.
    ///
    /// # Errors
    /// The file cannot be read or is not UTF-8, or everything wrong in it, each as
    /// `FILE:LINE:COL: message`.
    pub fn load_file(file: &Path) -> Result<Self, ConfigErrors> {
        let source = read_file(file).map_err(|error| ConfigErrors(vec![error]))?;
        Self::compile(&[source])
    }

    /// Reads and compiles a directory as [`load_dir`](Self::load_dir) does, keying partitions
    /// in `key_space`: a configuration reloaded in the same key space finds the counters of
    /// every rule that kept its place in the tree and its unit.
    ///
    /// # Errors
    /// As [`load_dir`](Self::load_dir).
    pub fn load_dir_in(dir: &Path, key_space: KeySpace) -> Result<Self, ConfigErrors> {
        Self::compile_in(&read_dir(dir)?, key_space)
    }

    /// Reads and compiles a directory as [`load_dir_in`](Self::load_dir_in) does; with
    /// `merge_domains` (envoyproxy/ratelimit's `MERGE_DOMAIN_CONFIG=true`), one domain may be
    /// spread over several files, each top-level descriptor defined once.
    ///
    /// # Errors
    /// As [`load_dir`](Self::load_dir).
    pub fn load_dir_merging(
        dir: &Path,
        key_space: KeySpace,
        merge_domains: bool,
    ) -> Result<Self, ConfigErrors> {
        Self::compile_merging(&read_dir(dir)?, key_space, merge_domains)
    }

    /// Compiles configuration files given as text, in order, with a fresh random key space.
    ///
    /// # Errors
    /// Everything wrong in the files, each as `FILE:LINE:COL: message`, file by file in the
    /// order given and by position within a file.
    pub fn compile(files: &[Source]) -> Result<Self, ConfigErrors> {
        Self::compile_in(files, KeySpace::random())
    }

    /// Compiles configuration files given as text, keying partitions in `key_space` (see
    /// [`load_dir_in`](Self::load_dir_in)).
    ///
    /// # Errors
    /// As [`compile`](Self::compile).
    pub fn compile_in(files: &[Source], key_space: KeySpace) -> Result<Self, ConfigErrors> {
        Self::compile_merging(files, key_space, false)
    }

    /// Compiles configuration files given as text, as [`compile_in`](Self::compile_in) does;
    /// with `merge_domains`, one domain may be spread over several files (see
    /// [`load_dir_merging`](Self::load_dir_merging)).
    ///
    /// # Errors
    /// As [`compile`](Self::compile); a top-level descriptor defined in two files of a merged
    /// domain names both places.
    pub fn compile_merging(
        files: &[Source],
        key_space: KeySpace,
        merge_domains: bool,
    ) -> Result<Self, ConfigErrors> {
        let mut compiler = Compiler::new(&key_space, merge_domains);
        for file in files {
            compiler.file(file);
        }
        if !compiler.errors.is_empty() {
            return Err(ConfigErrors(compiler.errors));
        }
        let Compiler {
            domains,
            nodes,
            rules,
            ..
        } = compiler;
        Ok(Self {
            domains,
            nodes,
            rules,
            key_space,
            merge_domains,
        })
    }

    /// Whether one domain may be spread over several files: what a reload keeps.
    #[must_use]
    pub fn merges_domains(&self) -> bool {
        self.merge_domains
    }

    /// The domains, in no particular order.
    pub fn domains(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.domains.keys().map(|domain| &**domain)
    }

    /// Every rule, in the order of the files and of their text.
    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The key space partitions are keyed in.
    #[must_use]
    pub fn key_space(&self) -> &KeySpace {
        &self.key_space
    }

    /// One line for a start-up log: `2 domains, 5 rate limits`.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "{} domains, {} rate limits",
            self.domains.len(),
            self.rules.len()
        )
    }
}

/// The configuration files of `dir`: its `*.yaml` and `*.yml` files (any case), by name.
fn read_dir(dir: &Path) -> Result<Vec<Source>, ConfigErrors> {
    let at_dir = |message: String| {
        ConfigErrors(vec![ConfigError {
            file: dir.display().to_string(),
            line: 1,
            column: 1,
            message,
        }])
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|error| at_dir(format!("cannot read the directory: {error}")))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|error| at_dir(format!("cannot read the directory: {error}")))?
            .path();
        let yaml = path.extension().is_some_and(|extension| {
            extension.eq_ignore_ascii_case("yaml") || extension.eq_ignore_ascii_case("yml")
        });
        // `is_file` follows links: a Kubernetes ConfigMap's files are links into `..data/`.
        if yaml && path.is_file() {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(at_dir("no .yaml or .yml file in this directory".to_owned()));
    }
    paths.sort();
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match read_file(&path) {
            Ok(source) => sources.push(source),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// The text of one configuration file, known by its path.
fn read_file(path: &Path) -> Result<Source, ConfigError> {
    let name = path.display().to_string();
    let failure = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => return Ok(Source::new(name, text)),
            Err(_) => "the file is not UTF-8 text".to_owned(),
        },
        Err(error) => format!("cannot read the file: {error}"),
    };
    Err(ConfigError {
        file: name,
        line: 1,
        column: 1,
        message: failure,
    })
}
