//! The public router (and the admin router) in process, on a manual clock: every behaviour that
//! needs no socket, with exact values. What needs one (an upstream, HTTP/2, signals, restarts)
//! stays with the real binary in `tests/server`.
//!
//! One file per subject: forward-auth, the check API, aligned and calendar windows, identity and
//! the guess guard, refusals that explain themselves (`explanation`), routes, blocks, the quota
//! page and the customer's page with its sign-in (`portal`), the three shipped example policies
//! (`invoicing`, `heating_partner`, `iot_platform`, its machine quota in `machine_quota`), what
//! customers are shown against what is enforced (`effective_limits`), the admin API's accounts
//! (`admin_accounts`), what a pack replaced by another leaves (`pack_refunds`), Envoy's gRPC
//! rate-limit service (`envoy_rls`, the gRPC router with no socket, over envoyproxy/ratelimit's
//! files; `envoy_policy`, over a policy file) and its external authorization (`ext_authz`), and
//! `/metrics` scraped (`metrics`).

mod admin_accounts;
mod alerts;
mod blocks;
mod check;
mod effective_limits;
mod envoy_policy;
mod envoy_rls;
mod explanation;
mod ext_authz;
mod forward_auth;
mod heating_partner;
mod identity;
mod invoicing;
mod iot_platform;
mod machine_quota;
mod metrics;
mod pack_refunds;
mod portal;
mod quota;
mod routes;
mod shadow;
mod shaping;
mod spellings;
mod support;
mod time_zones;
mod windows;

/// Two requests per hour per account and api (a bucket that refills once an hour), XML or
/// JSON refusals by `Accept`, all three header families.
const POLICY: &str = r#"
    [responses]
    headers = ["ietf", "x-rate-limit", "x-ratelimit"]
    format = "accept"

    [identity]
    api_key = { header = "X-Api-Key" }

    [[accounts]]
    id = "acme"
    keys = ["acme-key"]

    [[accounts]]
    id = "globex"
    keys = ["globex-key"]

    [[routes]]
    api = "machines"
    match = "* /machines/{*rest}"

    [[routes]]
    api = "health"
    match = "GET /healthz"
    exempt = true

    [[limits]]
    name = "hourly"
    token_bucket = { rate = "1/1h", burst = 2 }
    per = ["account", "api"]
"#;

/// [`POLICY`] and a throttle on guessed keys: two a clock hour per client address.
fn guarded() -> String {
    format!(
        "{POLICY}
    [[limits]]
    name = \"guessing\"
    window = {{ max = 2, every = \"1h\" }}
    per = [\"ip\"]
    when = {{ key = \"unknown\" }}
"
    )
}

const ACME: (&str, &str) = ("X-Api-Key", "acme-key");
const GLOBEX: (&str, &str) = ("X-Api-Key", "globex-key");
