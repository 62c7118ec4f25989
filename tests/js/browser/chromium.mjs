// Drives Debian's headless Chromium over the DevTools protocol with the `ws` package (no puppeteer):
// launch with --remote-debugging-port=0, read the browser endpoint from stderr, open a page target and
// collect its console messages and exceptions.
//
// The binary is $CHROMIUM, else the first of chromium / chromium-browser on PATH. A missing browser is
// an error (the test fails), never a skip: install it with `apt-get install -y chromium`
// (scripts/test-browser.sh does).

import { spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";

const LAUNCH_TIMEOUT_MS = 30000;
const CLOSE_TIMEOUT_MS = 5000;

export function chromiumBinary() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  for (const name of ["chromium", "chromium-browser"]) {
    for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
      const candidate = path.join(dir, name);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  throw new Error("chromium not found on PATH (set $CHROMIUM, or install it: apt-get install -y chromium)");
}

/** A DevTools protocol connection: send(method, params, sessionId) and event listeners. */
class Cdp {
  constructor(ws) {
    this.ws = ws;
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result);
      } else {
        for (const l of this.listeners) l(msg);
      }
    });
    ws.on("close", () => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${p.method}: DevTools connection closed`));
      }
      this.pending.clear();
    });
  }

  send(method, params = {}, sessionId = undefined, timeout = 10000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer within ${timeout} ms`));
      }, timeout);
      this.pending.set(id, { resolve, reject, method, timer });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  /** Calls fn(msg) for every event; returns a function removing the listener. */
  onEvent(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/**
 * Launches headless Chromium (with `extraArgs` added to its command line); resolves
 * { pid, cdp, openPage(url), close() }.
 * openPage resolves { lines, exceptions, waitForLines(pred, ms), evaluate(expr), screenshot(),
 * viewport(w, h) } once navigation started;
 * `lines` are the page's console messages (first argument, as text), in order.
 */
export async function launchChromium({ extraArgs = [] } = {}) {
  const binary = chromiumBinary();
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), "roomcast-chromium-"));
  const args = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--mute-audio",
    `--user-data-dir=${userDataDir}`,
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    ...extraArgs,
    "about:blank",
  ];
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const exited = new Promise((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  const cleanupDir = () => rmSync(userDataDir, { recursive: true, force: true, maxRetries: 3 });
  const running = () => child.exitCode === null && child.signalCode === null;
  const kill = (signal) => {
    if (!running()) return;
    try {
      process.kill(child.pid, signal);
    } catch (err) {
      if (err.code !== "ESRCH") throw err;
    }
  };

  let endpoint;
  try {
    endpoint = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`chromium printed no DevTools endpoint within ${LAUNCH_TIMEOUT_MS} ms\n${stderr}`)), LAUNCH_TIMEOUT_MS);
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk) => {
        stderr = (stderr + chunk).slice(-20000);
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${binary}: ${err.message}`));
      });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`chromium exited (code ${code}, signal ${signal}) before listening\n${stderr}`));
      });
    });
  } catch (err) {
    kill("SIGKILL");
    await exited;
    cleanupDir();
    throw err;
  }

  const ws = new WebSocket(endpoint, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  const cdp = new Cdp(ws);

  async function openPage(url) {
    const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
    const lines = [];
    const exceptions = [];
    const waiters = new Set();
    const notify = () => {
      for (const w of [...waiters]) {
        if (w.pred(lines)) {
          waiters.delete(w);
          clearTimeout(w.timer);
          w.resolve(lines);
        }
      }
    };
    cdp.onEvent((msg) => {
      if (msg.sessionId !== sessionId) return;
      if (msg.method === "Runtime.consoleAPICalled") {
        const a = msg.params.args?.[0];
        lines.push(a?.value !== undefined ? String(a.value) : (a?.description ?? ""));
        notify();
      } else if (msg.method === "Runtime.exceptionThrown") {
        const d = msg.params.exceptionDetails;
        exceptions.push(d?.exception?.description ?? d?.text ?? JSON.stringify(d));
        notify();
      }
    });
    await cdp.send("Runtime.enable", {}, sessionId);
    await cdp.send("Page.enable", {}, sessionId);
    const nav = await cdp.send("Page.navigate", { url }, sessionId);
    if (nav.errorText) throw new Error(`navigation to ${url} failed: ${nav.errorText}`);
    return {
      lines,
      exceptions,
      /** Resolves with `lines` once pred(lines) holds; rejects after `ms` with what was logged. */
      waitForLines(pred, ms = 20000) {
        if (pred(lines)) return Promise.resolve(lines);
        return new Promise((resolve, reject) => {
          const w = { pred, resolve };
          w.timer = setTimeout(() => {
            waiters.delete(w);
            reject(new Error(`page console after ${ms} ms: ${JSON.stringify(lines)}; exceptions: ${JSON.stringify(exceptions)}`));
          }, ms);
          waiters.add(w);
        });
      },
      /** A PNG of the page's viewport, as a Buffer. */
      async screenshot() {
        const { data } = await cdp.send("Page.captureScreenshot", { format: "png" }, sessionId, 20000);
        return Buffer.from(data, "base64");
      },
      /** Sets the viewport size (CSS pixels). */
      async viewport(width, height) {
        await cdp.send("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false }, sessionId);
      },
      async evaluate(expression) {
        const r = await cdp.send("Runtime.evaluate", { expression, returnByValue: true }, sessionId);
        if (r.exceptionDetails) throw new Error(`evaluate ${expression}: ${JSON.stringify(r.exceptionDetails)}`);
        return r.result.value;
      },
    };
  }

  async function close() {
    let asked = false;
    try {
      await cdp.send("Browser.close", {}, undefined, 2000);
      asked = true;
    } catch {
      // it may close the connection before answering
      asked = !running();
    }
    ws.terminate();
    if (!asked) kill("SIGTERM");
    const killer = setTimeout(() => kill("SIGKILL"), CLOSE_TIMEOUT_MS);
    await exited;
    clearTimeout(killer);
    cleanupDir();
  }

  return { pid: child.pid, cdp, openPage, close, get stderr() { return stderr; } };
}
