//! The policy file as written: TOML tables deserialized as they are, with the spans of the
//! values that validation may need to point at. Compilation turns it into a [`Policy`].
//!
//! [`Policy`]: crate::Policy

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// A whole policy file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Where the server listens and what it forwards to (command-line flags override).
    #[serde(default)]
    pub server: ServerConfig,
    /// What refusals and admitted responses carry.
    #[serde(default)]
    pub responses: ResponsesConfig,
    /// Who is calling: where keys, apps and companies come from.
    #[serde(default)]
    pub identity: IdentityConfig,
    /// How paths are compared.
    #[serde(default)]
    pub paths: PathsConfig,
    /// The plan of requests whose account has none (and of anonymous requests).
    pub default_plan: Option<Spanned<String>>,
    /// Accounts and their keys.
    #[serde(default)]
    pub accounts: Vec<Spanned<AccountConfig>>,
    /// Registered applications.
    #[serde(default)]
    pub apps: Vec<Spanned<AppConfig>>,
    /// Plans and the numbers they change.
    #[serde(default)]
    pub plans: BTreeMap<String, Spanned<PlanConfig>>,
    /// Upgrade packs and the quotas they raise.
    #[serde(default)]
    pub packs: BTreeMap<String, Spanned<PackConfig>>,
    /// Method and path templates, each naming an api.
    #[serde(default)]
    pub routes: Vec<Spanned<RouteConfig>>,
    /// The limits.
    #[serde(default)]
    pub limits: Vec<Spanned<LimitConfig>>,
    /// Webhooks telling an account it nears or reached a quota, or its pack's end.
    pub alerts: Option<Spanned<AlertsConfig>>,
}

/// `[alerts]`: signed webhooks at thresholds of quotas and before a pack expires.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Where alerts go (`http://…`) for accounts whose plan names no receiver and that set
    /// none in the catalog.
    pub url: Option<Spanned<String>>,
    /// Plan name → where alerts of accounts on that plan go.
    #[serde(default)]
    pub plans: BTreeMap<String, Spanned<String>>,
    /// The HMAC-SHA256 key every alert is signed with (at least 16 characters).
    pub secret: Spanned<String>,
    /// The quotas watched, by limit name (default: every `window` limit).
    #[serde(default)]
    pub limits: Vec<Spanned<String>>,
    /// Percentages of a quota at which an alert goes out (default `[80, 100]`).
    pub at: Option<Spanned<Vec<Spanned<u64>>>>,
    /// How long before a pack expires an alert goes out, e.g. `["14d", "1d"]`.
    #[serde(default)]
    pub pack_expiry: Vec<Spanned<String>>,
    /// Tries per alert before it is given up (default 10).
    pub attempts: Option<Spanned<u64>>,
    /// The wait before the first retry, doubled before each next one (default `1s`).
    pub backoff: Option<Spanned<String>>,
    /// How long a receiver may take to answer a try (default `10s`).
    pub timeout: Option<Spanned<String>>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the public port (check API, forward-auth, gateway), e.g. `127.0.0.1:8080`.
    pub listen: Option<Spanned<String>>,
    /// Address of Envoy's gRPC rate-limit service (`envoy.service.ratelimit.v3`) and its
    /// `grpc.health.v1`, e.g. `127.0.0.1:8083`; unset, it is not served.
    pub grpc_listen: Option<Spanned<String>>,
    /// The API to forward admitted requests to, e.g. `http://127.0.0.1:9000`.
    pub upstream: Option<Spanned<String>>,
    /// How long the upstream may take to send its response headers (default `30s`).
    pub upstream_timeout: Option<Spanned<String>>,
    /// Peers (addresses or CIDRs) allowed to call `/v1/check` and `/v1/auth` (default:
    /// loopback only). Anyone else gets 403: these endpoints count like real requests.
    pub check_from: Option<Vec<Spanned<String>>>,
    /// Whose headers forward-auth reads the original request from: `"nginx"`
    /// (`X-Original-Method`/`-URI`), `"traefik"` or `"caddy"` (`X-Forwarded-Method`/`-Uri`), or
    /// `{ method = "…", uri = "…" }`. Unset, either pair, and both pairs that disagree are a 400.
    pub forward_auth: Option<Spanned<ForwardAuthConfig>>,
    /// What forward-auth and the check API answer for a path no route matches: `"refuse"` (the
    /// default: 403 from forward-auth, status 404 in the check API's answer) or `"pass"` (allowed,
    /// counting nothing).
    pub unmatched: Option<Spanned<String>>,
    /// The most partitions the embedded store holds (default 10,000,000); beyond, as
    /// `when_full` says.
    pub max_partitions: Option<usize>,
    /// Requests of no known identity (no account, no app) make new partitions only while the
    /// store holds less than this share of `max_partitions` (default 0.5): past it theirs are
    /// refused (503), so that anonymous traffic never crowds out known accounts.
    pub anonymous_share: Option<Spanned<f64>>,
    /// At `max_partitions`: `"refuse"` a new partition (503 `store_unavailable`, the default:
    /// no spent limit is ever forgotten) or `"evict"` the state nearest rest (never refuses, but
    /// a flood of new partitions can make a spent one start again).
    pub when_full: Option<Spanned<String>>,
    /// When long-lived limit state reaches the disk: `"always"` (before the answer, the
    /// default) or an interval such as `"100ms"` (answers do not wait; a crash can forget the
    /// last interval's admissions).
    pub durability: Option<Spanned<String>>,
    /// Where limit state lives: `"memory"` (the default) or `redis://HOST:PORT` /
    /// `redis+cluster://HOST:PORT,HOST:PORT` (shared by every instance that names it).
    pub store: Option<Spanned<String>>,
    /// How long a shared store may take to decide (default `50ms`).
    pub store_timeout: Option<Spanned<String>>,
    /// What to answer while the shared store cannot decide: `"deny"` (503, the default),
    /// `"allow"` (admit, uncounted) or `"local"` (each instance enforces its share alone).
    pub on_store_error: Option<Spanned<String>>,
    /// How many instances share the store: with `on_store_error = "local"`, each enforces
    /// 1/instances of every limit while the store is out of reach (default 1).
    pub instances: Option<u64>,
    /// The catalog database: `sqlite://PATH` (the default, under the data directory) or
    /// `postgres://…` (shared by every instance that names it).
    pub catalog: Option<Spanned<String>>,
    /// How long a client may take to send a request's head, and a connection its first request
    /// (default `10s`); an idle HTTP/1 keep-alive connection is closed after it too.
    pub header_read_timeout: Option<Spanned<String>>,
    /// How long a connection may stay open with no request in flight (default `60s`).
    pub idle_timeout: Option<Spanned<String>>,
    /// How long a shutdown waits for the connections still open (default `30s`): past it,
    /// those still sending or receiving are closed.
    pub shutdown_timeout: Option<Spanned<String>>,
    /// The most connections open at once on each port (default 10,000); beyond, new
    /// connections wait in the kernel's backlog while established ones keep being served.
    pub max_connections: Option<Spanned<u64>>,
    /// Bytes the limit-state journal may grow past twice its live state before it is compacted
    /// (default 1,048,576; at least 1,024).
    pub journal_slack: Option<Spanned<u64>>,
    /// Whether `/metrics` labels decisions with the account too (default `false`: one series
    /// per account is unbounded; turn it on only for a few accounts).
    pub metrics_per_account: Option<bool>,
    /// Days of usage history kept per account (default 400; 1 to 36,600): older days are
    /// pruned from the catalog.
    pub usage_history_days: Option<Spanned<u64>>,
}

/// `server.forward_auth`: a proxy's name, or the two header names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ForwardAuthConfig {
    /// `nginx`, `traefik` or `caddy`.
    Proxy(String),
    /// The headers that carry the original method and URI.
    Headers {
        /// The method's header, e.g. `X-Original-Method`.
        method: String,
        /// The URI's header, e.g. `X-Original-URI`.
        uri: String,
    },
}

/// `[responses]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponsesConfig {
    /// Header families: `ietf`, `x-rate-limit`, `x-ratelimit` (default `["ietf"]`).
    #[serde(default)]
    pub headers: Vec<Spanned<String>>,
    /// The refusal body: `json` (default), `xml`, or `accept` (XML when the client accepts it).
    pub format: Option<Spanned<String>>,
    /// JSON refusal body template, with `{limit}`, `{period}`, `{retry_after}`, `{name}`, `{code}`.
    pub json: Option<String>,
    /// XML refusal body template, with the same placeholders.
    pub xml: Option<String>,
}

/// `[identity]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// Where the API key is read.
    pub api_key: Option<Spanned<KeySourceConfig>>,
    /// Where a registered app identifies itself.
    pub app: Option<AppSourceConfig>,
    /// Where the company (tenant) comes from; by default the account's `company`.
    pub company_header: Option<String>,
    /// Proxies (CIDRs) whose `X-Forwarded-For` is believed; the client is the last address
    /// before them. From any other peer the header is ignored.
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
    /// The status for an API key no account has, or a refused app secret (default 401).
    pub unknown_key_status: Option<Spanned<u16>>,
}

/// Where an API key is read: one of `header`, `query` or `bearer = true`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySourceConfig {
    /// A request header, e.g. `X-Api-Key`.
    pub header: Option<String>,
    /// A query parameter, e.g. `api_key`.
    pub query: Option<String>,
    /// `Authorization: Bearer <key>`.
    #[serde(default)]
    pub bearer: bool,
    /// With `bearer = true`: the token may also come as RFC 6750's `access_token` query
    /// parameter. Without it, a request carrying that parameter is refused (400), since an
    /// upstream may read it where Tollgate would count the request as anonymous.
    #[serde(default)]
    pub access_token: bool,
}

/// `identity.app`: an app id header and a secret header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSourceConfig {
    /// The header naming the app, e.g. `X-AppId`.
    pub id_header: String,
    /// The header carrying its secret, e.g. `X-AppSecret`.
    pub secret_header: String,
    /// What a wrong secret does: `"ignore"` (the request counts as without app, the default)
    /// or `"refuse"` (401).
    #[serde(default)]
    pub wrong_secret: WrongSecret,
}

/// What a wrong app secret does.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WrongSecret {
    /// The request is treated as coming without an app.
    #[default]
    Ignore,
    /// The request is refused with 401.
    Refuse,
}

/// `[paths]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsConfig {
    /// Compare paths without regard to ASCII case (for upstreams that do the same).
    #[serde(default)]
    pub case_insensitive: bool,
}

/// `[[accounts]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The account's id.
    pub id: Spanned<String>,
    /// Its plan.
    pub plan: Option<Spanned<String>>,
    /// Its company (tenant), for limits `per` company.
    pub company: Option<String>,
    /// API keys in clear; hashed when the file is read and never kept. Prefer `key_sha256`.
    #[serde(default)]
    pub keys: Vec<String>,
    /// SHA-256 of API keys, in hex.
    #[serde(default)]
    pub key_sha256: Vec<Spanned<String>>,
    /// Limit name → this account's own numbers ("talk to us" deals), above its plan's.
    #[serde(default)]
    pub overrides: BTreeMap<String, Spanned<NumbersConfig>>,
    /// The IANA time zone its quota views show times in (default: the zone of the first
    /// calendar-aligned limit it meets, else UTC).
    pub time_zone: Option<Spanned<String>>,
}

/// `[[apps]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The app's id, as sent in the app id header.
    pub id: Spanned<String>,
    /// The secret in clear; hashed when the file is read and never kept.
    pub secret: Option<String>,
    /// SHA-256 of the secret, in hex.
    pub secret_sha256: Option<Spanned<String>>,
}

/// `[plans.NAME]`: numbers that replace a limit's for accounts on the plan.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    /// Limit name → new numbers.
    #[serde(default)]
    pub limits: BTreeMap<String, Spanned<NumbersConfig>>,
    /// Api name → limit name → numbers for that api alone, above the plan's.
    #[serde(default)]
    pub apis: BTreeMap<String, BTreeMap<String, Spanned<NumbersConfig>>>,
}

/// `[packs.NAME]`: a purchasable upgrade that replaces a limit's numbers for a period.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackConfig {
    /// How long a purchase lasts (default `365d`).
    pub period: Option<Spanned<String>>,
    /// What a purchase costs, `AMOUNT CURRENCY` (`99.99 EUR`): what the unused time of a pack
    /// replaced by another is worth, pro rata.
    pub price: Option<Spanned<String>>,
    /// Limit name → the numbers while the pack is held (typically quotas, not rates).
    #[serde(default)]
    pub limits: BTreeMap<String, Spanned<NumbersConfig>>,
}

/// The numbers of a limit that a plan may change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumbersConfig {
    /// A window's or a sliding window's maximum, a concurrency maximum, or a distinct-value
    /// limit's.
    pub max: Option<u64>,
    /// A token bucket's rate, `COUNT/PERIOD`.
    pub rate: Option<Spanned<String>>,
    /// A token bucket's burst.
    pub burst: Option<u64>,
}

/// `[[routes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The api this route belongs to, e.g. `machines.list`.
    pub api: Spanned<String>,
    /// `METHOD /path/{param}/…`, `*` for any method, a trailing `{*rest}` for any suffix.
    #[serde(rename = "match")]
    pub pattern: Spanned<String>,
    /// Units a request takes from every limit (default 1).
    pub cost: Option<u32>,
    /// Counts nothing and is never refused (webhooks, health checks).
    #[serde(default)]
    pub exempt: bool,
    /// Path parameters typed by a regular expression their whole value must match, by name
    /// (`params = { sku = "[A-Z]{3}-[0-9]{4}" }`); `{name:int}`, `{name:uuid}` and
    /// `{name:token}` in the template type the others.
    #[serde(default)]
    pub params: BTreeMap<String, Spanned<String>>,
}

/// `[[limits]]`: a name, exactly one algorithm, and what partitions and selects it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Unique name, used in headers, logs and plans.
    pub name: Spanned<String>,
    /// `{ rate = "1/2s", burst = 3 }`.
    pub token_bucket: Option<Spanned<TokenBucketConfig>>,
    /// `{ max = 300, every = "15m" }`, or calendar-aligned with `align` and `tz`.
    pub window: Option<Spanned<WindowConfig>>,
    /// `{ max = 100, every = "1m" }`.
    pub sliding: Option<Spanned<SlidingConfig>>,
    /// `{ max = 10, lease = "30s" }`.
    pub concurrency: Option<Spanned<ConcurrencyConfig>>,
    /// `{ max = 10, of = "param:machineId", noun = "machines" }`, per period with `every`
    /// (and `align`, `tz`, as a window's), else for good.
    pub distinct: Option<Spanned<DistinctConfig>>,
    /// The dimensions that partition the limit.
    #[serde(default)]
    pub per: Vec<Spanned<String>>,
    /// Only for these plans (default: every plan).
    #[serde(default)]
    pub plans: Vec<Spanned<String>>,
    /// Only for these apis (default: every api).
    #[serde(default)]
    pub apis: Vec<Spanned<String>>,
    /// Further conditions.
    #[serde(default)]
    pub when: WhenConfig,
    /// Counted and reported, never refuses.
    #[serde(default)]
    pub shadow: bool,
    /// The status of a refusal (default 429).
    pub status: Option<Spanned<u16>>,
    /// The error code of a refusal, for the body template (default `rate_limited`).
    pub code: Option<String>,
    /// Upstream statuses that give the units back (`"5xx"`, `"429"`): such responses do not
    /// count. Default: every admitted request counts.
    #[serde(default)]
    pub refund: Vec<Spanned<String>>,
    /// `{ max = "500ms", queue = 4 }`: a token bucket's request whose turn comes within `max`
    /// waits for it in the gateway rather than being refused.
    pub delay: Option<Spanned<DelayConfig>>,
}

/// `delay = { max, queue }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayConfig {
    /// The longest a request waits for its turn (a duration).
    pub max: Spanned<String>,
    /// The most units waiting for their turn in one partition.
    pub queue: Spanned<u64>,
}

/// `token_bucket = { rate, burst }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenBucketConfig {
    /// `COUNT/PERIOD`.
    pub rate: Spanned<String>,
    /// Most tokens held (default 1).
    pub burst: Option<u64>,
}

/// `window = { max, every, align, tz }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Most units per window.
    pub max: u64,
    /// The window: a duration for clock-aligned windows; `day`, `week` or `month` for calendar.
    pub every: Spanned<String>,
    /// `clock` (default) or `calendar`.
    #[serde(default)]
    pub align: Align,
    /// IANA time zone of calendar windows (default UTC).
    pub tz: Option<Spanned<String>>,
}

/// How a window's boundaries are placed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    /// On multiples of the period since the epoch (UTC).
    #[default]
    Clock,
    /// On local calendar days, weeks (from Monday) or months.
    Calendar,
}

/// `sliding = { max, every }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlidingConfig {
    /// About this many units per rolling period.
    pub max: u64,
    /// The period.
    pub every: Spanned<String>,
}

/// `concurrency = { max, lease }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyConfig {
    /// Most units in flight.
    pub max: u64,
    /// How long a request may hold its slot (default 60s).
    pub lease: Option<Spanned<String>>,
}

/// `distinct = { max, of, noun, every, align, tz }`: at most `max` distinct values of the
/// dimension `of` per partition, per period or for good.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistinctConfig {
    /// Most distinct values per period (1 to 1,000,000).
    pub max: u64,
    /// The dimension whose values are counted, written as in `per` (`param:machineId`,
    /// `header:X-Device-Id`, `ip`, `app`).
    pub of: Spanned<String>,
    /// What a value is, in the plural, for pages and messages (default `values`).
    pub noun: Option<Spanned<String>>,
    /// The period, as a window's `every`; unset, values are counted for good.
    pub every: Option<Spanned<String>>,
    /// `clock` (default) or `calendar`, as a window's.
    #[serde(default)]
    pub align: Align,
    /// IANA time zone of calendar periods (default UTC).
    pub tz: Option<Spanned<String>>,
}

/// `when = { … }`: all given conditions must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenConfig {
    /// `"present"` or `"absent"`: whether a verified app made the request.
    pub app: Option<Presence>,
    /// Only these methods.
    #[serde(default)]
    pub method: Vec<Spanned<String>>,
    /// Header name → the value it must have.
    #[serde(default)]
    pub header: BTreeMap<String, String>,
    /// The API key: `"present"` (an account's), `"absent"`, or `"unknown"` (no account has
    /// it). Only limits with `key = "unknown"` see requests with an unknown key: they throttle
    /// key guessing before the 401.
    pub key: Option<KeyState>,
}

/// What a request's API key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// An account's key.
    Present,
    /// No key.
    Absent,
    /// A key no account has.
    Unknown,
}

/// Whether something must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// It must be there.
    Present,
    /// It must not.
    Absent,
}
