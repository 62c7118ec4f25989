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
        // Milliseconds past u32::MAX are clamped by socket2, as the kernel takes a u32.
        if let Err(e) = socket2::SockRef::from(stream).set_tcp_user_timeout(Some(timeout)) {
            tracing::debug!("TCP_USER_TIMEOUT not set: {e}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (conn, timeout);
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn sets_the_timeout_on_tcp_streams_and_ignores_other_connections() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        set_user_timeout(&accepted, Duration::from_millis(1500));
        let read = socket2::SockRef::from(&accepted)
            .tcp_user_timeout()
            .unwrap();
        assert_eq!(read, Some(Duration::from_millis(1500)));
        set_user_timeout(&"not a socket", Duration::from_millis(1500));
        drop(client);
    }
}
