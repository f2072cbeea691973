//! What a pipeline decided for one request, as the replay loop and its tally read it, and who
//! the request came from ([`Caller`]): an account, or why none.

use tollgate_policy::Name;

/// What a pipeline decided for one request.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// `None` when admitted; the refusal's status otherwise (429 for a limit, 401, 423…).
    pub refused: Option<u16>,
    /// The route's api, when one matched.
    pub api: Option<Name>,
    /// Who it came from.
    pub caller: Caller,
    /// Every limit consulted, shadow ones included.
    pub limits: Vec<LimitOutcome>,
}

impl Verdict {
    /// Empties the verdict for the next request, keeping its buffer.
    pub fn clear(&mut self) {
        self.refused = None;
        self.api = None;
        self.caller = Caller::NoKey;
        self.limits.clear();
    }
}

/// Who a request came from, as the policy identified it; the report lists the requests without
/// an account under one of three names, never under one for all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Caller {
    /// The account of its API key.
    Account(Name),
    /// No API key: anonymous, on the policy's default plan.
    #[default]
    NoKey,
    /// An API key no account has (or, where the policy refuses them, an app's wrong secret):
    /// refused 401, or by the limits for unknown keys (`when = { key = "unknown" }`).
    UnknownKey,
    /// Answered before any key is read: no route (404), an exempt route, a request that cannot
    /// be read one way only (400).
    Unidentified,
}

impl Caller {
    /// The report's name for requests without a key: [`Caller::NoKey`].
    pub const NO_KEY: &'static str = "(no key)";
    /// The report's name for requests with a key no account has: [`Caller::UnknownKey`].
    pub const UNKNOWN_KEY: &'static str = "(unknown key)";
    /// The report's name for requests answered before their key was read:
    /// [`Caller::Unidentified`].
    pub const UNIDENTIFIED: &'static str = "(not identified)";

    /// The account it names, if any.
    #[must_use]
    pub fn account(&self) -> Option<&Name> {
        match self {
            Self::Account(account) => Some(account),
            Self::NoKey | Self::UnknownKey | Self::Unidentified => None,
        }
    }
}

/// What one limit said of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitOutcome {
    /// The limit's name.
    pub name: Name,
    /// Whether it admitted the request.
    pub allowed: bool,
    /// Whether it is a shadow limit (counted, never refusing).
    pub shadow: bool,
}
