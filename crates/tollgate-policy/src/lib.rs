//! Tollgate's policy file: who may call what how often, in one TOML file.
//!
//! [`Policy::load`] reads and validates a file — every error it can find in one run, each as
//! `FILE:LINE:COL: message` — and compiles it into plain data and matchers: routes (method +
//! path template → api and parameters), identities (API keys and app secrets, held only as
//! SHA-256 hashes), plans, and limits whose algorithms come from [`tollgate_core`].
//!
//! ```
//! use tollgate_policy::{Policy, Source};
//!
//! let source = Source::new("quickstart.toml", r#"
//!     [identity]
//!     api_key = { header = "X-Api-Key" }
//!
//!     [[routes]]
//!     api = "hello"
//!     match = "GET /hello/{name}"
//!
//!     [[limits]]
//!     name = "per-second"
//!     token_bucket = { rate = "2/s", burst = 5 }
//!     per = ["account", "api"]
//! "#);
//! let policy = Policy::compile(&source).unwrap();
//! assert_eq!(policy.summary(), "1 routes (1 apis), 1 limits, 0 plans, 0 accounts, 0 apps");
//!
//! // Every mistake in one run: a syntax error stops only the table it is in.
//! let broken = Source::new("broken.toml", "[[limits]]\nname = \"x\"\nwindow = { max = 5, every = \"15 parsecs\" }\n\n[server\nlisten = \"127.0.0.1:8080\"\n");
//! let errors = Policy::compile(&broken).unwrap_err();
//! assert_eq!(
//!     errors.to_string(),
//!     "broken.toml:3:29: unknown unit `parsecs` in `15 parsecs`: use ms, s, m, h, d or w, or a word such as sec, minutes, hr, day or weeks\n\
//!      broken.toml:5:8: unclosed table, expected `]`"
//! );
//! ```

#![forbid(unsafe_code)]

mod alerts;
mod compile;
mod directory;
mod error;
mod limit;
pub mod model;
mod param;
pub mod path;
mod policy;
mod resolve;
mod secret;
mod settings;
mod template;
pub mod units;
mod usage;

use std::path::Path;
use std::sync::Arc;

pub use alerts::{Alerts, level};
pub use directory::{Directory, DirectoryEntry, Numbers};
/// A name the policy defines (an api, a plan, an account, an app): shared, so that what a
/// request took can keep the names it was decided under without copying them.
pub type Name = Arc<str>;

pub use compile::is_receiver;
pub use error::{ConfigError, ConfigErrors, Source};
pub use limit::{BadNumbers, Dimension, Limit};
pub use path::{PathError, Target};
pub use policy::{FileAccount, KeyCarrier, Policy};
pub use resolve::{
    HeaderLookup, Headers, Limits, RefundTicket, RequestFacts, Resolution, Resolved,
    is_header_text, lookup_header, same_header,
};
pub use settings::{
    BodyFormat, DEFAULT_JSON, DEFAULT_XML, FORWARDED_PAIR, ForwardAuth, HeaderFamily,
    ORIGINAL_PAIR, OnStoreError, Responses, Server, StoreCheck, Unmatched, any_algorithm,
};
pub use template::{Field, Template};
use tollgate_core::KeySpace;
pub use usage::{AccountUsage, ApiUsage, KeyLookup};

impl Policy {
    /// Compiles a policy text with a fresh random key space.
    ///
    /// # Errors
    /// Every problem found in the text.
    pub fn compile(source: &Source) -> Result<Self, ConfigErrors> {
        Self::compile_in(source, KeySpace::random())
    }

    /// Compiles a policy text whose partitions are keyed in `key_space`: a policy reloaded in
    /// the same key space finds the counters of every limit whose name and numbers it kept.
    ///
    /// # Errors
    /// Every problem found in the text.
    pub fn compile_in(source: &Source, key_space: KeySpace) -> Result<Self, ConfigErrors> {
        compile::compile(source, key_space, any_algorithm)
    }

    /// Compiles a policy text for a store that keeps only what `check` accepts: a limit it
    /// refuses is an error at the limit.
    ///
    /// # Errors
    /// Every problem found in the text.
    pub fn compile_for(
        source: &Source,
        key_space: KeySpace,
        check: StoreCheck,
    ) -> Result<Self, ConfigErrors> {
        compile::compile(source, key_space, check)
    }

    /// Reads and compiles the policy file at `path`.
    ///
    /// # Errors
    /// The file cannot be read, or every problem found in it.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        Self::load_in(path, KeySpace::random())
    }

    /// Reads and compiles the policy file at `path` in `key_space` (see
    /// [`compile_in`](Self::compile_in)).
    ///
    /// # Errors
    /// The file cannot be read, or every problem found in it.
    pub fn load_in(path: &Path, key_space: KeySpace) -> Result<Self, ConfigErrors> {
        Self::load_for(path, key_space, any_algorithm)
    }

    /// Reads and compiles the policy file at `path` for a store that keeps only what `check`
    /// accepts (see [`compile_for`](Self::compile_for)).
    ///
    /// # Errors
    /// The file cannot be read, or every problem found in it.
    pub fn load_for(
        path: &Path,
        key_space: KeySpace,
        check: StoreCheck,
    ) -> Result<Self, ConfigErrors> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| {
            ConfigErrors(vec![ConfigError {
                file: name.clone(),
                line: 1,
                column: 1,
                message: format!("cannot read the policy file: {error}"),
            }])
        })?;
        Self::compile_for(&Source::new(name, text), key_space, check)
    }
}
