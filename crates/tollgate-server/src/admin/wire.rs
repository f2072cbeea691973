//! The admin API's bodies: what its handlers read and write, and what its OpenAPI document
//! (`openapi.rs`) describes — one set of types for both, so the document cannot drift from the
//! answers. Times are epoch seconds.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error: a stable code and a message for people.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiError {
    /// The stable code (see docs/admin-api.md).
    pub(crate) code: String,
    /// What went wrong, in words.
    pub(crate) message: String,
    /// Each problem found, as `FILE:LINE:COL: message` (a reload only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) errors: Option<Vec<String>>,
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    pub(crate) status: &'static str,
}

/// Where an account is defined.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Source {
    /// The policy file: change it there.
    Policy,
    /// The catalog: change it through this API.
    Catalog,
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AccountBody {
    /// Its id.
    pub(crate) id: String,
    /// Its plan, by the policy's name.
    pub(crate) plan: Option<String>,
    /// Its company.
    pub(crate) company: Option<String>,
    /// The IANA zone its times are shown and its days counted in.
    pub(crate) time_zone: String,
    /// Where it is defined.
    pub(crate) source: Source,
}

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AccountPage {
    /// The accounts, in order of id.
    pub(crate) accounts: Vec<AccountBody>,
    /// The `after` of the next page; `null` on the last.
    pub(crate) next: Option<String>,
}

/// `POST /admin/accounts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewAccount {
    /// Its id: 1 to 200 characters, not taken in the catalog or the policy file.
    #[schema(min_length = 1, max_length = 200)]
    pub(crate) id: String,
    /// A plan the policy defines.
    pub(crate) plan: Option<String>,
    /// Its company.
    pub(crate) company: Option<String>,
    /// An IANA time zone (default UTC).
    pub(crate) time_zone: Option<String>,
}

/// `PATCH /admin/accounts/{id}`: the fields to change; `null` clears plan or company.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountChanges {
    /// A plan the policy defines, or `null` for none.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub(crate) plan: Option<Option<String>>,
    /// The company, or `null` for none.
    #[serde(default, with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub(crate) company: Option<Option<String>>,
    /// An IANA time zone.
    pub(crate) time_zone: Option<String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(deserializer).map(Some)
    }
}

/// A key just created: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewKey {
    /// The account.
    pub(crate) account: String,
    /// The key in clear.
    pub(crate) key: String,
    /// That it is shown once.
    pub(crate) note: &'static str,
}

/// A key as kept: its digest.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StoredKeyBody {
    /// SHA-256 of the key, in hex.
    pub(crate) key_sha256: String,
    /// When it was created; `null` for a key of the policy file.
    pub(crate) created_at: Option<u64>,
}

/// `POST /admin/accounts/{id}/packs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BuyPack {
    /// A pack the policy defines.
    pub(crate) pack: String,
    /// Who is buying (a billing system, an operator), for the ledger.
    pub(crate) by: Option<String>,
}

/// A row of the pack ledger.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Purchase {
    /// The pack.
    pub(crate) pack: String,
    /// Who bought it.
    pub(crate) bought_by: String,
    /// When.
    pub(crate) bought_at: u64,
    /// When it starts (a renewal starts at the expiry it extends).
    pub(crate) starts_at: u64,
    /// When it ends.
    pub(crate) expires_at: u64,
    /// When another pack replaced it, if one did.
    pub(crate) superseded_at: Option<u64>,
    /// The pack that replaced it.
    pub(crate) superseded_by: Option<String>,
    /// What this purchase cost, as the policy priced the pack then; `null` for a pack without
    /// a price.
    pub(crate) price: Option<Money>,
    /// What it left when a different pack replaced it before its expiry; `null` while it
    /// applies, once renewed (by the same pack), and after it expired.
    pub(crate) refund: Option<RefundBody>,
}

/// An exact amount of money: a decimal string, never a floating-point number.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Money {
    /// The amount, with as many decimals as the policy writes the price with.
    #[schema(pattern = r"^[0-9]+(\.[0-9]{1,4})?$", example = "87.39")]
    pub(crate) amount: String,
    /// The currency code, as the policy writes it.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub(crate) currency: String,
}

/// What a pack replaced by another left (docs/admin-api.md, "Packs").
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RefundBody {
    /// The seconds it would still have applied: `expires_at − superseded_at`.
    pub(crate) unused_seconds: u64,
    /// Their share of what was paid for the pack, its renewals included:
    /// `unused_seconds / (expires_at − starts_at)` of it, to the nearest unit of the price,
    /// halves up; `null` when a purchase of it had no price, or two were in different
    /// currencies.
    pub(crate) value: Option<Money>,
}

/// `PUT /admin/accounts/{id}/overrides/{limit}`: the numbers the limit's kind takes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewNumbers {
    /// A window's, sliding window's or concurrency limit's maximum.
    pub(crate) max: Option<u64>,
    /// A token bucket's rate, as the policy writes it (`5/s`).
    pub(crate) rate: Option<String>,
    /// A token bucket's burst.
    pub(crate) burst: Option<u64>,
}

/// An account's own numbers for a limit.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OverrideBody {
    /// The account.
    pub(crate) account: String,
    /// The limit, by name.
    pub(crate) limit: String,
    /// Its maximum.
    pub(crate) max: Option<u64>,
    /// Its rate.
    pub(crate) rate: Option<String>,
    /// Its burst.
    pub(crate) burst: Option<u64>,
}

/// Calls of one api on one of the account's days.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HistoryDay {
    /// The api.
    pub(crate) api: String,
    /// The day, `YYYY-MM-DD`, in the account's zone.
    pub(crate) date: String,
    /// Calls admitted.
    pub(crate) admitted: u64,
    /// Calls refused.
    pub(crate) refused: u64,
}

/// An account's calls per api and day over a range of its days.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageHistory {
    /// The account.
    pub(crate) account: String,
    /// The zone its days are counted in.
    pub(crate) time_zone: String,
    /// The first day, `YYYY-MM-DD`.
    pub(crate) from: String,
    /// The last day, `YYYY-MM-DD`.
    pub(crate) to: String,
    /// How many days are kept (`server.usage_history_days`).
    pub(crate) kept_days: u32,
    /// The days with calls, oldest first.
    pub(crate) days: Vec<HistoryDay>,
}

/// `POST /admin/apps`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewApp {
    /// Its id: 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub(crate) id: String,
    /// The account that owns it.
    pub(crate) owner: Option<String>,
}

/// An app just registered: its secret shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AppSecret {
    /// The app.
    pub(crate) app: String,
    /// The secret in clear.
    pub(crate) secret: String,
    /// That it is shown once.
    pub(crate) note: &'static str,
}

/// A registered app (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AppBody {
    /// The app.
    pub(crate) app: String,
    /// The account that owns it.
    pub(crate) owner: Option<String>,
    /// When it was registered.
    pub(crate) created_at: u64,
}

/// `POST /admin/blocks`: what to refuse (every field given must match; at least one of
/// account, api and path), for how long.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewBlock {
    /// An account.
    pub(crate) account: Option<String>,
    /// An api.
    pub(crate) api: Option<String>,
    /// A path, as requests spell it.
    pub(crate) path: Option<String>,
    /// How long, in seconds: at most ten years.
    #[schema(minimum = 1, maximum = 315_360_000)]
    pub(crate) seconds: u64,
    /// Why, shown to the client.
    pub(crate) reason: Option<String>,
    /// Who set it.
    pub(crate) by: Option<String>,
}

/// A block in force.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BlockBody {
    /// Its id.
    pub(crate) id: String,
    /// The account it refuses, if one.
    pub(crate) account: Option<String>,
    /// The api, if one.
    pub(crate) api: Option<String>,
    /// The path, in the form requests are counted in, if one.
    pub(crate) path: Option<String>,
    /// When it ends.
    pub(crate) until: u64,
    /// Why.
    pub(crate) reason: String,
    /// Who set it.
    pub(crate) set_by: String,
}

/// A reload that took.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Reloaded {
    /// Always true.
    pub(crate) reloaded: bool,
    /// What is served now.
    pub(crate) summary: String,
}

/// An account's quota alerts: what the policy watches, where they go, what was sent.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlertsView {
    /// The account.
    pub(crate) account: String,
    /// The receiver the account set through this API; `null`: its plan's or the policy's.
    pub(crate) url: Option<String>,
    /// Where its alerts go now: `account`, `plan` or `policy`; `null`: nowhere, none is made.
    pub(crate) receiver: Option<&'static str>,
    /// The watched quotas (limit names).
    pub(crate) limits: Vec<String>,
    /// The shares of a quota that make an alert, in percent.
    pub(crate) thresholds: Vec<u8>,
    /// How long before a pack's expiry an alert goes out, in seconds.
    pub(crate) pack_expiry_seconds: Vec<u64>,
    /// The last 100 deliveries, newest first.
    pub(crate) deliveries: Vec<Delivery>,
}

/// One alert and its delivery.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Delivery {
    /// Its id, sent in the body and the `Tollgate-Delivery` header.
    pub(crate) id: String,
    /// `LIMIT/API` for a quota, `pack/NAME` for a pack's end.
    pub(crate) subject: String,
    /// `80%` of a quota, `1209600s` before a pack's end.
    pub(crate) threshold: String,
    /// The end of the quota's period, or the pack's expiry (unix seconds, rounded up).
    pub(crate) period_end: u64,
    /// `due` (being tried), `delivered` (answered 2xx) or `failed` (every try failed).
    pub(crate) state: &'static str,
    /// Tries so far.
    pub(crate) attempts: u32,
    /// When it was made.
    pub(crate) created_at: u64,
    /// When a receiver acknowledged it.
    pub(crate) delivered_at: Option<u64>,
    /// Why the last try failed.
    pub(crate) last_error: Option<String>,
    /// The body sent, as JSON.
    #[schema(value_type = Object)]
    pub(crate) body: serde_json::Value,
}

/// Where an account's alerts go.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertReceiver {
    /// An `http://` URL; `null` to go back to the plan's or the policy's receiver.
    pub(crate) url: Option<String>,
}
