// The load generator cannot rot: a few seconds of its smoke run against the broker (join, publish,
// fan-out, acks) must deliver everything and lose nothing. The full benchmark is not a test; it is
// `roomcast-load compare` (benches/README.md).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { startBroker, REPO_ROOT } from "./lib/broker.mjs";

function loadBinary() {
  const target = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(REPO_ROOT, "target");
  const binary = path.join(target, "debug", "roomcast-load");
  assert.ok(existsSync(binary), `roomcast-load not found at ${binary}: cargo build --bin roomcast-load`);
  return binary;
}

function run(binary, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`roomcast-load did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("load generator smoke run against the broker", () => {
  it("delivers every published message and every ack, losing nothing", async () => {
    const binary = loadBinary();
    const broker = await startBroker();
    try {
      const { code, stdout, stderr } = await run(binary, ["smoke", "--url", broker.url, "--json"], 60000);
      assert.equal(code, 0, `smoke failed:\n${stdout}\n${stderr}`);
      const report = JSON.parse(stdout);
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      const phase = report.fanout.phase;
      assert.ok(phase.expected > 0, "something was published");
      assert.equal(phase.delivered, phase.expected, "every delivery arrived");
      assert.equal(phase.lost + phase.duplicates, 0, "nothing lost or duplicated");
    } finally {
      assert.deepEqual(await broker.stop(), { code: 0, signal: null });
    }
  });
});
