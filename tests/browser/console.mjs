// The Configuration Manager in headless Chromium, at 375 px (a phone) and 1280 px (a
// laptop): every console page renders without a JavaScript error or a failed request, and
// without sideways scrolling of the page; an admin assigns a license and an extension on a
// phone; a tenant admin signs in through the demo company's SSO. Screenshots go to $SHOTS.
// Usage: node tests/browser/console.mjs http://127.0.0.1:8080
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const base = process.argv[2] || "http://127.0.0.1:8080";
const shots = (process.env.SHOTS || "/tmp/shots") + "/console";
mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

let passed = 0, failed = 0;
const check = (ok, what) => { if (ok) { passed++; } else { failed++; console.error("FAIL: " + what); } };

async function newPage(width) {
  const ctx = await browser.newContext({ viewport: { width, height: width < 500 ? 740 : 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push("pageerror: " + e.message));
  page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
  page.on("requestfailed", (r) => errors.push("requestfailed: " + r.url()));
  page.on("response", (r) => { if (r.status() >= 500) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  return { ctx, page, errors };
}

async function signIn(page) {
  await page.goto(base + "/admin/login");
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "demo-operator-password");
  await Promise.all([page.waitForURL(base + "/admin"), page.click("form[action='/admin/login'] button[type=submit]")]);
}

/// No sideways scrolling of the page itself (wide tables scroll inside their box).
async function fits(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
}

const pages = [
  ["dashboard", "/admin"],
  ["overview", "/admin/tenants/demo"],
  ["idp", "/admin/tenants/demo/idp"],
  ["okta", "/admin/tenants/demo/okta"],
  ["users", "/admin/tenants/demo/users"],
  ["licenses", "/admin/tenants/demo/licenses"],
  ["provisioning", "/admin/tenants/demo/scim-tokens"],
  ["sign-ins", "/admin/tenants/demo/diagnostics"],
  ["lab", "/admin/tenants/demo/lab"],
  ["audit", "/admin/tenants/demo/audit"],
  ["settings", "/admin/tenants/demo/settings"],
  ["admins", "/admin/admins"],
  ["api-tokens", "/admin/api-tokens"],
];

try {
  for (const width of [375, 1280]) {
    const { ctx, page, errors } = await newPage(width);
    await signIn(page);
    // The user page of alice, found through the search.
    await page.goto(base + "/admin/tenants/demo/users?q=alice");
    const alice = await page.getAttribute("table.users a", "href");
    for (const [name, path] of [...pages, ["user", alice]]) {
      errors.length = 0;
      const resp = await page.goto(base + path);
      await page.waitForLoadState("load");
      check(resp && resp.status() === 200, `${width}px ${name}: HTTP ${resp && resp.status()}`);
      check(errors.length === 0, `${width}px ${name}: ${errors.join("; ")}`);
      check(await fits(page), `${width}px ${name}: the page scrolls sideways`);
      check(await page.locator("h1").first().isVisible(), `${width}px ${name}: no heading`);
      await page.screenshot({ path: `${shots}/${width}-${name}.png`, fullPage: true });
    }
    await ctx.close();
  }

  // On a phone: assign carol a license and an extension, and see the Federation ID.
  {
    const { ctx, page, errors } = await newPage(375);
    await signIn(page);
    await page.goto(base + "/admin/tenants/demo/users?q=carol");
    await Promise.all([page.waitForLoadState("load"), page.click("table.users a")]);
    check((await page.textContent("body")).includes("carol@example.com"), "carol's Federation ID shown");
    await page.selectOption("#license", "X4");
    await Promise.all([page.waitForLoadState("load"), page.click("form[action$='/licenses'] button[type=submit]")]);
    check((await page.textContent(".notice")).includes("X4 assigned"), "license assigned on a phone");
    const ext = String(1000 + Math.floor(Math.random() * 8999));
    await page.fill("#extension", ext);
    await Promise.all([page.waitForLoadState("load"), page.click("form[action$='/numbers'] button[type=submit]")]);
    check((await page.textContent(".notice")).includes("Saved the extension"), "extension saved");
    check(await fits(page), "375px user page after actions");
    check(errors.length === 0, "phone actions: " + errors.join("; "));
    await page.screenshot({ path: `${shots}/375-user-after-assign.png`, fullPage: true });
    // The copy button works without errors (clipboard may be refused headless; no exception).
    await page.goto(base + "/admin/tenants/demo/okta");
    await page.click("button.copy");
    check(errors.length === 0, "copy button: " + errors.join("; "));
    await ctx.close();
  }

  // A tenant admin signs in through the demo company's SSO (alice administers "demo").
  {
    const { ctx, page, errors } = await newPage(1280);
    await page.goto(base + "/admin/login");
    await page.click("details.sso-login summary");
    await page.fill("#org", "demo");
    await Promise.all([page.waitForURL(/\/demo\/idp\/sso/), page.click("form[action='/admin/sso'] button[type=submit]")]);
    await page.check("input[value='alice@example.com']");
    await Promise.all([page.waitForURL(base + "/admin", { timeout: 15000 }), page.click("button[type=submit]")]);
    const who = await page.textContent(".topbar .who .badge");
    check(who.includes("alice@example.com") && who.includes("tenant admin"), "signed in through SSO as " + who);
    const orgs = await page.locator("table tbody tr").count();
    check(orgs === 1, `a tenant admin sees one organization (${orgs})`);
    check(errors.length === 0, "console SSO: " + errors.join("; "));
    await page.screenshot({ path: `${shots}/1280-sso-signed-in.png`, fullPage: true });
    await ctx.close();
  }
} catch (e) {
  failed++;
  console.error(e);
}
await browser.close();
console.log(`browser console: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
