//! Each subcommand as the one request it makes: method, path, body, and how its answer is shown.

use clap::Subcommand;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};

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

/// How an answer is shown to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// A list of objects, one row each, these fields as columns.
    Rows(&'static [&'static str]),
    /// A page of accounts and the `next` cursor.
    Page,
    /// One object, a field a line.
    Record,
    /// An account's standing: a row per limit.
    Usage,
    /// A history: a row per api and day.
    History,
    /// The shadow report: a row per limit and account.
    Shadow,
    /// Nothing to show (204): a line saying what was done.
    Done(&'static str),
}

/// One request to the admin API, and how its answer is shown.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Asked {
    pub(super) method: &'static str,
    pub(super) path: String,
    pub(super) body: Option<Value>,
    pub(super) shape: Shape,
}

/// What may not stand in a path segment as it is.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\');

/// `text` as one path segment.
fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// A query string of the parameters given (`?a=1&b=2`, or nothing).
fn query(parameters: &[(&str, Option<String>)]) -> String {
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters {
        if let Some(value) = value {
            encoded.append_pair(name, value);
        }
    }
    let encoded = encoded.finish();
    if encoded.is_empty() {
        encoded
    } else {
        format!("?{encoded}")
    }
}

/// The JSON object of the fields given (`null`s left out).
fn object(fields: &[(&str, Value)]) -> Value {
    Value::Object(
        fields
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect(),
    )
}

/// The columns of an account.
pub(super) const ACCOUNT: &[&str] = &["id", "plan", "company", "time_zone", "source"];
/// The columns of a key.
const KEYS: &[&str] = &["key_sha256", "created_at"];
/// The columns of a row of the pack ledger.
const PACKS: &[&str] = &[
    "pack",
    "bought_by",
    "bought_at",
    "starts_at",
    "expires_at",
    "superseded_at",
    "superseded_by",
];
/// The columns of an override.
const OVERRIDES: &[&str] = &["limit", "max", "rate", "burst"];
/// The columns of a block.
const BLOCKS: &[&str] = &["id", "account", "api", "path", "until", "reason", "set_by"];
/// The columns of an app.
const APPS: &[&str] = &["app", "owner", "created_at"];

/// The request `resource` makes.
pub(super) fn of(resource: &Resource) -> Asked {
    let ask = |method, path: String, body: Option<Value>, shape| Asked {
        method,
        path,
        body,
        shape,
    };
    let accounts = |id: &str| format!("/admin/accounts/{}", segment(id));
    match resource {
        Resource::Accounts(command) => match command {
            AccountCommand::List { plan, after, limit } => {
                let query = query(&[
                    ("plan", plan.clone()),
                    ("after", after.clone()),
                    ("limit", limit.map(|limit| limit.to_string())),
                ]);
                ask("GET", format!("/admin/accounts{query}"), None, Shape::Page)
            }
            AccountCommand::Show { id } => ask("GET", accounts(id), None, Shape::Record),
            AccountCommand::Create {
                id,
                plan,
                company,
                time_zone,
            } => {
                let body = object(&[
                    ("id", json!(id)),
                    ("plan", json!(plan)),
                    ("company", json!(company)),
                    ("time_zone", json!(time_zone)),
                ]);
                ask(
                    "POST",
                    "/admin/accounts".to_owned(),
                    Some(body),
                    Shape::Record,
                )
            }
            AccountCommand::Update {
                id,
                plan,
                no_plan,
                company,
                no_company,
                time_zone,
            } => {
                let mut body = object(&[("plan", json!(plan)), ("company", json!(company))]);
                if *no_plan {
                    body["plan"] = Value::Null;
                }
                if *no_company {
                    body["company"] = Value::Null;
                }
                if let Some(time_zone) = time_zone {
                    body["time_zone"] = json!(time_zone);
                }
                ask("PATCH", accounts(id), Some(body), Shape::Record)
            }
            AccountCommand::Delete { id } => {
                ask("DELETE", accounts(id), None, Shape::Done("account deleted"))
            }
        },
        Resource::Keys(command) => match command {
            KeyCommand::Create { account } => {
                let path = format!("{}/keys", accounts(account));
                ask("POST", path, None, Shape::Record)
            }
            KeyCommand::List { account } => {
                let path = format!("{}/keys", accounts(account));
                ask("GET", path, None, Shape::Rows(KEYS))
            }
            KeyCommand::Revoke { account, sha256 } => {
                let path = format!("{}/keys/{}", accounts(account), segment(sha256));
                ask("DELETE", path, None, Shape::Done("key revoked"))
            }
        },
        Resource::Packs(command) => match command {
            PackCommand::Buy { account, pack, by } => {
                let body = object(&[("pack", json!(pack)), ("by", json!(by))]);
                let path = format!("{}/packs", accounts(account));
                ask("POST", path, Some(body), Shape::Record)
            }
            PackCommand::List { account } => {
                let path = format!("{}/packs", accounts(account));
                ask("GET", path, None, Shape::Rows(PACKS))
            }
        },
        Resource::Overrides(command) => match command {
            OverrideCommand::Set {
                account,
                limit,
                max,
                rate,
                burst,
            } => {
                let body = object(&[
                    ("max", json!(max)),
                    ("rate", json!(rate)),
                    ("burst", json!(burst)),
                ]);
                let path = format!("{}/overrides/{}", accounts(account), segment(limit));
                ask("PUT", path, Some(body), Shape::Record)
            }
            OverrideCommand::List { account } => {
                let path = format!("{}/overrides", accounts(account));
                ask("GET", path, None, Shape::Rows(OVERRIDES))
            }
            OverrideCommand::Clear { account, limit } => {
                let path = format!("{}/overrides/{}", accounts(account), segment(limit));
                ask("DELETE", path, None, Shape::Done("override cleared"))
            }
        },
        Resource::Blocks(command) => match command {
            BlockCommand::Add {
                account,
                api,
                path,
                seconds,
                reason,
                by,
            } => {
                let body = object(&[
                    ("account", json!(account)),
                    ("api", json!(api)),
                    ("path", json!(path)),
                    ("seconds", json!(seconds)),
                    ("reason", json!(reason)),
                    ("by", json!(by)),
                ]);
                ask(
                    "POST",
                    "/admin/blocks".to_owned(),
                    Some(body),
                    Shape::Record,
                )
            }
            BlockCommand::List => ask("GET", "/admin/blocks".to_owned(), None, Shape::Rows(BLOCKS)),
            BlockCommand::Remove { id } => {
                let path = format!("/admin/blocks/{}", segment(id));
                ask("DELETE", path, None, Shape::Done("block lifted"))
            }
        },
        Resource::Apps(command) => match command {
            AppCommand::Create { id, owner } => {
                let body = object(&[("id", json!(id)), ("owner", json!(owner))]);
                ask("POST", "/admin/apps".to_owned(), Some(body), Shape::Record)
            }
            AppCommand::List => ask("GET", "/admin/apps".to_owned(), None, Shape::Rows(APPS)),
            AppCommand::Delete { id } => {
                let path = format!("/admin/apps/{}", segment(id));
                ask("DELETE", path, None, Shape::Done("app deleted"))
            }
        },
        Resource::Usage { account } => ask(
            "GET",
            format!("{}/usage", accounts(account)),
            None,
            Shape::Usage,
        ),
        Resource::History {
            account,
            from,
            to,
            days,
        } => {
            let query = query(&[
                ("from", from.clone()),
                ("to", to.clone()),
                ("days", days.map(|days| days.to_string())),
            ]);
            let path = format!("{}/usage/history{query}", accounts(account));
            ask("GET", path, None, Shape::History)
        }
        Resource::Reload => ask("POST", "/admin/reload".to_owned(), None, Shape::Record),
        Resource::Shadow { hours } => {
            let query = query(&[("hours", hours.map(|hours| hours.to_string()))]);
            ask("GET", format!("/admin/shadow{query}"), None, Shape::Shadow)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_segment_and_absent_options_are_left_out() {
        let asked = of(&Resource::Keys(KeyCommand::Revoke {
            account: "acme/eu ?x".to_owned(),
            sha256: "ab".to_owned(),
        }));
        assert_eq!(asked.path, "/admin/accounts/acme%2Feu%20%3Fx/keys/ab");
        let asked = of(&Resource::Accounts(AccountCommand::Update {
            id: "a".to_owned(),
            plan: None,
            no_plan: true,
            company: Some("Initech".to_owned()),
            no_company: false,
            time_zone: None,
        }));
        assert_eq!(
            asked.body,
            Some(json!({ "plan": null, "company": "Initech" }))
        );
        let asked = of(&Resource::Accounts(AccountCommand::List {
            plan: Some("pro plan".to_owned()),
            after: None,
            limit: Some(2),
        }));
        assert_eq!(asked.path, "/admin/accounts?plan=pro+plan&limit=2");
    }
}
