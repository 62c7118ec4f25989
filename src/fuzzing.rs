//! Entry points for the coverage-guided fuzz targets in `fuzz/`, and nothing else: a thin public face
//! over crate-private decoders the targets must reach. Today that is the WebSocket frame reader of
//! `transport::frames` (masking, fragments, size and UTF-8 checks, close codes), which the public API
//! never hands out. Everything here forwards to the real code without changing what it does; it is
//! hidden from the documentation and not a stable API.

use bytes::Bytes;

use crate::transport::frames::{Event, FrameReader};
use crate::transport::websocket::WsMessage;

/// What [`WsReader::next_event`] found, with the crate-private types flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// A complete text message (already checked to be UTF-8).
    Text(String),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping control frame and its payload.
    Ping(Bytes),
    /// A close control frame and the code it carried, if any.
    Close(Option<u16>),
}

/// The server's WebSocket frame reader for client bytes, as `transport::direct` drives it.
pub struct WsReader(FrameReader);

impl WsReader {
    /// A reader that refuses any message larger than `max_payload` bytes.
    pub fn new(max_payload: usize) -> Self {
        WsReader(FrameReader::new(Default::default(), max_payload))
    }

    /// Appends bytes as read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        self.0.push(bytes);
    }

    /// The next complete message or control frame; `Err` carries the close code the server sends.
    pub fn next_event(&mut self) -> Result<Option<WsEvent>, u16> {
        let event = self.0.next_event()?;
        self.0.release_if_empty();
        Ok(event.map(|event| match event {
            Event::Message(WsMessage::Text(text)) => WsEvent::Text(text.to_string()),
            Event::Message(WsMessage::Binary(data)) => WsEvent::Binary(data),
            Event::Ping(data) => WsEvent::Ping(data.freeze()),
            Event::Close(code) => WsEvent::Close(code),
        }))
    }
}
