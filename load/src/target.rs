//! The server under test: its URL (loopback only) and the local source addresses connections bind to.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

/// Where the generator connects: a loopback socket address, the Host header, the Engine.IO path.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub host_header: String,
    /// Engine.IO path with the trailing slash, e.g. `/socket.io/`.
    pub path: String,
    /// Socket.IO namespace, e.g. `/`.
    pub namespace: String,
    /// Source addresses to spread connections over (empty: let the kernel choose).
    pub sources: Vec<IpAddr>,
}

impl Target {
    /// Parses `http://host:port[/path]` or `ws://host:port[/path]`. Every address the host resolves to
    /// must be a loopback address: the generator refuses any other target.
    pub fn parse(
        url: &str,
        path: Option<&str>,
        namespace: &str,
        sources: &str,
    ) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("ws://"))
            .ok_or_else(|| {
                format!(
                    "URL {url:?}: only http:// or ws:// (plain, loopback) targets are supported"
                )
            })?;
        let (authority, url_path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(format!("URL {url:?} has no host"));
        }
        let with_port = if authority.starts_with('[') {
            if authority.contains("]:") {
                authority.to_owned()
            } else {
                format!("{authority}:80")
            }
        } else if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {authority:?}: {e}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("{authority:?} resolves to no address"));
        }
        if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
            return Err(format!(
                "refusing non-loopback target {bad} ({url}): roomcast-load only drives servers on this machine's loopback"
            ));
        }
        // Prefer IPv4 (the source-address spreading is IPv4 only).
        let addr = *addrs.iter().find(|a| a.is_ipv4()).unwrap_or(&addrs[0]);
        let mut path = path.map(str::to_owned).unwrap_or_else(|| {
            if url_path.is_empty() || url_path == "/" {
                "/socket.io/".to_owned()
            } else {
                url_path.to_owned()
            }
        });
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        if !namespace.starts_with('/') {
            return Err(format!("namespace {namespace:?} must start with '/'"));
        }
        let sources = if addr.is_ipv4() {
            parse_sources(sources)?
        } else {
            Vec::new()
        };
        Ok(Target {
            addr,
            host_header: authority.to_owned(),
            path,
            namespace: namespace.to_owned(),
            sources,
        })
    }

    /// The source address for the `i`-th connection, if sources are configured.
    pub fn source_for(&self, i: usize) -> Option<IpAddr> {
        if self.sources.is_empty() {
            None
        } else {
            Some(self.sources[i % self.sources.len()])
        }
    }
}

/// `none`, a comma-separated list of loopback IPv4 addresses, or a range `127.0.0.1-127.0.0.8`.
fn parse_sources(spec: &str) -> Result<Vec<IpAddr>, String> {
    let spec = spec.trim();
    if spec.is_empty() || spec == "none" {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once('-') {
            let a: Ipv4Addr = a.trim().parse().map_err(|e| format!("source {a:?}: {e}"))?;
            let b: Ipv4Addr = b.trim().parse().map_err(|e| format!("source {b:?}: {e}"))?;
            let (a, b) = (u32::from(a), u32::from(b));
            if b < a || b - a > 1024 {
                return Err(format!("bad source range {part:?}"));
            }
            for v in a..=b {
                out.push(IpAddr::V4(Ipv4Addr::from(v)));
            }
        } else {
            let ip: Ipv4Addr = part.parse().map_err(|e| format!("source {part:?}: {e}"))?;
            out.push(IpAddr::V4(ip));
        }
    }
    if let Some(bad) = out.iter().find(|ip| !ip.is_loopback()) {
        return Err(format!("source address {bad} is not a loopback address"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_only() {
        assert!(Target::parse("http://127.0.0.1:3000", None, "/", "none").is_ok());
        assert!(Target::parse("http://localhost:3000", None, "/", "none").is_ok());
        assert!(Target::parse("http://[::1]:3000", None, "/", "none").is_ok());
        assert!(Target::parse("http://10.0.0.1:3000", None, "/", "none").is_err());
        assert!(Target::parse("https://127.0.0.1:3000", None, "/", "none").is_err());
        assert!(Target::parse("http://127.0.0.1:3000", None, "/", "10.0.0.1").is_err());
    }

    #[test]
    fn paths_and_sources() {
        let t = Target::parse("ws://127.0.0.1:3000", None, "/", "127.0.0.1-127.0.0.4").unwrap();
        assert_eq!(t.path, "/socket.io/");
        assert_eq!(t.sources.len(), 4);
        assert_eq!(t.source_for(5).unwrap().to_string(), "127.0.0.2");
        let t = Target::parse("http://127.0.0.1:3000/rt", None, "/", "none").unwrap();
        assert_eq!(t.path, "/rt/");
    }
}
