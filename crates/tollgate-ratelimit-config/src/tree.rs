//! The lookup tree the files compile into: per domain, levels of descriptors by key, then by
//! value. Made by `compile.rs`, held by `config.rs`, walked by `matching.rs`.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use crate::wildcard::Pattern;

/// Tables built once and read on every request: keys come from the files, never from requests,
/// so a fixed fast hash is enough.
pub(crate) type Map<K, V> = HashMap<K, V, FixedState>;

/// The descriptors of one level, by key.
#[derive(Debug, Default)]
pub(crate) struct Level(pub(crate) Map<Box<str>, Candidates>);

/// The descriptors of one level that share a key, in the order a request's value tries them.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    /// Valued descriptors by their value as written (wildcard ones too: a request whose value is
    /// the pattern itself finds it first, as in envoyproxy/ratelimit).
    pub(crate) values: Map<Box<str>, usize>,
    /// Descriptors whose value has a `*`, in file order: the first that matches wins.
    pub(crate) wildcards: Vec<(Pattern, usize)>,
    /// The descriptor without a value: one counter per value sent.
    pub(crate) any: Option<usize>,
}

/// One descriptor of the tree.
#[derive(Debug)]
pub(crate) struct TreeNode {
    pub(crate) rule: Option<usize>,
    /// With `share_threshold`, the wildcard value that every matching value is counted as.
    pub(crate) share: Option<Box<str>>,
    pub(crate) children: Level,
}
