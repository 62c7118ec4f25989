#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into corpus/<target>/ from the wire strings the
unit tests use (src/protocol/**, src/transport/frames.rs, src/config/tests.rs, src/broker/jwt.rs,
src/adapter/redis/*_tests.rs) and the repository's config.toml. Files are named by the SHA-1 of their content, as libFuzzer
names its own, so re-running is idempotent. Run from anywhere: python3 fuzz/seeds.py
"""
import base64, hashlib, hmac, json, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PH0 = '{"_placeholder":true,"num":0}'
PH1 = '{"_placeholder":true,"num":1}'

ENGINEIO = ['0{"sid":"x"}', "1", "1ignored", "2", "2probe", "3probe", "4", "4hello", "4héllo ☃",
            '42["a"]', "5", "5x", "6", "6junk", "b", "bAQIDBA==", "bAQIDBA", "bAQIDBA=", "b4AAA",
            "b4A==", "b/+8=", "", "9x", "7", "é4", " 4hello", "b!!!!", "bA", "b_-8=", "bAQID BA=="]
PAYLOADS = ["4hello", "4test1\x1e4test2\x1e4test3", "4hello\x1ebAQIDBA==", "b4AAA\x1e3\x1e1",
            '40\x1e42["a"]', "\x1e", "4a\x1e\x1e4b", "4a\x1e", "4ok\x1e9x\x1e4ok", "4ok\x1eb!!",
            '4{"token":"x"}\x1eb AB4=\x1e3probe\x1e6']
SOCKETIO = ["0", '0{"token":"123"}', "0/custom,", "0/custom", '0/custom,{"token":"abc"}',
            '0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}', "0/café,", "0/日本", "1", "1/admin,", "2",
            '2["foo"]', '2["message",1,"2",{"3":[true]}]', '2456["message-with-ack",1,"2",{"3":[false]}]',
            '2/admin,["bar"]', '2/admin,13["ev"]', '212["foo"]', '2[7,"x"]', '2 ["x"] ',
            '3/admin,13["bar"]', "3456[]", '4{"message":"Not authorized"}', '4/random,"oops"',
            f'52-["message",{PH0},{PH1}]', f'52-789["message",{PH0},{PH1}]',
            '51-["baz",{"nested":[{"_placeholder":true,"num":0.0}]}]',
            f'52-/admin,["baz",{PH0},{PH1}]', '50-["none"]', '510-["ten"]', f'61-15["bar",{PH0}]',
            f'61-/admin,1[{PH0}]', "abc", '9["x"]', "2{}", '2abc["x"]', "2[]", '2["connect"]', "2[{}]",
            '0"x"', "0null", "1{}", '2/admin["a","b"]', '299999999999999999999["x"]', '5x-["x"]',
            '5-["x"]', '52["x"]', "6 1-[]", '511-["x"]', '51-["x",{"_placeholder":true,"num":1}]',
            '51-["x",{"_placeholder":true,"num":-1}]', '51-["x",{"_placeholder":true,"num":0.5}]',
            '2["n",1.11111111111104e+39,-0.0,1e-320]',
            # The input that found the float drift (fixed with serde_json's float_roundtrip).
            '23[1111111111111040000000000000088015215508,12122122122e+2]']
REASSEMBLY = [f'40\x1e451-["up",{PH0}]\x1ebAQID\x1e42["after"]',
              f'452-["message",{PH0},{PH1}]\x1ebAQI=\x1ebAw==\x1e42["after"]',
              f'461-15["bar",{PH0}]\x1ebeA==\x1e450-["none"]\x1e42["next"]',
              'bAQ==', '42["a"]\x1ebeA==', f'451-["a",{PH0}]\x1e42["b"]', "42{}",
              f'451-/admin,7["a",{PH0}]\x1e2probe\x1ebAA==\x1e410-[{PH0}]']


def ws_frame(fin, opcode, payload, mask=b"\x11\x22\x33\x44", masked=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([(0x80 if masked else 0) | n])
    elif n < 65536:
        head += bytes([(0x80 if masked else 0) | 126]) + struct.pack(">H", n)
    else:
        head += bytes([(0x80 if masked else 0) | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_seeds():
    raw = [ws_frame(True, 1, b"4hello"), ws_frame(True, 2, b"\x01\x02\x03"),
           ws_frame(True, 9, b"ping"), ws_frame(True, 10, b""), ws_frame(True, 8, b"\x03\xe8"),
           ws_frame(False, 1, b"4he") + ws_frame(True, 9, b"") + ws_frame(True, 0, b"llo"),
           ws_frame(False, 1, "é".encode()[:1]) + ws_frame(True, 0, "é".encode()[1:]),
           ws_frame(True, 1, b"\xff\xfe"), ws_frame(True, 0, b"x"), ws_frame(True, 1, b"4hi", masked=False),
           ws_frame(True, 2, b"y" * 300), bytes([0x82, 0xff]) + struct.pack(">Q", 1 << 40),
           bytes([0xf7, 0xff]) + struct.pack(">Q", 1 << 40), ws_frame(True, 3, b""),
           ws_frame(True, 9, b"z" * 126), ws_frame(True, 8, b"\x03")]
    out = [bytes([0, seed, limit]) + frame for frame in raw for seed, limit in ((0, 3), (7, 0))]
    # The input whose close code depended on the split (fixed in frames.rs).
    out.append(bytes.fromhex("0a00fff7ffffff02ffffffffff"))
    # Odd mode: limit index, chunk seed, then two bytes per message (kind/pieces/scale, length).
    out += [bytes([1, 3, 5, 0x00, 10, 0x01, 4, 0x02, 3, 0x0f, 40, 0x4d, 200, 7]),
            bytes([1, 0, 1, 0x80, 3, 0x00, 20]), bytes([1, 1, 9, 0x03, 0, 0x0b, 255])]
    return out


def jwt(header, claims, secret=b"fuzz-secret"):
    enc = lambda o: base64.urlsafe_b64encode(json.dumps(o, separators=(",", ":")).encode()).rstrip(b"=")
    signing = enc(header) + b"." + enc(claims)
    sig = base64.urlsafe_b64encode(hmac.new(secret, signing, hashlib.sha256).digest()).rstrip(b"=")
    return signing + b"." + sig


def jwt_seeds():
    hs = {"alg": "HS256", "typ": "JWT"}
    tokens = [jwt(hs, {"sub": "u1", "exp": 4102444800, "rooms": ["chat:*"]}),
              jwt(hs, {"sub": "u1", "exp": 4102444800}), jwt(hs, {"sub": "u", "exp": 1}),
              jwt(hs, {"sub": "u", "exp": 4102444800}, b"other"), jwt(hs, {"exp": 4102444800}),
              jwt({"alg": "none"}, {"sub": "u", "exp": 4102444800})[:-43],
              jwt({"alg": "HS384"}, {"sub": "u", "exp": 4102444800}), b"not.a.jwt", b"", b"...",
              jwt(hs, {"sub": 5, "exp": "soon", "rooms": "x"})]
    out = [b"\x00" + t for t in tokens]
    out += [b"\x01" + bytes([f]) + s for f, s in ((0, b"u1\x00chat:9"), (1, b"u1\x00chat:9\x00chat:*\x00news"),
                                                 (3, b"u\x00r\x00*"), (0xfd, b"\xc3\xa9\x00\x00a*b*c"))]
    out += [b"\x02" + p + b"\x00" + t for p, t in ((b"chat:*", b"chat:1"), (b"a*b*c", b"aXXbYYc"),
                                                   (b"a*a", b"a"), (b"*-admin", b"x-admin"), (b"**", b""))]
    return out


def config_seeds():
    with open(os.path.join(ROOT, "config.toml"), "rb") as f:
        out = [f.read()]
    texts = ['[server]\nbind = "3000"', '[server]\npath = "/a b"', "[engine]\nping_interval_ms = 3000000000",
             "[engine]\nmax_payload_bytes = 1023", '[engine]\ntransports = ["xhr"]',
             '[engine]\nsticky_cookie = "a b"', '[cors]\norigins = ["https://a.com/"]',
             '[cors]\norigins = ["http://a:99999"]', '[admin]\nbind = "0.0.0.0:3000"',
             '[admin]\ntoken_env = "UNSET_VAR"', '[log]\nlevel = "verbose"', '[[namespaces]]\nname = "/a*b"',
             "[[namespaces]]\n[[namespaces]]", '[[namespaces]]\nauth = "jwt"\njwt_secret_env = "NOPE"',
             "[engine\n", "[server]\nbind = 1\nbind = 2", "[engine]\npingInterval = 5\n",
             '[server]\npath = "io"\nworkers = 3\n[engine]\ntransports = ["websocket"]\n',
             '[[namespaces]]\nname = "/tenant-*"\nauth = "jwt"\njwt_secret = "s"\nclient_publish = "any"']
    out += [t.encode() for t in texts]
    out.append(b'[admin]\nbind = "0.0.3\\n00"')  # a refusal on two lines before ConfigError::one_line
    out += [b'[admin]\ntoken_env = "T"\x00T=secret\nSERVER_BIND=127.0.0.1:9000',
            b"\x00ENGINE_PING_INTERVAL_MS=0", b"\x00ENGINE_TRANSPORTS=polling,websocket\nLOG_FORMAT=json",
            b"\x00CORS_CREDENTIALS=1\nENGINE_POLLING=maybe", b"\x00NAMESPACES_NAME=/x\nSERVER_NOPE=1"]
    return out


# The Redis adapter messages of src/adapter/redis/*_tests.rs: notepack bytes (hex) and JSON.
REDIS_WIRE_HEX = [
    "84a47479706503a46461746182a46f70747383a5726f6f6d7391a172a665786365707490a5666c61677380a67061636b657483a47479706502a46461746192a162c40101a36e7370a12fa3756964b030313233343536373839616263646566a36e7370a12f",
    "93a661626331323383a47479706502a46461746192a568656c6c6fa5776f726c64a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380",
    "93a661626331323383a47479706502a46461746192a46e6577732aa36e7370a52f6368617483a5726f6f6d7391a5726f6f6d31a665786365707492a5726f6f6d32a27331a5666c61677381a8766f6c6174696c65c3",
    "93a661626331323383a47479706502a46461746193a466696c65c403010203a46e616d65a36e7370a12f83a5726f6f6d7392a161a162a665786365707490a5666c61677381a8636f6d7072657373c3",
    "93a661626331323383a47479706502a46461746192a36f626a87a36f6e6501a56d696e7573ffa3626967cd012ca468616c66cb3ff8000000000000a474657874a668c3a96c6c6fa46e6f6e65c0a46c69737492c3c2a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd1388",
    "85a3756964a6616263313233a9726571756573744964a6726571343536a47479706507a67061636b657483a47479706502a46461746192a361736bc401ffa36e7370a12fa46f70747383a5726f6f6d7391a172a665786365707490a5666c61677381a774696d656f7574cd03e8",
    "83a47479706509a9726571756573744964a6726571343536a67061636b657482a26f6bc3a16e07",
    "83a47479706509a9726571756573744964a6726571343536a67061636b6574c4020908",
    "93a17582a474797065ca40000000a46461746191a16581a5666c616773d40000",
]
REDIS_WIRE_JSON = [
    '{"type":2,"uid":"0123456789abcdef","nsp":"/"}',
    '{"type":4,"data":{"opts":{"rooms":["a"],"except":["b"]},"rooms":["c"]},"uid":"0123456789abcdef","nsp":"/chat"}',
    '{"type":3,"data":{"opts":{"rooms":[],"except":[],"flags":{"timeout":100}},"packet":{"type":2,"data":["e"],"nsp":"/"},"requestId":"r1"},"uid":"0123456789abcdef","nsp":"/"}',
    '{"type":7,"data":{"opts":{"rooms":["a"],"except":["b"]},"requestId":"r1"},"uid":"0123456789abcdef","nsp":"/"}',
    '{"type":11,"data":{"requestId":"r1","clientCount":2},"uid":"0123456789abcdef","nsp":"/"}',
    '{"type":3,"data":{"opts":{"rooms":[],"except":[]},"packet":{"type":2,"data":["e"]}},"uid":"u","nsp":"/x"}',
    '{"type":99,"uid":"emitter","nsp":"/"}',
    '{"type":2,"nsp":"/"}',
    '{"type":7,"data":{"opts":{}},"uid":"u","nsp":"/"}',
    '{"type":9,"data":{"packet":1},"uid":"u","nsp":"/"}',
    '{"type":3,"data":{},"uid":"u","nsp":"/"}',
    '{"uid":"abc123","requestId":"req456","type":0,"rooms":["a","b"]}',
    '{"uid":"abc123","requestId":"req456","type":1}',
    '{"uid":"abc123","type":2,"opts":{"rooms":["a"],"except":["b"]},"rooms":["c"]}',
    '{"type":3,"opts":{"rooms":[],"except":[]},"rooms":["c"]}',
    '{"uid":"abc123","type":4,"opts":{"rooms":["a"],"except":["b"]},"close":true}',
    '{"uid":"abc123","requestId":"req456","type":2,"sid":"s1","room":"c"}',
    '{"uid":"abc123","requestId":"req456","type":4,"sid":"s1","close":false}',
    '{"uid":"abc123","requestId":"req456","type":5,"opts":{"rooms":["a"],"except":["b"]}}',
    '{"uid":"abc123","type":6,"data":["hi",1,{"x":null}]}',
    '{"uid":"abc123","requestId":"req456","type":6,"data":["hi"]}',
    '{"uid":"u","type":42}',
    '{"uid":"u","type":8,"requestId":"r","clientCount":1}',
    '{"uid":"u"}',
    '{"type":"0"}',
    '{"type":0,"requestId":"r"}',
    '{"uid":"u","requestId":"r","type":0,"rooms":[1]}',
    '{"uid":"u","type":2,"opts":5,"rooms":[]}',
    '{"uid":"u","type":6,"data":"x"}',
    '{"uid":"u","requestId":"r","type":2,"sid":"s"}',
    '{"requestId":"req456","sockets":["s1","s2"]}',
    '{"requestId":"req456","rooms":["a"]}',
    '{"requestId":"req456"}',
    '{"type":6,"requestId":"req456","data":{"ok":1}}',
    '{"type":8,"requestId":"req456","clientCount":3}',
    '{"requestId":"other","sockets":[]}',
    '{"type":7,"requestId":"r"}',
    '{"sockets":[]}',
]


def write(target, seeds):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for seed in seeds:
        data = seed.encode() if isinstance(seed, str) else seed
        with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)


def main():
    write("engineio_packet", ENGINEIO)
    write("engineio_payload", PAYLOADS)
    write("socketio_packet", SOCKETIO + ["4" + s for s in SOCKETIO[:3]])
    write("socketio_reassembly", REASSEMBLY + ["4" + s for s in SOCKETIO])
    write("ws_frames", ws_seeds())
    write("config", config_seeds())
    write("jwt", jwt_seeds())
    write("redis_wire", [bytes.fromhex(h) for h in REDIS_WIRE_HEX] + REDIS_WIRE_JSON)
    return 0


if __name__ == "__main__":
    sys.exit(main())
