//! What a classic adapter asks the other servers on behalf of the admin API's cluster view: their
//! sockets described (REMOTE_FETCH, each with the roomcast node that holds it), and a summary of
//! how many sockets they hold and which rooms exist (SOCKETS and ALL_ROOMS, much smaller answers
//! than describing every socket). Every question fails at once while the link to Redis is down.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use crate::adapter::redis::node_socket::from_stamped;
use crate::adapter::redis::request::{Request, RequestType};
use crate::adapter::redis::requests::Requests;
use crate::adapter::redis::response::Response;
use crate::adapter::redis::wire::Targets;
use crate::adapter::{ClusterError, NodeSocket, RemoteSummary};
use crate::room::Selector;

/// The sockets of the other servers that `selector` selects, asked as server `uid` of namespace
/// `nsp`; a socket whose server is a roomcast node carries that node's id.
pub async fn remote_sockets(
    requests: Arc<Requests>,
    uid: String,
    nsp: String,
    selector: Arc<Selector>,
) -> Result<Vec<NodeSocket>, ClusterError> {
    let targets = Targets::from_selector(&selector);
    let request = |request_id| Request::Fetch {
        uid,
        request_id,
        targets,
    };
    let responses = requests.try_ask(RequestType::RemoteFetch, request).await?;
    let mut found = Vec::new();
    for response in responses {
        if let Response::Fetch { sockets, .. } = response {
            found.extend(sockets.iter().filter_map(|s| from_stamped(s, &nsp)));
        }
    }
    Ok(found)
}

/// How many sockets the other servers hold and the names of their rooms, asked as server `uid`.
/// Node's servers list each socket's own id room among their rooms: those names are dropped.
pub async fn remote_summary(
    requests: Arc<Requests>,
    uid: String,
) -> Result<RemoteSummary, ClusterError> {
    let sockets = requests.try_ask(RequestType::Sockets, |request_id| Request::Sockets {
        uid: uid.clone(),
        request_id,
        rooms: Vec::new(),
    });
    let rooms = requests.try_ask(RequestType::AllRooms, |request_id| Request::AllRooms {
        uid: uid.clone(),
        request_id,
    });
    let (sockets, rooms) = futures_util::join!(sockets, rooms);
    let ids: HashSet<String> = sockets?
        .into_iter()
        .flat_map(|r| match r {
            Response::Sockets { sockets, .. } => sockets,
            _ => Vec::new(),
        })
        .collect();
    let rooms: BTreeSet<String> = rooms?
        .into_iter()
        .flat_map(|r| match r {
            Response::AllRooms { rooms, .. } => rooms,
            _ => Vec::new(),
        })
        .filter(|room| !ids.contains(room))
        .collect();
    Ok(RemoteSummary {
        sockets: ids.len(),
        rooms,
    })
}
