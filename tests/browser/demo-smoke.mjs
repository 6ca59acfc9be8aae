// The users' flows in headless Chromium against `serve --demo`, a screenshot per step:
//  * a newcomer: the login page, home-realm discovery, the development IdP (Okta-like),
//    the ACS, the apps page, the demo app showing the user and the services;
//  * sign-out with single logout (our LogoutRequest to the IdP, its LogoutResponse back);
//  * IdP-initiated: the Okta dashboard's app tile; then IdP-initiated single logout;
//  * the refusals: bob (deactivated), carol (no license), mallory (not provisioned).
// Screenshots go to $SHOTS/users (default /tmp/shots/users).
// Usage: node tests/browser/demo-smoke.mjs http://127.0.0.1:8080
import { base, launch, newPage, sessionUser, suite, text } from "./lib.mjs";

const s = suite("users");
const browser = await launch();

/// From the login page to the dev IdP's picker and through it as `user`.
async function signInAs(page, user, step) {
  await page.goto(base + "/");
  await page.fill("#login", user);
  await Promise.all([page.waitForURL(/\/demo\/idp\/sso/), page.click("button[type=submit]")]);
  await s.shot(page, `${step}-dev-idp`);
  await page.check(`input[value='${user}']`);
  await Promise.all([page.waitForLoadState("load"), page.waitForURL((u) => !u.pathname.startsWith("/demo/idp")),
                     page.click("button[type=submit]")]);
}

try {
  // ---- a newcomer: alice
  {
    const { ctx, page, errors } = await newPage(browser);
    await page.goto(base + "/");
    await s.shot(page, "login-page");
    s.check(await page.locator("#login").isVisible(), "the login page asks for an email");
    await page.fill("#login", "alice@example.com");
    await s.shot(page, "login-typed");
    await Promise.all([page.waitForURL(/\/demo\/idp\/sso/), page.click("button[type=submit]")]);
    s.check(true, "discovery sends alice@example.com to the demo company's IdP");
    await s.shot(page, "dev-idp-picker");
    await page.check("input[value='alice@example.com']");
    await Promise.all([page.waitForURL(base + "/"), page.click("button[type=submit]")]);
    await s.shot(page, "signed-in-apps");
    const home = await text(page);
    s.check(home.includes("alice@example.com") && home.includes("Demo Company"), "the ACS signs alice in: the apps page names her");
    const apps = await page.locator("ul.apps a").count();
    s.check(apps >= 2, `alice sees her apps (${apps})`);
    s.check((await sessionUser(page)) === "alice@example.com", "/api/session shows alice");
    await Promise.all([page.waitForURL(/\/demo\/app\/work/), page.click("a[href='/apps/work']")]);
    await s.shot(page, "demo-app");
    s.check((await page.textContent("#user")).trim() === "alice@example.com", "the demo app shows the user");
    const services = (await page.textContent("#services")).trim();
    s.check(services.length > 0, `the demo app shows the services (${services})`);

    // ---- sign out: single logout through the IdP and back
    await Promise.all([page.waitForURL(/\/saml\/demo\/slo|\/logout/), page.click("a[href='/logout']")]);
    await page.waitForLoadState("load");
    await s.shot(page, "signed-out");
    const out = await text(page);
    s.check(/signed out/i.test(out), "sign-out ends at the 'Signed out' page");
    s.check((await sessionUser(page)) === null, "after sign-out /api/session has no session");
    await page.goto(base + "/");
    s.check(await page.locator("#login").isVisible(), "after sign-out / asks for an email again");
    s.check(errors.length === 0, "newcomer flow without a JavaScript error or failed request: " + errors.join("; "));
    await ctx.close();
  }

  // ---- IdP-initiated: the app tile on the Okta dashboard, then IdP-initiated single logout
  {
    const { ctx, page, errors } = await newPage(browser);
    await page.goto(base + "/demo/idp");
    await s.shot(page, "idp-dashboard");
    await page.selectOption("#user", "alice@example.com");
    await Promise.all([page.waitForURL(base + "/"), page.click("form[action='/demo/idp/sso'] button[type=submit]")]);
    await s.shot(page, "idp-initiated-signed-in");
    s.check((await text(page)).includes("alice@example.com"), "IdP-initiated: the app tile signs alice in");
    s.check((await sessionUser(page)) === "alice@example.com", "IdP-initiated: /api/session shows alice");
    await page.goto(base + "/demo/idp");
    await page.selectOption("#user2", "alice@example.com");
    await Promise.all([page.waitForLoadState("load"), page.click("form[action='/demo/idp/logout'] button[type=submit]")]);
    await page.waitForLoadState("networkidle");
    await s.shot(page, "idp-single-logout");
    s.check((await sessionUser(page)) === null, "IdP-initiated single logout ends alice's session here");
    s.check(errors.length === 0, "IdP-initiated flows without errors: " + errors.join("; "));
    await ctx.close();
  }

  // ---- the refusals, each with its own page
  for (const [user, step, want] of [
    ["bob@example.com", "deactivated", /deactivated/i],
    ["carol@example.com", "no-license", /no 8x8 license|no license is assigned/i],
    ["mallory@example.com", "not-provisioned", /not set up/i],
  ]) {
    const { ctx, page, errors } = await newPage(browser);
    await signInAs(page, user, step);
    await s.shot(page, `${step}-page`);
    const body = await text(page);
    s.check(want.test(body), `${user}: the '${step}' page (${body.slice(0, 90)})`);
    s.check(/Incident ID/.test(body), `${user}: the page gives an incident ID`);
    s.check((await sessionUser(page)) === null, `${user}: no session`);
    s.check(errors.filter((e) => !/ 403 |acs/.test(e)).length === 0, `${user}: no JavaScript error: ` + errors.join("; "));
    await ctx.close();
  }
} catch (e) {
  s.fail(e);
}
await browser.close();
s.end();
