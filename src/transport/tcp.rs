//! TCP settings applied to every accepted client connection (`HttpServer::on_connect`).
//!
//! actix-web has no write timeout: a client that stops reading keeps its connection's response
//! blocked forever (actix-web issue 2441). After roomcast gives such a client up (slow consumer,
//! ping timeout), the kernel must still drop the TCP connection: `TCP_USER_TIMEOUT` bounds how long
//! sent data may stay unacknowledged, zero-window probes included, before the kernel resets it.
//! Connections that have nothing to send are not affected.

use std::any::Any;
use std::time::Duration;

/// Sets `TCP_USER_TIMEOUT` on an accepted connection (Linux; elsewhere nothing).
pub fn set_user_timeout(conn: &dyn Any, timeout: Duration) {
    #[cfg(target_os = "linux")]
    if let Some(stream) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        use std::os::fd::AsRawFd;
        const IPPROTO_TCP: i32 = 6;
        const TCP_USER_TIMEOUT: i32 = 18;
        extern "C" {
            fn setsockopt(fd: i32, level: i32, name: i32, value: *const u32, len: u32) -> i32;
        }
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        // SAFETY: the descriptor is the live socket `stream` owns for this call; the option value
        // is a u32 of the size given.
        let rc = unsafe {
            setsockopt(
                stream.as_raw_fd(),
                IPPROTO_TCP,
                TCP_USER_TIMEOUT,
                &ms,
                std::mem::size_of::<u32>() as u32,
            )
        };
        if rc != 0 {
            tracing::debug!(
                "TCP_USER_TIMEOUT not set: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (conn, timeout);
}
