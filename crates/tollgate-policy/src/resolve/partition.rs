//! Which partition of a limit a request falls in: the limit's dimensions read from the request
//! and hashed, as they are, into the limit's key. Nothing is copied to build a key.

use std::net::{IpAddr, Ipv6Addr};

use tollgate_core::{Algorithm, Key, KeyBuilder, LimitRequest};

use super::facts::{Headers, RequestFacts};
use super::resolved::Context;
use crate::policy::{Dimension, Directory, Limit, Policy};

/// An absent dimension value keys differently from every present one (even an empty string).
const ABSENT: u64 = u64::MAX;

/// The dimensions that root a partition, first found first.
const ROOTS: [Dimension; 3] = [Dimension::Account, Dimension::Company, Dimension::App];

/// The first part of a root's key, apart from every limit's identity.
const ROOT: u64 = u64::MAX - 1;

impl Policy {
    /// The store request for the partition a request falls in for `limit`, whose numbers are
    /// `algorithm`: its key, and its root (the first of account, company and app that the limit
    /// is partitioned by, so that a shared store keeps an account's partitions together).
    pub(crate) fn partition<'a, H: Headers + ?Sized>(
        &self,
        limit: &Limit,
        algorithm: &'a Algorithm,
        context: &Context<'_>,
        facts: &RequestFacts<'_, H>,
        cost: u32,
    ) -> LimitRequest<'a> {
        let mut key = self.key_space.builder();
        key.push_u64(limit.identity);
        if let Algorithm::Sliding(sliding) = algorithm {
            // Its state packs two counts in base max + 1: other numbers, other state.
            key.push_u64(sliding.max());
        }
        for dimension in &limit.per {
            match dimension {
                Dimension::Ip => match context.ip {
                    Some(ip) => push_address(&mut key, ip),
                    None => push(&mut key, None),
                },
                other => push(&mut key, self.value(context, facts, other)),
            }
        }
        let key = key.finish();
        let root = ROOTS
            .iter()
            .zip(1..)
            .find(|(dimension, _)| limit.per.contains(dimension))
            .map_or(key, |(dimension, tag)| {
                let mut root = self.key_space.builder();
                root.push_u64(ROOT).push_u64(tag);
                push(&mut root, self.value(context, facts, dimension));
                root.finish()
            });
        // Partitions made by callers of no known identity have a share of the store of their own;
        // not those of the limits for unknown keys, which throttle guessing and must always be
        // there to (they are partitioned by the guesser's address or app).
        let anonymous = context.account.is_none()
            && context.app.is_none()
            && context.key != crate::model::KeyState::Unknown;
        let value = limit
            .counted
            .as_ref()
            .and_then(|counted| self.value_key(context, facts, counted));
        LimitRequest::new(key, algorithm, cost)
            .with_root(root)
            .anonymous(anonymous)
            .with_value(value)
    }

    /// The keyed hash of a request's value of `dimension`, which a distinct-value limit counts
    /// (an address as its partition is: an IPv6 client by its /64); `None` without one.
    fn value_key<H: Headers + ?Sized>(
        &self,
        context: &Context<'_>,
        facts: &RequestFacts<'_, H>,
        dimension: &Dimension,
    ) -> Option<Key> {
        let mut key = self.key_space.builder();
        match dimension {
            Dimension::Ip => push_address(&mut key, context.ip?),
            other => {
                key.push(self.value(context, facts, other)?.as_bytes());
            }
        }
        Some(key.finish())
    }

    /// The value of one dimension for a request, as text; an address is keyed as bytes (see
    /// [`push_address`]) and shown by [`Policy::explain`].
    pub(crate) fn value<'c, H: Headers + ?Sized>(
        &'c self,
        context: &'c Context<'_>,
        facts: &'c RequestFacts<'_, H>,
        dimension: &Dimension,
    ) -> Option<&'c str> {
        match dimension {
            Dimension::Account => context.account.map(|account| &*account.id),
            Dimension::App => context.app.map(|app| &**app),
            Dimension::Company => context.company,
            Dimension::Ip => None,
            Dimension::Api => Some(&self.apis[context.api]),
            Dimension::Method => Some(&context.method),
            Dimension::Path => Some(context.path),
            Dimension::Param(name) => context
                .params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| *value),
            Dimension::Header(name) => facts.headers.get(name),
        }
    }

    /// Each applicable limit's name and partition in words (`account=acme api=circuits
    /// path=/hvacs/1`), header values masked: for logs and `explain`. Empty when the request
    /// resolves to no limits.
    pub fn explain<H: Headers + ?Sized>(
        &self,
        directory: Option<&Directory>,
        now: tollgate_core::Nanos,
        facts: &RequestFacts<'_, H>,
    ) -> Vec<(String, String)> {
        let Ok(context) = self.context(directory, now, facts) else {
            return Vec::new();
        };
        self.limits
            .iter()
            .filter(|limit| Self::applies(limit, &context, facts))
            .map(|limit| {
                let partition = limit
                    .per
                    .iter()
                    .map(|dimension| {
                        let value = self.value(&context, facts, dimension).unwrap_or("-");
                        match dimension {
                            Dimension::Header(name) => format!("header:{name}={}", mask(value)),
                            Dimension::Param(name) => format!("param:{name}={value}"),
                            Dimension::Ip => format!(
                                "ip={}",
                                context.ip.map_or_else(|| "-".to_owned(), address_text)
                            ),
                            other => format!("{}={value}", format!("{other:?}").to_lowercase()),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                (limit.name.to_string(), partition)
            })
            .collect()
    }
}

/// The address a client is partitioned by, keyed as the bytes of its text (as the keys of
/// earlier versions were, so counters survive an upgrade), written on the stack: IPv4 whole (an
/// IPv4-mapped IPv6 address as the IPv4 one), IPv6 by its /64 (one subscriber's network, within
/// which addresses are free to rotate).
fn push_address(key: &mut KeyBuilder<'_>, ip: IpAddr) {
    let mut text = [0u8; 64];
    let mut cursor = &mut text[..];
    // At most 42 bytes (`xxxx:…:xxxx/64`): the buffer never fills.
    let _ = write_address(&mut cursor, ip);
    let written = 64 - cursor.len();
    key.push(&text[..written]);
}

/// Writes the partitioned address in words: `192.0.2.7`, `2001:db8:1:2::/64`.
fn write_address(out: &mut impl std::io::Write, ip: IpAddr) -> std::io::Result<()> {
    match ip {
        IpAddr::V4(v4) => write!(out, "{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => write!(out, "{v4}"),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                write!(out, "{}/64", Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The partitioned address in words, for logs.
fn address_text(ip: IpAddr) -> String {
    let mut text = Vec::new();
    let _ = write_address(&mut text, ip);
    String::from_utf8_lossy(&text).into_owned()
}

/// A header value for a log: its first two characters, the rest hidden.
fn mask(value: &str) -> String {
    let shown: String = value.chars().take(2).collect();
    format!("{shown}***")
}

fn push(key: &mut KeyBuilder<'_>, value: Option<&str>) {
    match value {
        Some(value) => key.push(value.as_bytes()),
        None => key.push_u64(ABSENT),
    };
}

#[cfg(test)]
mod tests {
    use tollgate_core::KeySpace;

    use super::*;

    #[test]
    fn an_address_is_keyed_as_its_text_as_before() {
        let space = KeySpace::new([3; 16]);
        let keyed = |ip: &str| {
            let mut key = space.builder();
            push_address(&mut key, ip.parse().unwrap());
            key.finish()
        };
        let text = |text: &str| {
            let mut key = space.builder();
            key.push(text.as_bytes());
            key.finish()
        };
        assert_eq!(keyed("192.0.2.7"), text("192.0.2.7"));
        assert_eq!(keyed("::ffff:192.0.2.7"), text("192.0.2.7"));
        assert_eq!(keyed("2001:db8:1:2:3:4:5:6"), text("2001:db8:1:2::/64"));
        assert_eq!(
            keyed("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            text("ffff:ffff:ffff:ffff::/64")
        );
    }
}
