//! Where the shared store is: `redis://HOST:PORT` or `redis+cluster://HOST:PORT,HOST:PORT`.

use std::fmt;
use std::str::FromStr;

/// The address of a Redis server or of the seed nodes of a Redis Cluster.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// One Redis server (a primary: a replica refuses the script's writes).
    Single(String),
    /// A Redis Cluster, found from one or more of its nodes.
    Cluster(Vec<String>),
}

/// Why a store address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UrlError(String);

impl FromStr for StoreUrl {
    type Err = UrlError;

    fn from_str(url: &str) -> Result<Self, UrlError> {
        if let Some(nodes) = url.strip_prefix("redis+cluster://") {
            let nodes: Vec<String> = nodes
                .split(',')
                .filter(|node| !node.is_empty())
                .map(|node| format!("redis://{node}"))
                .collect();
            if nodes.is_empty() {
                return Err(UrlError(format!(
                    "{url}: name at least one node, HOST:PORT"
                )));
            }
            return Ok(Self::Cluster(nodes));
        }
        if url.starts_with("redis://") || url.starts_with("rediss://") {
            return Ok(Self::Single(url.to_owned()));
        }
        Err(UrlError(format!(
            "{}: expected redis://HOST:PORT or redis+cluster://HOST:PORT,HOST:PORT",
            hide_password(url)
        )))
    }
}

/// Written without a password, if the address has one: safe for logs.
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hide = hide_password;
        match self {
            Self::Single(url) => f.write_str(&hide(url)),
            Self::Cluster(nodes) => {
                let nodes: Vec<String> = nodes
                    .iter()
                    .map(|node| hide(node).trim_start_matches("redis://").to_owned())
                    .collect();
                write!(f, "redis+cluster://{}", nodes.join(","))
            }
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `url` with what stands between the scheme and the last `@` (user and password) masked.
fn hide_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_cluster() {
        let single: StoreUrl = "redis://127.0.0.1:6379".parse().unwrap();
        assert_eq!(single, StoreUrl::Single("redis://127.0.0.1:6379".into()));
        let cluster: StoreUrl = "redis+cluster://a:1,b:2".parse().unwrap();
        assert_eq!(
            cluster,
            StoreUrl::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()])
        );
        assert!("memcached://x".parse::<StoreUrl>().is_err());
        assert!("redis+cluster://".parse::<StoreUrl>().is_err());
    }

    #[test]
    fn display_hides_passwords() {
        let url: StoreUrl = "redis://:hunter2@db:6379/0".parse().unwrap();
        assert_eq!(url.to_string(), "redis://***@db:6379/0");
        let cluster: StoreUrl = "redis+cluster://u:pw@a:1".parse().unwrap();
        assert_eq!(cluster.to_string(), "redis+cluster://***@a:1");
        let typo = "redis-cluster://:hunter2@h:1"
            .parse::<StoreUrl>()
            .unwrap_err();
        assert!(!typo.to_string().contains("hunter2"), "{typo}");
    }
}
