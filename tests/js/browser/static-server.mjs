// A tiny static server for examples/hello/index.html: serves the page at / and the ESM build of
// socket.io-client (from this directory's npm packages, no CDN) at /socket.io.esm.min.js, on
// 127.0.0.1:5500 — the origin examples/hello.rs allows.
//
//   node tests/js/browser/static-server.mjs [port]      # manual use; Ctrl-C stops it
//
// The browser test imports startStaticServer().

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, "..", "..", "..");
export const PAGE_PORT = 5500;

const FILES = {
  "/": { file: path.join(REPO_ROOT, "examples", "hello", "index.html"), type: "text/html; charset=utf-8" },
  "/index.html": { file: path.join(REPO_ROOT, "examples", "hello", "index.html"), type: "text/html; charset=utf-8" },
  "/socket.io.esm.min.js": {
    file: path.join(here, "..", "node_modules", "socket.io-client", "dist", "socket.io.esm.min.js"),
    type: "text/javascript; charset=utf-8",
  },
};

/** Starts the server on 127.0.0.1:`port`; resolves { url, requests, close() } (rejects on EADDRINUSE). */
export function startStaticServer(port = PAGE_PORT) {
  const requests = [];
  const server = createServer(async (req, res) => {
    const pathname = new URL(req.url, "http://127.0.0.1").pathname;
    requests.push(pathname);
    const entry = FILES[pathname];
    if (!entry || req.method !== "GET") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    try {
      const body = await readFile(entry.file);
      res.writeHead(200, { "content-type": entry.type, "cache-control": "no-store" }).end(body);
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err) =>
      reject(new Error(`static server: cannot listen on 127.0.0.1:${port} (${err.code}); the hello page must be served from that origin`)),
    );
    server.listen(port, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".map": "application/json",
};

/**
 * Serves the files under `dir` (`/` is index.html) on 127.0.0.1:`port` (0: any free port); resolves
 * { url, requests, close() }. Paths that leave `dir` and unknown files get 404.
 */
export function serveDirectory(dir, port = 0) {
  const root = path.resolve(dir);
  const requests = [];
  const server = createServer(async (req, res) => {
    const pathname = decodeURIComponent(new URL(req.url, "http://127.0.0.1").pathname);
    requests.push(pathname);
    const file = path.resolve(root, "." + (pathname === "/" ? "/index.html" : pathname));
    const type = TYPES[path.extname(file)];
    if (req.method !== "GET" || !file.startsWith(root + path.sep) || !type) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        requests,
        close: () =>
          new Promise((r) => {
            server.closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? PAGE_PORT);
  const s = await startStaticServer(port);
  console.log(`serving examples/hello on ${s.url}/`);
}
