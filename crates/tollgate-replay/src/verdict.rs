//! What a pipeline decided for one request, as the replay loop and its tally read it.

use tollgate_policy::Name;

/// What a pipeline decided for one request.
#[derive(Debug, Clone, Default)]
pub struct Verdict {
    /// `None` when admitted; the refusal's status otherwise (429 for a limit, 401, 423…).
    pub refused: Option<u16>,
    /// The route's api, when one matched.
    pub api: Option<Name>,
    /// The account of the request's key.
    pub account: Option<Name>,
    /// Every limit consulted, shadow ones included.
    pub limits: Vec<LimitOutcome>,
}

impl Verdict {
    /// Empties the verdict for the next request, keeping its buffer.
    pub fn clear(&mut self) {
        self.refused = None;
        self.api = None;
        self.account = None;
        self.limits.clear();
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
