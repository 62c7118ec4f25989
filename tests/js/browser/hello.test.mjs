// The seed's hello example (issue 3, section 5) in a real browser: examples/hello.rs serves Socket.IO
// with CORS for http://127.0.0.1:5500; examples/hello/index.html, served from that origin together with
// the ESM build of socket.io-client from node_modules, connects from headless Chromium and logs
// "Connected!, from. Client", "id=<socket.id>" and the server's greeting "Hello <socket id> from. Server".
//
// Needs `cargo build --example hello` and Debian's chromium (apt-get install -y chromium); port 5500 must
// be free (it is the page origin the example allows).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { REPO_ROOT, startStaticServer, PAGE_PORT } from "./static-server.mjs";
import { launchChromium } from "./chromium.mjs";

const PAGE_ORIGIN = `http://127.0.0.1:${PAGE_PORT}`;
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 5000;

function helloBinary() {
  const target = process.env.CARGO_TARGET_DIR ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : path.join(REPO_ROOT, "target");
  const binary = path.join(target, "debug", "examples", "hello");
  if (!existsSync(binary)) throw new Error(`${binary} not found: build it with \`cargo build --example hello\``);
  return binary;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the hello example (`args`), resolves { url, stop() } once it printed "Listening". */
function startHello(args) {
  const child = spawn(helloBinary(), args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  const running = () => child.exitCode === null && child.signalCode === null;
  const signal = (s) => {
    if (!running()) return;
    try {
      process.kill(child.pid, s);
    } catch (err) {
      if (err.code !== "ESRCH") throw err;
    }
  };
  const stop = async () => {
    signal("SIGTERM");
    const killer = setTimeout(() => signal("SIGKILL"), STOP_TIMEOUT_MS);
    const r = await exited;
    clearTimeout(killer);
    return r;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal("SIGKILL");
      reject(new Error(`hello did not print "Listening" within ${START_TIMEOUT_MS} ms\n${out}`));
    }, START_TIMEOUT_MS);
    const onData = (chunk) => {
      out += chunk;
      const m = /Listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], port: Number(m[2]), stop, output: () => out });
      }
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", (c) => (out += c));
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    exited.then(({ code, signal: sig }) => {
      clearTimeout(timer);
      reject(new Error(`hello exited (code ${code}, signal ${sig}) before listening\n${out}`));
    });
  });
}

async function handshake(url, origin) {
  const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, {
    headers: { origin },
    signal: AbortSignal.timeout(5000),
  });
  const body = await res.text();
  return { status: res.status, allowOrigin: res.headers.get("access-control-allow-origin"), body };
}

describe("examples/hello", () => {
  it("listens on port 8000 by default and allows the origin http://127.0.0.1:5500 only", async () => {
    const hello = await startHello([]);
    try {
      assert.equal(hello.port, 8000);
      const ok = await handshake(hello.url, PAGE_ORIGIN);
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.allowOrigin, PAGE_ORIGIN);
      const other = await handshake(hello.url, "http://example.com");
      assert.notEqual(other.allowOrigin, "*");
      assert.notEqual(other.allowOrigin, "http://example.com");
    } finally {
      await hello.stop();
    }
  });

  it("the page in headless Chromium logs the connection, its id and the server's greeting for that id", async () => {
    const hello = await startHello(["--port", String(await freePort())]);
    let page;
    let browser;
    try {
      page = await startStaticServer(PAGE_PORT);
      browser = await launchChromium();
      const tab = await browser.openPage(`${page.url}/?server=${encodeURIComponent(hello.url)}`);
      const GREETING = /^Hello (\S+) from\. Server$/;
      const lines = await tab.waitForLines(
        (l) => l.includes("Connected!, from. Client") && l.some((x) => x.startsWith("id=")) && l.some((x) => GREETING.test(x)),
      );
      assert.deepEqual(tab.exceptions, [], "no uncaught exception in the page");
      assert.equal(lines.length, 3, `exactly three lines: ${JSON.stringify(lines)}`);
      assert.equal(lines[0], "Connected!, from. Client");
      const id = /^id=(.+)$/.exec(lines[1])?.[1];
      assert.ok(id, `second line is id=<socket.id>: ${JSON.stringify(lines)}`);
      const greeted = GREETING.exec(lines[2])?.[1];
      assert.equal(greeted, id, "the greeting names the client's own socket id");
      assert.match(id, /^[A-Za-z0-9_-]{20}$/);
      // the page also wrote the lines into its DOM
      assert.equal(await tab.evaluate('document.getElementById("log").textContent'), lines.join("\n") + "\n");
      // socket.io-client came from the local npm package, not a CDN
      assert.ok(page.requests.includes("/socket.io.esm.min.js"), `requests: ${JSON.stringify(page.requests)}`);
      assert.equal(await tab.evaluate("location.origin"), PAGE_ORIGIN);
    } finally {
      await browser?.close();
      await page?.close();
      await hello.stop();
    }
  });
});
