// Shared by the browser tests: Chromium as the issue asks (headless, no network services of
// its own, a fresh profile: Playwright's launch gives each run a new --user-data-dir), pages
// that record JavaScript errors and failed requests, checks that count, numbered screenshots.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

export const base = (process.argv[2] || "http://127.0.0.1:8080").replace(/\/$/, "");

export async function launch() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/// A suite: named checks, screenshots numbered in the order taken, one closing line.
export function suite(name) {
  const dir = `${process.env.SHOTS || "/tmp/shots"}/${name}`;
  mkdirSync(dir, { recursive: true });
  const t0 = Date.now();
  let passed = 0, failed = 0, n = 0;
  return {
    dir,
    check(ok, what) {
      if (ok) { passed++; console.log(`  ok   ${what}`); } else { failed++; console.error(`  FAIL ${what}`); }
      return ok;
    },
    fail(e) { failed++; console.error(e); },
    async shot(page, step) {
      const file = `${dir}/${String(++n).padStart(2, "0")}-${step}.png`;
      await page.screenshot({ path: file, fullPage: true });
      // DOC_SHOTS=DIR: also the visible part only, small enough for docs/img/.
      if (process.env.DOC_SHOTS) {
        mkdirSync(process.env.DOC_SHOTS, { recursive: true });
        await page.screenshot({ path: `${process.env.DOC_SHOTS}/${name}-${step}.png` });
      }
    },
    end() {
      console.log(`browser ${name}: ${passed} passed, ${failed} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      process.exitCode = failed || !passed ? 1 : 0;
    },
  };
}

/// A new browser context (its own cookies) and page; `errors` collects JavaScript errors,
/// console errors, failed requests and 5xx answers.
export async function newPage(browser, width = 1280) {
  const ctx = await browser.newContext({ viewport: { width, height: width < 500 ? 740 : 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push("pageerror: " + e.message));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    const url = (m.location() && m.location().url) || "";
    if (/\/favicon\.ico$/.test(url)) return; // the browser's own guess, not one of our pages' requests
    errors.push(`console: ${m.text()} ${url}`);
  });
  page.on("requestfailed", (r) => errors.push("requestfailed: " + r.url()));
  page.on("response", (r) => { if (r.status() >= 500) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  return { ctx, page, errors };
}

/// The signed-in user as `/api/session` tells this context, or null.
export async function sessionUser(page) {
  const r = await page.request.get(base + "/api/session");
  if (r.status() !== 200) return null;
  return (await r.json()).user.user_name;
}

export const text = async (page) => (await page.textContent("body")).replace(/\s+/g, " ");
