// Smoke test of the demo in headless Chromium: a newcomer signs in through the
// development IdP and lands in the demo app. Screenshots go to $SHOTS (default /tmp/shots).
// Usage: node tests/browser/demo-smoke.mjs http://127.0.0.1:8080
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const base = process.argv[2] || "http://127.0.0.1:8080";
const shots = process.env.SHOTS || "/tmp/shots";
mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage();
let step = 0;
const shot = async (name) => page.screenshot({ path: `${shots}/${String(++step).padStart(2, "0")}-${name}.png`, fullPage: true });
try {
  await page.goto(base + "/");
  await shot("login");
  await page.fill("#login", "alice@example.com");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/demo\/idp\/sso/);
  await shot("dev-idp-picker");
  await page.check("input[value='alice@example.com']");
  await page.click("button[type=submit]");
  await page.waitForURL(/\/$|\/apps/);
  await shot("signed-in");
  await page.click("a[href='/apps/work']");
  await page.waitForURL(/\/demo\/app\/work/);
  await shot("demo-app");
  const user = await page.textContent("#user");
  if (user.trim() !== "alice@example.com") throw new Error(`demo app shows ${user}`);
  console.log("browser smoke: 1 passed, 0 failed");
} catch (e) {
  await shot("failure");
  console.error(e);
  console.log("browser smoke: 0 passed, 1 failed");
  process.exitCode = 1;
} finally {
  await browser.close();
}
