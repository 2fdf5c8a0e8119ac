#!/usr/bin/env node
// Checks mirrorgate's live page (`GET /` on the admin listener) in a real
// browser: Debian's headless Chromium, driven by playwright-core.
//
//   node tests/browser/live_page.mjs --tools "$(scripts/browser-tools.sh)" \
//     --admin http://127.0.0.1:9900 --screenshot target/live-page.png \
//     [--proxy http://127.0.0.1:8080/some/path] [--moving h1,h2,h3] \
//     [--mirror api/staging] [--expect-where 'json:$.total'] \
//     [--expect-noise 'json:$.generated_at'] [--color-scheme light|dark] \
//     [--chromium /usr/bin/chromium] [--timeout 90]
//
// Passes (exit 0, one JSON line on stdout) when, within --timeout seconds:
//   - the page loads with its Content-Security-Policy and says it is live;
//   - the request totals of every protocol in --moving (default: all
//     three) go up on the page, with a rate above zero shown, while
//     traffic flows (sent by the caller, and by this script to --proxy
//     when given: plain HTTP/1.1 GETs);
//   - with --mirror SERVICE/MIRROR, that mirror's row shows copies sent;
//   - with --expect-where, that difference (e.g. `json:$.total`) is shown
//     as a real difference, both among the fields that differ and in a
//     latest differing exchange; with --expect-noise, that one is shown
//     as noise in an exchange;
//   - and the browser logged no console error, no page error, no failed
//     request and no error status.
// Then it writes a full-page screenshot to --screenshot. On failure it
// exits 1, saying what did not happen, with a screenshot of the page as
// it was at --screenshot with `.failed.png` in place of `.png`.

import { createRequire } from "node:module";
import path from "node:path";

import { findChromium, parseArgs } from "./script_args.mjs";

const USAGE = "usage: live_page.mjs --tools DIR --admin URL --screenshot PNG [options] (see the comment at the top)";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...parts) => console.error("live_page:", ...parts);

// Polls `probe` every 200 ms until it returns something truthy; throws
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

// Plain GETs to `url` until stopped, at most 5 a second and 5,000 in all.
function sendTraffic(url) {
  const traffic = { stop: false, sent: 0, failed: 0, done: null };
  traffic.done = (async () => {
    while (!traffic.stop && traffic.sent < 5000) {
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        traffic.sent += 1;
      } catch {
        traffic.failed += 1;
      }
      await sleep(200);
    }
  })();
  return traffic;
}

async function main() {
  const args = parseArgs(process.argv.slice(2), { defaults: { moving: "h1,h2,h3", timeout: "90", "color-scheme": "light" }, required: ["tools", "admin", "screenshot"], usage: USAGE });
  const require = createRequire(path.join(path.resolve(args.tools), "package.json"));
  const { chromium } = require("playwright-core");
  const admin = args.admin.replace(/\/$/, "");
  const deadline = Date.now() + Number(args.timeout) * 1000;
  const moving = args.moving.split(",").filter(Boolean);
  const problems = [];

  const browser = await chromium.launch({ executablePath: args.chromium || findChromium(), headless: true });
  let page;
  let traffic = null;
  try {
    const context = await browser.newContext({
      viewport: { width: 1440, height: 900 },
      colorScheme: args["color-scheme"],
    });
    page = await context.newPage();
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console error: ${message.text()}`);
      else if (message.type() === "warning") log(`console warning: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("requestfailed", (request) =>
      problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
    page.on("response", (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
    });

    const response = await page.goto(admin + "/", { waitUntil: "load" });
    if (!response || response.status() !== 200) throw new Error(`GET / answered ${response && response.status()}`);
    const csp = (await response.allHeaders())["content-security-policy"] || "";
    if (!csp.includes("script-src 'sha256-")) throw new Error(`no script hash in the page's CSP: ${JSON.stringify(csp)}`);

    await waitFor("the page says it is live", deadline, () =>
      page.$eval("[data-test=status]", (e) => ({ ok: e.dataset.state === "live", state: e.dataset.state, text: e.textContent })));
    const readTiles = () => page.$$eval("[data-test=requests]", (tiles) =>
      Object.fromEntries(tiles.map((t) => [t.dataset.protocol, { total: Number(t.dataset.total), rate: t.dataset.rate === "" ? null : Number(t.dataset.rate) }])));
    const before = await readTiles();
    log("totals on the page before:", JSON.stringify(before));

    if (args.proxy) traffic = sendTraffic(args.proxy);
    const topRate = Object.fromEntries(moving.map((p) => [p, 0]));
    const moved = await waitFor(`the totals and rates of ${moving.join(", ")} move on the page`, deadline, async () => {
      const now = await readTiles();
      for (const p of moving) topRate[p] = Math.max(topRate[p], now[p]?.rate || 0);
      const ok = moving.every((p) => now[p] && now[p].total > before[p].total && topRate[p] > 0);
      return { ok, now, topRate };
    });
    log("totals on the page after:", JSON.stringify(moved.now), "highest rates:", JSON.stringify(topRate));

    if (args.mirror) {
      const [service, mirror] = args.mirror.split("/");
      await waitFor(`mirror ${args.mirror} shows copies sent`, deadline, () =>
        page.$$eval("[data-test=mirror]", (rows, [service, mirror]) => {
          const row = rows.find((r) => r.dataset.service === service && r.dataset.mirror === mirror);
          const sent = row && Number(row.querySelector("[data-test=sent]").dataset.value);
          return { ok: sent > 0, sent, rows: rows.length };
        }, [service, mirror]));
    }

    if (args["expect-where"]) {
      const where = args["expect-where"];
      await waitFor(`${where} is shown as a real difference`, deadline, () =>
        page.evaluate((where) => {
          const fields = [...document.querySelectorAll("[data-test=field]")]
            .filter((f) => f.querySelector(".where").textContent === where);
          const differences = [...document.querySelectorAll("[data-test=difference]")]
            .filter((d) => d.querySelector(".where").textContent === where && d.dataset.noise === "false");
          return {
            ok: fields.length > 0 && differences.length > 0,
            fields: fields.length,
            differences: differences.length,
            shown: [...new Set([...document.querySelectorAll("[data-test=field] .where, [data-test=difference] .where")].map((e) => e.textContent))],
          };
        }, where));
    }
    if (args["expect-noise"]) {
      const where = args["expect-noise"];
      await waitFor(`${where} is shown as noise`, deadline, () =>
        page.evaluate((where) => {
          const rows = [...document.querySelectorAll("[data-test=difference]")]
            .filter((d) => d.querySelector(".where").textContent === where);
          return { ok: rows.some((d) => d.dataset.noise === "true"), noise: rows.map((d) => d.dataset.noise) };
        }, where));
    }

    if (traffic) {
      traffic.stop = true;
      await traffic.done;
      log(`sent ${traffic.sent} requests to ${args.proxy} (${traffic.failed} failed)`);
    }
    await page.screenshot({ path: args.screenshot, fullPage: true });
    if (problems.length) throw new Error(`the browser reported:\n  ${problems.join("\n  ")}`);
    console.log(JSON.stringify({ ok: true, before, after: moved.now, topRate, screenshot: args.screenshot }));
  } catch (error) {
    if (traffic) traffic.stop = true;
    if (page) {
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
