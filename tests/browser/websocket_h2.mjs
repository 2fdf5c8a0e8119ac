#!/usr/bin/env node
// A WebSocket in a real browser over HTTP/2: Debian's headless Chromium,
// driven by playwright-core, loads a page over HTTPS and the page (and
// then this script, in the page) opens `new WebSocket("wss://.../ws")`.
//
//   node tests/browser/websocket_h2.mjs --tools "$(scripts/browser-tools.sh)" \
//     --url https://localhost:8443/ --cert localhost.pem \
//     [--ws-path /ws] [--screenshot target/websocket-h2.png] \
//     [--chromium /usr/bin/chromium] [--timeout 90]
//
// Chromium sends a WebSocket over HTTP/2 (RFC 8441) only on an HTTP/2
// connection it already has to the origin, whose server advertised
// SETTINGS_ENABLE_CONNECT_PROTOCOL; else it opens an HTTP/1.1 connection
// for it. So the page must be loaded over h2 first, and whether the tunnel
// then was h2 is for the caller to check on the server side (mirrorgate's
// metrics or access log): no browser API tells.
//
// The certificate in --cert is trusted by its public key
// (--ignore-certificate-errors-spki-list), so that the origin is an
// ordinary secure one: no certificate error that could change how
// Chromium pools connections. Every host name is resolved to 127.0.0.1.
//
// Passes (exit 0, one JSON line on stdout) when, within --timeout seconds:
//   - the page answers 200 and was fetched over h2 (its navigation
//     timing's nextHopProtocol);
//   - a WebSocket the page's own script opened to --ws-path sent a frame
//     and received that same frame back;
//   - a WebSocket this script opens in the page echoes a text and a
//     binary message and closes cleanly with code 4001 (`wasClean`, the
//     code echoed);
//   - and the browser logged no console error, no page error and no
//     failed request.
// On failure it exits 1 saying what did not happen (with a screenshot at
// --screenshot's `.failed.png` when --screenshot is given).

import crypto from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

import { findChromium, parseArgs } from "./script_args.mjs";

const USAGE = "usage: websocket_h2.mjs --tools DIR --url URL --cert PEM [options] (see the comment at the top)";

// Base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo: what
// --ignore-certificate-errors-spki-list takes.
function spkiHash(pemFile) {
  const cert = new crypto.X509Certificate(fs.readFileSync(pemFile));
  const spki = cert.publicKey.export({ type: "spki", format: "der" });
  return crypto.createHash("sha256").update(spki).digest("base64");
}

// What a report shows of the WebSockets seen: frame counts, not payloads.
const summary = (sockets) => sockets.map((s) => ({
  url: s.url,
  sent: s.sent.length,
  received: s.received.length,
  echoed: s.sent.filter((p) => s.received.includes(p)).length,
  closed: s.closed,
  error: s.error,
}));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...parts) => console.error("websocket_h2:", ...parts);

// Polls `probe` every 200 ms until it returns { ok: true, ... }; throws
// `what` (with the last thing seen) at `deadline`.
async function waitFor(what, deadline, probe) {
  let last;
  while (Date.now() < deadline) {
    last = await probe();
    if (last && last.ok) return last;
    await sleep(200);
  }
  throw new Error(`timed out waiting until ${what}; last seen: ${JSON.stringify(last)}`);
}

// Runs in the page: opens a WebSocket to `url`, echoes a text and a
// binary message, closes with 4001; resolves to what happened (never
// rejects: a failure is reported in the result).
function echoInPage([url, limitMs]) {
  return new Promise((resolve) => {
    const result = { url, opened: false, echoes: [], close: null, error: null };
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      result.error = `no close within ${limitMs} ms`;
      resolve(result);
    }, limitMs);
    const text = "hello from Chromium over h2 \u2713";
    const binary = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
    const sent = [text, binary];
    ws.onopen = () => {
      result.opened = true;
      result.protocol = ws.protocol;
      result.extensions = ws.extensions;
      ws.send(text);
    };
    ws.onmessage = (event) => {
      if (typeof event.data === "string") {
        result.echoes.push({ kind: "text", same: event.data === text });
        ws.send(binary);
      } else {
        const got = new Uint8Array(event.data);
        const same = got.length === binary.length && got.every((b, i) => b === binary[i]);
        result.echoes.push({ kind: "binary", same });
        ws.close(4001, "bye");
      }
    };
    ws.onerror = () => {
      result.error = "the WebSocket reported an error";
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      result.close = { code: event.code, reason: event.reason, wasClean: event.wasClean };
      result.ok = result.opened && result.echoes.length === sent.length &&
        result.echoes.every((e) => e.same) && event.wasClean && event.code === 4001;
      resolve(result);
    };
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2), { defaults: { "ws-path": "/ws", timeout: "90" }, required: ["tools", "url", "cert"], usage: USAGE });
  const require = createRequire(path.join(path.resolve(args.tools), "package.json"));
  const { chromium } = require("playwright-core");
  const deadline = Date.now() + Number(args.timeout) * 1000;
  const pageUrl = new URL(args.url);
  const wsUrl = `wss://${pageUrl.host}${args["ws-path"]}`;
  const problems = [];

  const browser = await chromium.launch({
    executablePath: args.chromium || findChromium(),
    headless: true,
    args: [
      `--ignore-certificate-errors-spki-list=${spkiHash(args.cert)}`,
      // Loopback only, whatever the name in the URL (localhost may
      // resolve to ::1 first, where the proxy does not listen).
      "--host-resolver-rules=MAP * 127.0.0.1",
    ],
  });
  let page;
  try {
    const context = await browser.newContext();
    // Chromium asks every origin for /favicon.ico, which a WebSocket
    // backend may well refuse (426): not what is tested here, and it
    // would show as a console error. Answer it in the browser.
    await context.route("**/favicon.ico", (route) => route.fulfill({ status: 204, body: "" }));
    page = await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()}`);
      else log(`console ${message.type()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("requestfailed", (request) =>
      problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
    // Every WebSocket the page opens, with the frames it sent and got.
    const sockets = [];
    page.on("websocket", (ws) => {
      const seen = { url: ws.url(), sent: [], received: [], closed: false, error: null };
      sockets.push(seen);
      ws.on("framesent", (frame) => seen.sent.push(String(frame.payload)));
      ws.on("framereceived", (frame) => seen.received.push(String(frame.payload)));
      ws.on("socketerror", (error) => { seen.error = String(error); });
      ws.on("close", () => { seen.closed = true; });
    });

    const response = await page.goto(args.url, { waitUntil: "load", timeout: Math.max(1000, deadline - Date.now()) });
    if (!response || response.status() !== 200) throw new Error(`GET ${args.url} answered ${response && response.status()}`);
    const pageProtocol = await page.evaluate(() => performance.getEntriesByType("navigation")[0].nextHopProtocol);
    if (pageProtocol !== "h2") throw new Error(`the page came over ${JSON.stringify(pageProtocol)}, not h2`);

    const wsPath = args["ws-path"];
    const pageSocket = await waitFor(`the page's own WebSocket to ${wsPath} gets a frame it sent echoed`, deadline, () => {
      const mine = sockets.filter((s) => new URL(s.url).pathname === wsPath);
      const echoed = mine.find((s) => s.sent.some((payload) => s.received.includes(payload)));
      // A handshake refused will not be retried by the page: say so now.
      const refused = mine.find((s) => s.error && !s.received.length);
      if (!echoed && refused) throw new Error(`the page's WebSocket to ${wsPath} failed: ${refused.error}`);
      return { ok: Boolean(echoed), sockets: summary(sockets) };
    });
    log("the page's WebSockets:", JSON.stringify(pageSocket.sockets));

    const mine = await page.evaluate(echoInPage, [wsUrl, Math.max(1000, deadline - Date.now())]);
    log("the script's WebSocket:", JSON.stringify(mine));
    if (!mine.ok) throw new Error(`the WebSocket opened in the page did not echo and close cleanly: ${JSON.stringify(mine)}`);

    if (args.screenshot) await page.screenshot({ path: args.screenshot, fullPage: true });
    if (problems.length) throw new Error(`the browser reported:\n  ${problems.join("\n  ")}`);
    console.log(JSON.stringify({ ok: true, page_protocol: pageProtocol, sockets: summary(sockets), echo: mine }));
  } catch (error) {
    if (page && args.screenshot) {
      const failed = args.screenshot.replace(/\.png$/, "") + ".failed.png";
      await page.screenshot({ path: failed, fullPage: true }).catch(() => {});
      log(`screenshot of the failure: ${failed}`);
    }
    if (problems.length && !String(error.message).includes("the browser reported")) {
      log(`the browser also reported:\n  ${problems.join("\n  ")}`);
    }
    throw error;
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  log("FAILED:", error.message);
  process.exit(1);
});
