//! The dashboard's commands, each acting on an existing namespace through the broadcast operators,
//! optionally narrowed to the sockets of one room (the UI passes a socket id to target one socket):
//! `emit(nsp, filter, event, ...args)`, `join(nsp, room, filter?)`, `leave(nsp, room, filter?)`,
//! `_disconnect(nsp, close, filter?)`. The UI sends them without acknowledgement; a client that
//! asks for one is answered `{ok: true, count}` (sockets targeted; `emit` gives no count) or
//! `{error}`: a read-only server refuses them all, and an unknown namespace or malformed
//! arguments are refused too. Namespaces are never created by a command.

use serde_json::{json, Value};

use crate::adapter::BoxFuture;
use crate::broadcast::BroadcastOperator;
use crate::payload::Payload;
use crate::server::Server;
use crate::socket::{AckSender, Socket};

/// Registers the four commands on a dashboard's socket.
pub(super) fn register(socket: &Socket, server: &Server, readonly: bool) {
    for command in ["emit", "join", "leave", "_disconnect"] {
        let server = server.clone();
        socket.on(command, move |_, args, ack| {
            if readonly {
                return answer(ack, Err("the admin UI is read-only".to_owned()));
            }
            run(command, &server, args, ack);
        });
    }
}

fn answer(ack: Option<AckSender>, outcome: Result<Option<usize>, String>) {
    let Some(ack) = ack else { return };
    ack.send(match outcome {
        Ok(Some(count)) => json!({ "ok": true, "count": count }),
        Ok(None) => json!({ "ok": true }),
        Err(error) => json!({ "error": error }),
    });
}

/// The targets of `(nsp, filter)`: every socket of an existing namespace, or those in room
/// `filter` (absent, null or empty: no filter).
fn targets(
    server: &Server,
    nsp: &Value,
    filter: Option<&Value>,
) -> Result<BroadcastOperator, String> {
    let nsp = nsp.as_str().ok_or("the namespace must be a string")?;
    let ns = server
        .existing(nsp)
        .ok_or_else(|| format!("unknown namespace {nsp:?}"))?;
    let op = ns.broadcast();
    match filter {
        None | Some(Value::Null) => Ok(op),
        Some(Value::String(room)) if room.is_empty() => Ok(op),
        Some(Value::String(room)) => Ok(op.to([room.as_str()])),
        Some(_) => Err("the filter must be a room name".to_owned()),
    }
}

fn room_name(value: Option<&Value>) -> Result<&str, String> {
    match value.and_then(Value::as_str) {
        Some(room) if !room.is_empty() => Ok(room),
        _ => Err("the room must be a non-empty string".to_owned()),
    }
}

/// Starts `command`; the bulk operations are counted once their room supervisors answered.
fn run(command: &'static str, server: &Server, payload: Payload, ack: Option<AckSender>) {
    let Payload { mut args, binary } = payload;
    let started: Result<Option<BoxFuture<usize>>, String> = (|| {
        let nsp = args.first().cloned().unwrap_or(Value::Null);
        match command {
            "emit" => {
                let op = targets(server, &nsp, args.get(1))?;
                let event = args
                    .get(2)
                    .and_then(Value::as_str)
                    .ok_or("the event name must be a string")?
                    .to_owned();
                let rest = args.split_off(args.len().min(3));
                op.emit(&event, Payload { args: rest, binary })
                    .map_err(|e| e.to_string())?;
                Ok(None)
            }
            "join" | "leave" => {
                let op = targets(server, &nsp, args.get(2))?;
                let room = room_name(args.get(1))?.to_owned();
                Ok(Some(if command == "join" {
                    op.sockets_join([room])
                } else {
                    op.sockets_leave([room])
                }))
            }
            _ => {
                let op = targets(server, &nsp, args.get(2))?;
                let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
                Ok(Some(op.disconnect_sockets(close)))
            }
        }
    })();
    match started {
        // Awaited even when nobody asked for the count: the local adapter's room supervisors skip
        // a request whose answer was dropped before they took it.
        Ok(Some(done)) => {
            actix_rt::spawn(async move { answer(ack, Ok(Some(done.await))) });
        }
        Ok(None) => answer(ack, Ok(None)),
        Err(e) => answer(ack, Err(e)),
    }
}
