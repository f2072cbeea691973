//! `tollgate admin`'s subcommands and their options, as clap reads them.

use clap::Subcommand;

/// What `tollgate admin` acts on.
#[derive(Debug, Subcommand)]
pub enum Resource {
    /// Accounts: list, show, create, update, delete.
    #[command(subcommand)]
    Accounts(AccountCommand),
    /// An account's API keys: create (shown once), list, revoke.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// An account's packs: buy, list (the ledger).
    #[command(subcommand)]
    Packs(PackCommand),
    /// An account's quota alerts: list (settings and deliveries), receiver (set or clear).
    #[command(subcommand)]
    Alerts(AlertCommand),
    /// An account's own numbers for a limit: set, list, clear.
    #[command(subcommand)]
    Overrides(OverrideCommand),
    /// Blocks (423 for a while): add, list, remove.
    #[command(subcommand)]
    Blocks(BlockCommand),
    /// Registered apps: create (secret shown once), list, delete.
    #[command(subcommand)]
    Apps(AppCommand),
    /// An account's standing now: every api's limits, used and left.
    Usage {
        /// The account.
        account: String,
    },
    /// An account's calls per api and day, in its zone.
    History {
        /// The account.
        account: String,
        /// The first day, YYYY-MM-DD.
        #[arg(long, conflicts_with = "days")]
        from: Option<String>,
        /// The last day, YYYY-MM-DD (default today).
        #[arg(long)]
        to: Option<String>,
        /// The last N days (default 30).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Reloads the policy file (and envoyproxy/ratelimit's files).
    Reload,
    /// Who the shadow limits would have refused.
    Shadow {
        /// Over the last N hours (1 to 168; default 24).
        #[arg(long)]
        hours: Option<u32>,
    },
}

/// `tollgate admin accounts …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// The accounts of the policy file and the catalog, in order of id.
    List {
        /// Those on this plan only.
        #[arg(long)]
        plan: Option<String>,
        /// Those after this id (the `next` of the page before).
        #[arg(long)]
        after: Option<String>,
        /// How many (1 to 1000; default 100).
        #[arg(long)]
        limit: Option<u32>,
    },
    /// One account.
    Show {
        /// Its id.
        id: String,
    },
    /// A new account in the catalog.
    Create {
        /// Its id.
        id: String,
        /// Its plan.
        #[arg(long)]
        plan: Option<String>,
        /// Its company.
        #[arg(long)]
        company: Option<String>,
        /// Its IANA time zone (default UTC).
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// Changes an account of the catalog.
    Update {
        /// Its id.
        id: String,
        /// Its new plan.
        #[arg(long, conflicts_with = "no_plan")]
        plan: Option<String>,
        /// Takes its plan away (the policy's default plan applies).
        #[arg(long)]
        no_plan: bool,
        /// Its new company.
        #[arg(long, conflicts_with = "no_company")]
        company: Option<String>,
        /// Takes its company away.
        #[arg(long)]
        no_company: bool,
        /// Its new IANA time zone.
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// Deletes an account of the catalog, with its keys, packs, overrides and history.
    Delete {
        /// Its id.
        id: String,
    },
}

/// `tollgate admin keys …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// A new key for an account of the catalog: shown in clear this once.
    Create {
        /// The account.
        account: String,
    },
    /// An account's keys, as SHA-256 digests.
    List {
        /// The account.
        account: String,
    },
    /// Revokes a key.
    Revoke {
        /// The account.
        account: String,
        /// The key's SHA-256, in hex (as `keys list` shows it).
        sha256: String,
    },
}

/// `tollgate admin packs …`.
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Sells an account a pack (a renewal extends it, another pack replaces it).
    Buy {
        /// The account.
        account: String,
        /// A pack of the policy.
        pack: String,
        /// Who is buying, for the ledger (default "admin").
        #[arg(long)]
        by: Option<String>,
    },
    /// An account's pack ledger, oldest first.
    List {
        /// The account.
        account: String,
    },
}

/// `tollgate admin alerts …`.
#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// An account's alert settings and its last deliveries, newest first.
    List {
        /// The account.
        account: String,
    },
    /// Where an account's alerts go: an http:// URL, or with --clear its plan's or the
    /// policy's receiver again.
    Receiver {
        /// The account.
        account: String,
        /// An http:// URL (not `url`: that id is `tollgate admin --url`'s).
        #[arg(
            value_name = "URL",
            required_unless_present = "clear",
            conflicts_with = "clear"
        )]
        receiver: Option<String>,
        /// Back to the plan's or the policy's receiver.
        #[arg(long)]
        clear: bool,
    },
}

/// `tollgate admin overrides …`.
#[derive(Debug, Subcommand)]
pub enum OverrideCommand {
    /// Gives an account numbers of its own for a limit.
    Set {
        /// The account.
        account: String,
        /// A limit of the policy, by name.
        limit: String,
        /// A window's (or concurrency limit's) maximum.
        #[arg(long)]
        max: Option<u64>,
        /// A token bucket's rate, as the policy writes it (`5/s`).
        #[arg(long)]
        rate: Option<String>,
        /// A token bucket's burst.
        #[arg(long)]
        burst: Option<u64>,
    },
    /// An account's own numbers.
    List {
        /// The account.
        account: String,
    },
    /// Takes back an account's own numbers for a limit.
    Clear {
        /// The account.
        account: String,
        /// The limit.
        limit: String,
    },
}

/// `tollgate admin blocks …`.
#[derive(Debug, Subcommand)]
pub enum BlockCommand {
    /// Refuses matching requests with 423 for a while (every option given must match).
    Add {
        /// An account.
        #[arg(long)]
        account: Option<String>,
        /// An api.
        #[arg(long)]
        api: Option<String>,
        /// A path.
        #[arg(long)]
        path: Option<String>,
        /// How long, in seconds.
        #[arg(long)]
        seconds: u64,
        /// Why, shown to the client.
        #[arg(long)]
        reason: Option<String>,
        /// Who sets it (default "admin").
        #[arg(long)]
        by: Option<String>,
    },
    /// The blocks in force.
    List,
    /// Lifts a block.
    Remove {
        /// Its id.
        id: String,
    },
}

/// `tollgate admin apps …`.
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Registers an app: its secret is shown in clear this once.
    Create {
        /// Its id.
        id: String,
        /// The account that owns it.
        #[arg(long)]
        owner: Option<String>,
    },
    /// The registered apps.
    List,
    /// Removes an app.
    Delete {
        /// Its id.
        id: String,
    },
}
