// The Socket.IO Admin UI against roomcast in a real browser (issue 8, item 9): the UI's own static build
// from the @socket.io/admin-ui npm package is served on a loopback port, the broker runs with the Admin
// UI enabled and CORS allowing that origin with credentials, a few socket.io-client sockets join rooms,
// and headless Chromium opens the UI, logs in through its connection form, and the test reads from the
// page that roomcast's server id, namespaces, sockets and rooms are shown. Screenshots of the dashboard,
// sockets and rooms pages go to target/test-output/ (admin-ui*.png).
//
// Needs `cargo build --bin roomcast`, `npm ci` in tests/js and Debian's chromium. The UI's stylesheet
// links to Google Fonts and jsDelivr are refused inside the browser (no network), so icons show as
// boxes; everything else comes from the package.

import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { serveDirectory } from "./static-server.mjs";
import { launchChromium } from "./chromium.mjs";
import { startBroker, ask, REPO_ROOT } from "../broker/lib/broker.mjs";
import { waitFor } from "../lib/server.mjs";

const UI_DIST = path.join(REPO_ROOT, "tests", "js", "node_modules", "@socket.io", "admin-ui", "ui", "dist");
const OUTPUT = path.join(process.env.CARGO_TARGET_DIR ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : path.join(REPO_ROOT, "target"), "test-output");
/** bcrypt of "changeit", cost 4. */
const HASH = "$2a$04$JiFCNFAZPmesR8K67hDSqepUrPDerR6YzeDh.RIiMMAH7M4ZzGJgK";
const SERVER_ID = "roomcast-in-chromium";
const UI_TIMEOUT_MS = 20000;

let site;
let broker;
let browser;
let page;
const clients = [];

/** The page's visible text (bounded poll: the UI signals nothing the test could await). */
function pageText() {
  return page.evaluate("document.body ? document.body.innerText : ''");
}

/** Waits until the page's text satisfies `pred`; on timeout, saves admin-ui-failure.png and says what the page showed. */
async function waitForText(what, pred) {
  try {
    return await waitFor(async () => {
      const text = await pageText();
      return pred(text) ? text : false;
    }, { timeout: UI_TIMEOUT_MS, interval: 100, what });
  } catch (err) {
    const shot = await screenshot("admin-ui-failure.png").catch((e) => `no screenshot: ${e.message}`);
    const text = await pageText().catch(() => "");
    throw new Error(`${err.message}\npage (${shot}):\n${text.slice(0, 2000)}\nconsole: ${JSON.stringify(page.lines.slice(-20))}\nexceptions: ${JSON.stringify(page.exceptions)}`);
  }
}

/** Saves a screenshot once the UI's page transition (Vue's *-enter-active / *-leave-active) is over. */
async function screenshot(name) {
  await waitFor(() => page.evaluate("!document.querySelector('[class*=\"-enter-active\"], [class*=\"-leave-active\"]')"), {
    timeout: UI_TIMEOUT_MS,
    what: "the page transition to end",
  }).catch(() => {}); // a screenshot mid-transition still shows what failed
  mkdirSync(OUTPUT, { recursive: true });
  const file = path.join(OUTPUT, name);
  writeFileSync(file, await page.screenshot());
  return file;
}

before(async () => {
  site = await serveDirectory(UI_DIST);
  broker = await startBroker({
    cors: { origins: [site.url], credentials: true },
    admin_ui: { enabled: true, username: "admin", password_hash: HASH, server_id: SERVER_ID },
    namespaces: [{ name: "/" }, { name: "/chat" }],
  });
  const alice = await broker.connect("/");
  const bob = await broker.connect("/", { transports: ["polling"] });
  const carol = await broker.connect("/chat");
  assert.equal((await ask(alice, "join", ["news", "sports"])).ok, true);
  assert.equal((await ask(bob, "join", "news")).ok, true);
  assert.equal((await ask(carol, "join", "lobby")).ok, true);
  clients.push(alice, bob); // the UI's Sockets and Rooms pages show namespace "/" first
  browser = await launchChromium({
    extraArgs: ["--window-size=1400,1000", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
  });
  page = await browser.openPage(site.url + "/");
});

after(async () => {
  await browser?.close();
  broker?.closeClients();
  const r = await broker?.stop();
  await site?.close();
  assert.deepEqual(r, { code: 0, signal: null }, "the broker exits 0 on SIGTERM");
});

describe("the Admin UI in Chromium", () => {
  it("logs in through the UI's connection form and shows roomcast's server, sockets and rooms", async () => {
    await waitFor(() => page.evaluate("document.querySelectorAll('.v-dialog form input').length >= 3"), {
      timeout: UI_TIMEOUT_MS,
      what: "the connection form",
    });
    // Vue's v-model listens to `input` events; the form's submit button connects.
    await page.evaluate(`(() => {
      const inputs = document.querySelectorAll('.v-dialog form input');
      const fill = (el, v) => { el.value = v; el.dispatchEvent(new Event('input', { bubbles: true })); };
      fill(inputs[0], ${JSON.stringify(broker.url)});
      fill(inputs[1], 'admin');
      fill(inputs[2], 'changeit');
      return true;
    })()`);
    await waitFor(() => page.evaluate("!document.querySelector('.v-dialog form button[type=submit]').disabled"), {
      timeout: UI_TIMEOUT_MS,
      what: "the connect button to be enabled",
    });
    await page.evaluate("document.querySelector('.v-dialog form button[type=submit]').click(), true");

    // Dashboard, from roomcast's server_stats: clients by transport (alice, carol and the UI itself
    // on WebSocket, bob polling), one healthy server, the namespaces with their socket counts.
    const flat = (t) => t.replace(/\s+/g, " ");
    const dashboard = await waitForText("the dashboard with roomcast's stats", (t) =>
      /WebSocket 3 75\.0 %/.test(flat(t)) &&
      /HTTP long-polling 1 25\.0 %/.test(flat(t)) &&
      /HEALTHY 1 100\.0 %/.test(flat(t)) &&
      [/ \/ 2 /, / \/admin 1 /, / \/chat 1 /].every((re) => re.test(` ${flat(t)} `)));
    assert.ok(!/invalid credentials/i.test(dashboard));
    const session = await page.evaluate("localStorage.getItem('session_id')");
    assert.match(session ?? "", /^[0-9a-f]{16}$/, "the UI stored the session id roomcast gave it");

    // Sockets page: every client socket by id, and one that connects now (a live socket_connected).
    await page.evaluate("location.hash = '#/sockets/', true");
    await waitForText("the sockets page listing the clients of /", (t) => clients.every((c) => t.includes(c.id)));
    const dave = await broker.connect("/");
    await ask(dave, "join", "late-room");
    await waitForText("the sockets page listing a socket that connected after login", (t) => t.includes(dave.id));
    await screenshot("admin-ui-sockets.png");

    // Rooms page: the rooms the clients joined.
    await page.evaluate("location.hash = '#/rooms/', true");
    await waitForText("the rooms page listing news, sports and late-room", (t) =>
      ["news", "sports", "late-room"].every((r) => t.includes(r)));
    await screenshot("admin-ui-rooms.png");

    // Servers page: the stats roomcast reports (server id, its healthy status).
    await page.evaluate("location.hash = '#/servers/', true");
    const servers = await waitForText("the servers page naming roomcast's server id", (t) => t.includes(SERVER_ID) && /healthy/i.test(t));
    await screenshot("admin-ui-servers.png");
    assert.ok(/HEALTHY/.test(servers));

    // Back to the dashboard, which now counts dave too (and charts his connection).
    await page.evaluate("location.hash = '#/', true");
    await waitForText("the dashboard counting the socket that connected after login", (t) =>
      /WebSocket 4 80\.0 %/.test(flat(t)) && / \/ 3 /.test(` ${flat(t)} `));
    await screenshot("admin-ui.png");
    assert.deepEqual(page.exceptions, [], "no exception in the page");
  });
});
