//! Envoy's external authorization, `envoy.service.auth.v3.Authorization/Check`: the request
//! Envoy holds, decided by the policy file as the gateway would decide it, answered with
//! statuses that mean what they say — 401 for an unknown key, `server.unmatched` for a path no
//! route matches, 429 with the policy's body and `Retry-After` for a limit — where the
//! rate-limit protocol can only say `OK` or `OVER_LIMIT`.
//!
//! The request is read as every adapter reads one: its method and target (`path`, with the
//! query, as Envoy received it: dot-segments are refused, not resolved, as the upstream is
//! served what was counted), its headers through the policy's one lookup (`encode_raw_headers`
//! sends a header given twice twice, and it is then refused where the policy reads it), and
//! the client's address: Envoy's `source` address, and from a trusted proxy the
//! `X-Forwarded-For` chain, as `identity.trusted_proxies` says.
//!
//! An admitted request goes on with [`ACCOUNT_HEADER`] and [`APP_HEADER`] set to whom it was
//! found to come from (or removed when nobody): each overwrites what the client sent, so an
//! upstream may believe them. Nothing tells when the request ends: the admission, and any
//! concurrency slot it holds, goes when the answer is made.

use crate::observe::access::{Answered, Via};
use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use envoy_types::pb::envoy::config::core::v3::address::Address;
use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
use envoy_types::pb::envoy::config::core::v3::{HeaderValue as ProtoHeader, HeaderValueOption};
use envoy_types::pb::envoy::service::auth::v3::attribute_context::HttpRequest;
use envoy_types::pb::envoy::service::auth::v3::authorization_server::Authorization;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{
    CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::google::protobuf::BoolValue;
use envoy_types::pb::google::rpc;
use tollgate_core::Clock;
use tollgate_policy::{RequestFacts, is_header_text};

use super::Envoy;
use crate::adapters::{HttpHeaders, forwarded_for};
use crate::app::App;
use crate::respond;
use tollgate_gate::{Refusal, Report, as_a_proxy_asks};

/// The request header that tells the upstream the account of an admitted request.
pub(crate) const ACCOUNT_HEADER: &str = "x-tollgate-account";
/// The request header that tells the upstream the verified app of an admitted request.
pub(crate) const APP_HEADER: &str = "x-tollgate-app";

/// The most request headers read: Envoy sends 100 at most unless its `max_headers_count` is
/// raised; past this bound the request is a 400, never a large map.
const MAX_HEADERS: usize = 1024;

/// `google.rpc.Code.OK`: Envoy lets the request go on.
const RPC_OK: i32 = 0;
/// `google.rpc.Code.PERMISSION_DENIED`: Envoy answers the `DeniedHttpResponse`. Every
/// refusal carries its own status there; any code but `OK` denies.
const RPC_DENIED: i32 = 7;

#[tonic::async_trait]
impl<C: Clock + 'static> Authorization for Envoy<C> {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        let peer = request.remote_addr().map(|peer| peer.ip());
        Ok(tonic::Response::new(
            decide(&self.app, peer, &request.into_inner()).await,
        ))
    }
}

/// Decides the HTTP request of `request`, asked by `peer` (Envoy). Never an error: a request
/// Tollgate cannot read is refused with 400, so that no `failure_mode_allow` lets it through.
async fn decide<C: Clock + 'static>(
    app: &App<C>,
    peer: Option<IpAddr>,
    request: &CheckRequest,
) -> CheckResponse {
    let started = std::time::Instant::now();
    let attributes = request.attributes.as_ref();
    let Some(http) = attributes
        .and_then(|attributes| attributes.request.as_ref())
        .and_then(|request| request.http.as_ref())
    else {
        let reason = "ext_authz needs the HTTP request's attributes (Envoy's HTTP filter)";
        return denied(Refusal::bad_request("bad_request", reason));
    };
    let headers = match header_map(http) {
        Ok(headers) => headers,
        Err(reason) => return denied(Refusal::bad_request("bad_request", reason)),
    };
    if http.method.is_empty() || http.path.is_empty() {
        let reason = "the request to authorize has no method or no path";
        return denied(Refusal::bad_request("bad_request", reason));
    }
    let policy = app.gate.policy();
    let target = match policy.target_exact(&http.method, &http.path) {
        Ok(target) => target,
        Err(error) => return denied(Refusal::bad_path(&error)),
    };
    // The client as Envoy saw it (its connection, or the address its `xff_num_trusted_hops`
    // vouch for), walked back through `X-Forwarded-For` only where that is a trusted proxy.
    let source = attributes
        .and_then(|attributes| attributes.source.as_ref())
        .and_then(|source| source.address.as_ref())
        .and_then(|address| match address.address.as_ref()? {
            Address::SocketAddress(socket) => socket.address.parse::<IpAddr>().ok(),
            _ => None,
        });
    let client_ip = source
        .or(peer)
        .map(|source| policy.client_ip(source, forwarded_for(&headers).as_deref()));
    let lookup = HttpHeaders::new(&headers);
    let facts = RequestFacts {
        method: &http.method,
        target: &target,
        headers: &lookup,
        client_ip,
        cost: None,
        // Envoy is the caller: the headers are the client's, and the company among them is
        // believed only where Envoy is a trusted proxy.
        from_trusted_proxy: peer.is_some_and(|peer| policy.trusts(peer)),
    };
    let told = |report, why, answer| Answered {
        via: Via::ExtAuthz,
        method: &http.method,
        target: Some(&target),
        raw_path: &http.path,
        client_ip,
        report,
        why,
        answer,
        upstream: None,
        started,
    };
    // The admission goes, and what it took with it, once answered; an unrouted path as
    // `server.unmatched` says, as forward-auth answers it.
    match as_a_proxy_asks(app.gate.admit(&facts).await, policy.server().unmatched) {
        Ok(admission) => {
            app.answered(&told(admission.report(), None, 200));
            allowed(admission.report())
        }
        Err(refusal) => {
            app.answered(&told(&refusal.report, Some(refusal.why), refusal.status));
            denied(refusal)
        }
    }
}

/// The request's headers as one map: Envoy's raw list (`encode_raw_headers: true`), a header
/// sent twice kept twice, else its map, where Envoy has joined such values with commas. Pseudo
/// headers are left out but `:authority`, which is `host`.
fn header_map(http: &HttpRequest) -> Result<HeaderMap, &'static str> {
    let raw = http.header_map.as_ref().map(|map| {
        map.headers.iter().map(|header| {
            let value = if header.raw_value.is_empty() {
                header.value.as_bytes()
            } else {
                header.raw_value.as_slice()
            };
            (header.key.as_str(), value)
        })
    });
    let joined = http
        .headers
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_bytes()));
    let sent: Box<dyn Iterator<Item = (&str, &[u8])>> = match raw {
        Some(raw) => Box::new(raw),
        None => Box::new(joined),
    };
    let mut headers = HeaderMap::new();
    for (key, value) in sent {
        let name = match key {
            ":authority" => HeaderName::from_static("host"),
            _ if key.starts_with(':') => continue,
            _ => HeaderName::from_bytes(key.as_bytes())
                .map_err(|_| "a request header's name is not a header name")?,
        };
        // A spelling of the headers Tollgate sets upstream that Envoy would not overwrite
        // (`x_tollgate_account`, read as `x-tollgate-account` by an upstream that maps `_` to
        // `-`) is refused: only Tollgate names whom a request comes from.
        let spelled = name.as_str().replace('_', "-");
        if (spelled == ACCOUNT_HEADER || spelled == APP_HEADER) && spelled != name.as_str() {
            return Err("a request header spells x-tollgate-account or x-tollgate-app with `_`");
        }
        let value =
            HeaderValue::from_bytes(value).map_err(|_| "a request header's value is not valid")?;
        if headers.len() == MAX_HEADERS {
            return Err("the request has more than 1024 headers");
        }
        headers.append(name, value);
    }
    if !headers.contains_key("host") && !http.host.is_empty() {
        let host =
            HeaderValue::from_str(&http.host).map_err(|_| "the request's host is not valid")?;
        headers.insert("host", host);
    }
    Ok(headers)
}

/// `OK`: the request goes on with whom it comes from in [`ACCOUNT_HEADER`] and [`APP_HEADER`]
/// (each set, overwriting the client's, or removed), and the answer gains the rate-limit
/// headers of `report`.
fn allowed(report: &Report) -> CheckResponse {
    let mut ok = OkHttpResponse::default();
    for (name, value) in [(ACCOUNT_HEADER, &report.account), (APP_HEADER, &report.app)] {
        match value.as_deref() {
            Some(value) if is_header_text(value.as_bytes()) => {
                ok.headers.push(overwrite(name, value));
            }
            _ => ok.headers_to_remove.push(name.to_owned()),
        }
    }
    respond::header_fields(report, None, None, |name, value| {
        if let Ok(value) = value.to_str() {
            ok.response_headers_to_add
                .push(overwrite(name.as_str(), value));
        }
    });
    CheckResponse {
        status: Some(rpc::Status {
            code: RPC_OK,
            ..rpc::Status::default()
        }),
        http_response: Some(HttpResponse::OkResponse(ok)),
        ..CheckResponse::default()
    }
}

/// A refusal as Envoy's own answer: its status, its rate-limit headers and `Retry-After`, its
/// body with its `content-type`.
fn denied(refusal: Refusal) -> CheckResponse {
    let mut headers = vec![overwrite("content-type", refusal.body.0)];
    respond::header_fields(
        &refusal.report,
        refusal.retry_after,
        refusal.retry_after_ms,
        |name, value| {
            if let Ok(value) = value.to_str() {
                headers.push(overwrite(name.as_str(), value));
            }
        },
    );
    CheckResponse {
        status: Some(rpc::Status {
            code: RPC_DENIED,
            ..rpc::Status::default()
        }),
        http_response: Some(HttpResponse::DeniedResponse(DeniedHttpResponse {
            status: Some(HttpStatus {
                code: i32::from(refusal.status),
            }),
            headers,
            body: refusal.body.1,
        })),
        ..CheckResponse::default()
    }
}

/// `name: value`, replacing every value already there. Said both ways: the deprecated
/// `append: false`, which every Envoy reads first where it is set, and the
/// `OVERWRITE_IF_EXISTS_OR_ADD` action, for an Envoy that reads only `append_action` (whose
/// default, `APPEND_IF_EXISTS_OR_ADD`, would keep a value the client sent beside Tollgate's).
#[allow(deprecated)]
fn overwrite(name: &str, value: &str) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(ProtoHeader {
            key: name.to_owned(),
            value: value.to_owned(),
            ..ProtoHeader::default()
        }),
        append: Some(BoolValue { value: false }),
        append_action: HeaderAppendAction::OverwriteIfExistsOrAdd as i32,
        ..HeaderValueOption::default()
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::core::v3::HeaderMap as ProtoHeaderMap;
    use tollgate_policy::{HeaderLookup, Headers};

    use super::*;

    fn raw(headers: &[(&str, &[u8])], host: &str) -> HttpRequest {
        HttpRequest {
            host: host.to_owned(),
            header_map: Some(ProtoHeaderMap {
                headers: headers
                    .iter()
                    .map(|(key, value)| ProtoHeader {
                        key: (*key).to_owned(),
                        raw_value: value.to_vec(),
                        ..ProtoHeader::default()
                    })
                    .collect(),
            }),
            ..HttpRequest::default()
        }
    }

    #[test]
    fn headers_are_read_as_sent_pseudo_headers_aside() {
        let http = raw(
            &[
                (":method", b"GET"),
                (":path", b"/a"),
                (":authority", b"api.example"),
                ("x-api-key", b"a"),
                ("x-api-key", b"b"),
                ("x_api_secret", b"s"),
                ("x-api-secret", b"t"),
                ("accept", b"application/json"),
            ],
            "api.example",
        );
        let map = header_map(&http).unwrap();
        let headers = HttpHeaders::new(&map);
        assert_eq!(headers.lookup("host"), HeaderLookup::One("api.example"));
        assert_eq!(headers.lookup(":path"), HeaderLookup::Absent);
        // Twice, or under a spelling with `_`: the policy's one rule refuses either.
        assert_eq!(headers.lookup("x-api-key"), HeaderLookup::Repeated);
        assert_eq!(headers.lookup("x-api-secret"), HeaderLookup::Repeated);
        assert_eq!(
            headers.lookup("accept"),
            HeaderLookup::One("application/json")
        );
        assert_eq!(map.len(), 6);
    }

    #[test]
    fn envoys_joined_map_is_read_when_no_raw_list_comes() {
        let http = HttpRequest {
            host: "api.example".to_owned(),
            headers: [
                (":authority".to_owned(), "api.example".to_owned()),
                ("x-api-key".to_owned(), "a,b".to_owned()),
            ]
            .into(),
            ..HttpRequest::default()
        };
        let map = header_map(&http).unwrap();
        let headers = HttpHeaders::new(&map);
        assert_eq!(headers.lookup("x-api-key"), HeaderLookup::One("a,b"));
        assert_eq!(headers.lookup("host"), HeaderLookup::One("api.example"));
        // `host` from the attribute when no `:authority` came.
        let bare = HttpRequest {
            host: "h".to_owned(),
            ..HttpRequest::default()
        };
        assert_eq!(header_map(&bare).unwrap()["host"], "h");
    }

    #[test]
    fn tollgate_s_own_headers_spelt_with_underscores_are_refused() {
        for name in ["x_tollgate_account", "X_Tollgate_App", "x-tollgate_account"] {
            let request = raw(&[(name, b"victim")], "api.example");
            assert!(header_map(&request).is_err(), "{name}");
        }
        let exact = raw(&[("x-tollgate-account", b"mallory")], "api.example");
        assert!(
            header_map(&exact).is_ok(),
            "overwritten upstream, not refused"
        );
    }

    #[test]
    fn what_is_no_header_is_refused_and_so_are_too_many() {
        assert!(header_map(&raw(&[("x-a", b"line\nbreak")], "")).is_err());
        assert!(header_map(&raw(&[("bad name", b"v")], "")).is_err());
        let names: Vec<String> = (0..=MAX_HEADERS).map(|n| format!("x-{n}")).collect();
        let many: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"v"[..])).collect();
        assert_eq!(
            header_map(&raw(&many, "")).unwrap_err(),
            "the request has more than 1024 headers"
        );
        assert_eq!(
            header_map(&raw(&many[..MAX_HEADERS], "")).unwrap().len(),
            MAX_HEADERS
        );
    }
}
