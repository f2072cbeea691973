//! The `[server]` and `[responses]` tables.

use std::time::Duration;

use super::Compiler;
use crate::Template;
use crate::model::{ForwardAuthConfig, PolicyFile, ResponsesConfig};
use crate::settings::{
    BodyFormat, DEFAULT_JSON, DEFAULT_XML, FORWARDED_PAIR, ForwardAuth, HeaderFamily,
    ORIGINAL_PAIR, OnStoreError, Responses, Server, Unmatched,
};
use crate::units::parse_duration;

fn pair((method, uri): (&str, &str)) -> ForwardAuth {
    ForwardAuth::Headers(method.to_owned(), uri.to_owned())
}

impl Compiler<'_> {
    /// `[server]`: addresses, upstream and its timeout, who may check, the store bound.
    pub(super) fn server(&mut self, file: &PolicyFile) -> Server {
        Server {
            listen: file.server.listen.as_ref().map(|listen| {
                if listen.get_ref().parse::<std::net::SocketAddr>().is_err() {
                    self.fail(listen.span(), format!("`{}` is not an address such as 127.0.0.1:8080", listen.get_ref()));
                }
                listen.get_ref().clone()
            }),
            grpc_listen: file.server.grpc_listen.as_ref().map(|listen| {
                if listen.get_ref().parse::<std::net::SocketAddr>().is_err() {
                    self.fail(listen.span(), format!("`{}` is not an address such as 127.0.0.1:8083", listen.get_ref()));
                }
                listen.get_ref().clone()
            }),
            upstream: file.server.upstream.as_ref().map(|upstream| {
                let url = upstream.get_ref();
                if !url.starts_with("http://") || url.len() <= "http://".len() {
                    self.fail(upstream.span(), format!("the upstream `{url}` must be an http:// URL, e.g. http://127.0.0.1:9000"));
                }
                url.trim_end_matches('/').to_owned()
            }),
            upstream_timeout: file
                .server
                .upstream_timeout
                .as_ref()
                .and_then(|timeout| self.parse(timeout, parse_duration))
                .unwrap_or(Duration::from_secs(30)),
            check_from: match &file.server.check_from {
                Some(peers) => peers.iter().filter_map(|peer| self.network(peer)).collect(),
                None => vec!["127.0.0.0/8".parse().expect("valid"), "::1/128".parse().expect("valid")],
            },
            forward_auth: file.server.forward_auth.as_ref().map_or(ForwardAuth::Either, |setting| {
                match setting.get_ref() {
                    ForwardAuthConfig::Proxy(proxy) => match proxy.as_str() {
                        "nginx" => pair(ORIGINAL_PAIR),
                        "traefik" | "caddy" => pair(FORWARDED_PAIR),
                        other => {
                            self.fail(setting.span(), format!("unknown forward_auth proxy `{other}`: use nginx, traefik, caddy or {{ method = \"X-…\", uri = \"X-…\" }}"));
                            ForwardAuth::Either
                        }
                    },
                    ForwardAuthConfig::Headers { method, uri } => {
                        let valid = |name: &str| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                        if !valid(method) || !valid(uri) {
                            self.fail(setting.span(), "forward_auth header names are letters, digits, `-` and `_`");
                        }
                        ForwardAuth::Headers(method.to_ascii_lowercase(), uri.to_ascii_lowercase())
                    }
                }
            }),
            unmatched: match file.server.unmatched.as_ref() {
                None => Unmatched::Refuse,
                Some(setting) => match setting.get_ref().as_str() {
                    "refuse" => Unmatched::Refuse,
                    "pass" => Unmatched::Pass,
                    other => {
                        self.fail(setting.span(), format!("unknown unmatched `{other}`: use refuse or pass"));
                        Unmatched::Refuse
                    }
                },
            },
            max_partitions: file.server.max_partitions.unwrap_or(10_000_000),
            anonymous_share: match &file.server.anonymous_share {
                None => 0.5,
                Some(share) if *share.get_ref() > 0.0 && *share.get_ref() <= 1.0 => *share.get_ref(),
                Some(share) => {
                    self.fail(share.span(), "anonymous_share is a share of max_partitions: more than 0, at most 1");
                    0.5
                }
            },
            when_full: match file.server.when_full.as_ref() {
                None => tollgate_core::WhenFull::RefuseNewKeys,
                Some(setting) => match setting.get_ref().as_str() {
                    "refuse" => tollgate_core::WhenFull::RefuseNewKeys,
                    "evict" => tollgate_core::WhenFull::EvictNearestRest,
                    other => {
                        self.fail(setting.span(), format!("unknown when_full `{other}`: use refuse or evict"));
                        tollgate_core::WhenFull::RefuseNewKeys
                    }
                },
            },
            durability_interval: file.server.durability.as_ref().and_then(|setting| {
                if setting.get_ref() == "always" {
                    None
                } else {
                    self.parse(setting, parse_duration)
                }
            }),
            store: file.server.store.as_ref().and_then(|store| {
                let url = store.get_ref();
                const SHARED: [&str; 3] = ["redis://", "rediss://", "redis+cluster://"];
                if url == "memory" {
                    None
                } else if SHARED.iter().any(|scheme| url.starts_with(scheme)) {
                    Some(url.clone())
                } else {
                    self.fail(store.span(), format!("unknown store `{url}`: use memory, redis://HOST:PORT or redis+cluster://HOST:PORT,HOST:PORT"));
                    None
                }
            }),
            store_timeout: file
                .server
                .store_timeout
                .as_ref()
                .and_then(|timeout| self.parse(timeout, parse_duration))
                .unwrap_or(Duration::from_millis(50)),
            on_store_error: match file.server.on_store_error.as_ref() {
                None => OnStoreError::Deny,
                Some(setting) => match setting.get_ref().as_str() {
                    "deny" => OnStoreError::Deny,
                    "allow" => OnStoreError::Allow,
                    "local" => OnStoreError::Local,
                    other => {
                        self.fail(setting.span(), format!("unknown on_store_error `{other}`: use deny, allow or local"));
                        OnStoreError::Deny
                    }
                },
            },
            instances: file.server.instances.unwrap_or(1).max(1),
            catalog: file.server.catalog.as_ref().map(|catalog| {
                let url = catalog.get_ref();
                if !url.starts_with("sqlite://") && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                    self.fail(catalog.span(), format!("unknown catalog `{url}`: use sqlite://PATH or postgres://…"));
                }
                url.clone()
            }),
            header_read_timeout: file
                .server
                .header_read_timeout
                .as_ref()
                .and_then(|timeout| self.parse(timeout, |text| parse_duration(text).and_then(|duration| if duration.is_zero() { Err("header_read_timeout must be longer than 0".to_owned()) } else { Ok(duration) })))
                .unwrap_or(Duration::from_secs(10)),
            idle_timeout: file
                .server
                .idle_timeout
                .as_ref()
                .and_then(|timeout| self.parse(timeout, |text| parse_duration(text).and_then(|duration| if duration.is_zero() { Err("idle_timeout must be longer than 0".to_owned()) } else { Ok(duration) })))
                .unwrap_or(Duration::from_secs(60)),
            shutdown_timeout: file
                .server
                .shutdown_timeout
                .as_ref()
                .and_then(|timeout| self.parse(timeout, parse_duration))
                .unwrap_or(Duration::from_secs(30)),
            max_connections: match &file.server.max_connections {
                None => None,
                Some(max) => match usize::try_from(*max.get_ref()) {
                    Ok(count @ 1..=1_000_000) => Some(count),
                    _ => {
                        self.fail(max.span(), format!("max_connections must be 1 to 1000000, not {}", max.get_ref()));
                        None
                    }
                },
            },
            journal_slack: match &file.server.journal_slack {
                None => 1 << 20,
                Some(slack) if *slack.get_ref() >= 1_024 => *slack.get_ref(),
                Some(slack) => {
                    self.fail(slack.span(), format!("journal_slack must be at least 1024 bytes, not {}", slack.get_ref()));
                    1 << 20
                }
            },
            metrics_per_account: file.server.metrics_per_account.unwrap_or(false),
            usage_history_days: match &file.server.usage_history_days {
                None => 400,
                Some(days) => match u32::try_from(*days.get_ref()) {
                    Ok(days @ 1..=36_600) => days,
                    _ => {
                        self.fail(days.span(), format!("usage_history_days must be 1 to 36600, not {}", days.get_ref()));
                        400
                    }
                },
            },
        }
    }

    pub(super) fn responses(&mut self, config: &ResponsesConfig) -> Responses {
        let mut headers: Vec<HeaderFamily> = config
            .headers
            .iter()
            .filter_map(|family| match family.get_ref().as_str() {
                "ietf" => Some(HeaderFamily::Ietf),
                "x-rate-limit" => Some(HeaderFamily::XRateLimitDashed),
                "x-ratelimit" => Some(HeaderFamily::XRateLimit),
                other => {
                    self.fail(
                        family.span(),
                        format!(
                            "unknown header family `{other}`: use ietf, x-rate-limit or x-ratelimit"
                        ),
                    );
                    None
                }
            })
            .collect();
        if config.headers.is_empty() {
            headers.push(HeaderFamily::Ietf);
        }
        let format = match config.format.as_ref().map(|f| (f, f.get_ref().as_str())) {
            None | Some((_, "json")) => BodyFormat::Json,
            Some((_, "xml")) => BodyFormat::Xml,
            Some((_, "accept")) => BodyFormat::Accept,
            Some((span, other)) => {
                self.fail(
                    span.span(),
                    format!("unknown body format `{other}`: use json, xml or accept"),
                );
                BodyFormat::Json
            }
        };
        Responses {
            headers,
            format,
            json: Template::compile(config.json.as_deref().unwrap_or(DEFAULT_JSON)),
            xml: Template::compile(config.xml.as_deref().unwrap_or(DEFAULT_XML)),
        }
    }
}
