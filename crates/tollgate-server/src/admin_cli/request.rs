//! Each subcommand as the one request it makes: method, path, body, and how its answer is shown.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};

use super::commands::{
    AccountCommand, AlertCommand, AppCommand, BlockCommand, KeyCommand, OverrideCommand,
    PackCommand, Resource,
};

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
    /// A pack ledger: a row per purchase, with its price and what it left when replaced.
    Ledger,
    /// An account's alerts: its settings, then a row per delivery.
    Alerts,
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

/// `text` as one path segment (a segment of dots alone encoded too: a proxy would read `..` as
/// the segment above).
fn segment(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|byte| byte == b'.') {
        return "%2E".repeat(text.len());
    }
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
/// The columns of a delivery of an alert.
pub(super) const DELIVERIES: &[&str] = &[
    "id",
    "subject",
    "threshold",
    "state",
    "attempts",
    "created_at",
    "delivered_at",
    "last_error",
];
/// The columns of a row of the pack ledger, its money written out and its refund's two fields
/// as columns of their own.
pub(super) const PACKS: &[&str] = &[
    "pack",
    "bought_by",
    "bought_at",
    "starts_at",
    "expires_at",
    "superseded_at",
    "superseded_by",
    "price",
    "unused_seconds",
    "refund",
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
                ask("GET", path, None, Shape::Ledger)
            }
        },
        Resource::Alerts(command) => match command {
            AlertCommand::List { account } => {
                let path = format!("{}/alerts", accounts(account));
                ask("GET", path, None, Shape::Alerts)
            }
            AlertCommand::Receiver {
                account, receiver, ..
            } => {
                let body = json!({ "url": receiver });
                let path = format!("{}/alerts", accounts(account));
                ask("PUT", path, Some(body), Shape::Done("alert receiver set"))
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
        let dots = of(&Resource::Keys(KeyCommand::Revoke {
            account: "acme".to_owned(),
            sha256: "..".to_owned(),
        }));
        assert_eq!(dots.path, "/admin/accounts/acme/keys/%2E%2E");
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
