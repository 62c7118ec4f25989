//! The throwaway Redis of a cluster run: a `redis-server` on a free loopback port, without
//! persistence, in the run's temporary directory, killed by its PID when the run ends. And the few
//! commands the run asks it (PING, INFO, PUBSUB NUMSUB), over a minimal RESP client: one short
//! connection per command, every wait bounded.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::super::servers::{free_port, Env, ServerProc};

/// The longest wait for one command's reply.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);

/// Starts `program` (redis-server) on a free port; a missing program is an error.
pub(in crate::compare) async fn start(env: &mut Env, program: &str) -> Result<ServerProc, String> {
    let found = std::process::Command::new(program)
        .arg("--version")
        .output()
        .map_err(|e| {
            format!("{program} not found ({e}): install it (apt-get install redis-server)")
        })?;
    if !found.status.success() {
        return Err(format!("{program} --version failed"));
    }
    env.starts += 1;
    let port = free_port()?;
    let dir = env.tmp.join(format!("redis-{}", env.starts));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let argv = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        &dir.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    let mut redis = env.spawn("redis", port, program.to_owned(), argv, &[])?;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = redis.child.try_wait() {
            return Err(format!(
                "redis-server exited ({status}):\n{}",
                redis.log_tail()
            ));
        }
        if command(port, &["PING"]).await.is_ok_and(|r| r == b"PONG") {
            return Ok(redis);
        }
        if Instant::now() > until {
            return Err(format!(
                "redis-server did not answer PING on port {port} within 10s:\n{}",
                redis.log_tail()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends one command and returns its reply: a simple string, a bulk string or an integer as its
/// text, an array as the text of its last element (enough for `PUBSUB NUMSUB channel`).
pub(super) async fn command(port: u16, args: &[&str]) -> Result<Vec<u8>, String> {
    let run = async {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("redis connect: {e}"))?;
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        s.write_all(&req)
            .await
            .map_err(|e| format!("redis write: {e}"))?;
        let mut buf = Vec::with_capacity(4096);
        loop {
            if let Some(reply) = parse(&buf)? {
                return Ok(reply);
            }
            if s.read_buf(&mut buf)
                .await
                .map_err(|e| format!("redis read: {e}"))?
                == 0
            {
                return Err("redis closed the connection".to_owned());
            }
        }
    };
    tokio::time::timeout(COMMAND_TIMEOUT, run)
        .await
        .map_err(|_| format!("redis {args:?} timed out"))?
}

/// The reply in `buf` if complete (see [`command`]); an error reply is an error.
fn parse(buf: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut at = 0;
    let mut last = None;
    let mut pending = 1usize;
    while pending > 0 {
        let Some(end) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = &buf[at + 1..at + end];
        let text = String::from_utf8_lossy(line).into_owned();
        match buf.get(at) {
            Some(b'-') => return Err(format!("redis error: {text}")),
            Some(b'*') => {
                pending += text.parse::<usize>().unwrap_or(0);
                at += end + 2;
            }
            Some(b'$') => {
                let len: usize = text.parse().map_err(|_| "bad RESP length".to_owned())?;
                let start = at + end + 2;
                if buf.len() < start + len + 2 {
                    return Ok(None);
                }
                last = Some(buf[start..start + len].to_vec());
                at = start + len + 2;
            }
            _ => {
                last = Some(line.to_vec());
                at += end + 2;
            }
        }
        pending -= 1;
    }
    Ok(Some(last.unwrap_or_default()))
}

/// `total_commands_processed` of `INFO stats`. The INFO itself counts once in the next reading.
pub(super) async fn commands_processed(port: u16) -> Result<u64, String> {
    info_field(port, "stats", "total_commands_processed").await
}

/// One numeric field of an INFO section.
pub(super) async fn info_field(port: u16, section: &str, field: &str) -> Result<u64, String> {
    let text = command(port, &["INFO", section]).await?;
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("INFO {section} has no {field}"))
}

/// How many connections SUBSCRIBE `channel` (`PUBSUB NUMSUB`).
pub(super) async fn numsub(port: u16, channel: &str) -> Result<u64, String> {
    let reply = command(port, &["PUBSUB", "NUMSUB", channel]).await?;
    String::from_utf8_lossy(&reply)
        .parse()
        .map_err(|_| "bad PUBSUB NUMSUB reply".to_owned())
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn replies_parse_when_complete() {
        assert_eq!(parse(b"+PONG\r\n").unwrap(), Some(b"PONG".to_vec()));
        assert_eq!(parse(b"+PON").unwrap(), None);
        assert_eq!(parse(b"$3\r\nabc\r\n").unwrap(), Some(b"abc".to_vec()));
        assert_eq!(parse(b"$3\r\nab").unwrap(), None);
        let numsub = b"*2\r\n$20\r\nsocket.io-request#/#\r\n:2\r\n";
        assert_eq!(parse(numsub).unwrap(), Some(b"2".to_vec()));
        assert_eq!(parse(&numsub[..20]).unwrap(), None);
        assert!(parse(b"-ERR unknown\r\n").is_err());
    }
}
