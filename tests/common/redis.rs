//! A throwaway `redis-server` for the Rust integration tests: started on a free loopback port in a
//! temporary directory, without persistence, killed (by its handle) when dropped. A missing
//! `redis-server` fails the test (scripts/test.sh installs it).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A redis-server of this test, killed (by its PID, through the handle) when dropped.
pub struct Redis {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Redis {
    /// Starts one on a free port of 127.0.0.1, in a temporary directory, without persistence.
    pub fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "roomcast-cluster-requests-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server; scripts/test.sh does)");
        let redis = Redis {
            child,
            dir,
            url: format!("redis://127.0.0.1:{port}/0"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while redis.ping().is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    /// A client of it.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url.as_str()).expect("a valid URL")
    }

    fn ping(&self) -> redis::RedisResult<()> {
        let mut conn = self.client().get_connection()?;
        redis::cmd("PING").query::<String>(&mut conn).map(|_| ())
    }

    /// `PUBSUB NUMSUB channel`: how many connections `SUBSCRIBE` it.
    #[allow(dead_code)] // each test file uses one of the two counts
    pub fn numsub(&self, channel: &str) -> usize {
        self.count("NUMSUB", channel)
    }

    /// `PUBSUB SHARDNUMSUB channel`: how many connections `SSUBSCRIBE` it.
    #[allow(dead_code)] // each test file uses one of the two counts
    pub fn shard_numsub(&self, channel: &str) -> usize {
        self.count("SHARDNUMSUB", channel)
    }

    fn count(&self, which: &str, channel: &str) -> usize {
        let mut conn = self.client().get_connection().expect("connected");
        let (_, n): (String, usize) = redis::cmd("PUBSUB")
            .arg(which)
            .arg(channel)
            .query(&mut conn)
            .expect("PUBSUB");
        n
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
