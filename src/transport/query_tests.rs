//! The endpoint's one-pass query reading gives what `query_param` gives for each of its names.

use super::EngineQuery;
use crate::handshake::query_param;

#[test]
fn reads_what_query_param_reads() {
    let queries = [
        "",
        "EIO=4&transport=polling&t=PXz1&sid=lv_VI97HAXpY6yYWAAAC",
        "sid=abc&transport=websocket&EIO=4",
        "transport=polling&transport=websocket",
        "transport=pol%6Cing&sid=a%2Bb&EIO=4",
        "sid=a+b&EIO=%34",
        "transport&sid=&EIO",
        "EIO=4=5&&transport=polling&",
        "x=%&transport=polling",
        "Sid=upper&SID=x&sid=lower",
        "é=1&transport=pollé",
    ];
    for query in queries {
        let q = EngineQuery::parse(query);
        assert_eq!(q.transport, query_param(query, "transport"), "{query:?}");
        assert_eq!(q.sid, query_param(query, "sid"), "{query:?}");
        assert_eq!(q.eio, query_param(query, "EIO"), "{query:?}");
    }
}
