// The Configuration Manager's flows in headless Chromium against `serve --demo`, a
// screenshot per step, at 1280 px:
//  * the operator signs in (admin@example.com, the demo's password);
//  * creates an organization and uploads its IdP's metadata with the file upload form,
//    and opens its Okta setup page;
//  * creates a user, assigns a license, sees the Federation ID on the user page;
//  * that user signs in (another browser context) and the admin ends the session: the
//    user's browser is signed out.
// Screenshots go to $SHOTS/admin (default /tmp/shots/admin). Run from the repository root
// (reads certs/dev/idp.crt for the uploaded metadata).
// Usage: node tests/browser/admin-flows.mjs http://127.0.0.1:8080
import { readFileSync } from "node:fs";
import { base, launch, newPage, sessionUser, suite, text } from "./lib.mjs";

const s = suite("admin");
const browser = await launch();
const slug = "acme" + String(Date.now() % 100000);
const user = `dave${slug.slice(4)}@example.com`;
const cert = readFileSync("certs/dev/idp.crt", "utf8").replace(/-----[A-Z ]+-----|\s+/g, "");
const issuer = `http://www.okta.com/exk${slug}`;
const metadata = `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="${issuer}">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>
      <ds:X509Certificate>${cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://acme.okta.com/app/acme_8x8/exk${slug}/sso/saml"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://acme.okta.com/app/acme_8x8/exk${slug}/sso/saml"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`;

const submit = (page, form) => Promise.all([page.waitForLoadState("load"), page.waitForNavigation(), page.click(`${form} button[type=submit]`)]);

try {
  const { ctx, page, errors } = await newPage(browser);

  // ---- sign in
  await page.goto(base + "/admin/login");
  await s.shot(page, "login");
  await page.fill("#email", "admin@example.com");
  await page.fill("#password", "demo-operator-password");
  await Promise.all([page.waitForURL(base + "/admin"), page.click("form[action='/admin/login'] button[type=submit]")]);
  await s.shot(page, "dashboard");
  s.check((await page.textContent(".topbar .who")).includes("admin@example.com"), "the operator is signed in");

  // ---- a new organization, and its IdP metadata through the file upload form
  await page.fill("#name", "Acme Inc.");
  await page.fill("#slug", slug);
  await page.fill("#email_domains", `${slug}.example`);
  await Promise.all([page.waitForURL(new RegExp(`/admin/tenants/${slug}/idp`)), page.click("form[action='/admin/tenants'] button[type=submit]")]);
  await s.shot(page, "organization-created");
  s.check(page.url().includes(`/admin/tenants/${slug}/idp`), `organization ${slug} created; the IdP page is next`);
  await page.setInputFiles("#metadata_file", { name: "okta-metadata.xml", mimeType: "application/samlmetadata+xml", buffer: Buffer.from(metadata) });
  await s.shot(page, "metadata-chosen");
  await submit(page, `form[action='/admin/tenants/${slug}/idp'][enctype='multipart/form-data']`);
  await s.shot(page, "metadata-uploaded");
  const idp = await text(page);
  s.check(idp.includes(issuer), "the uploaded metadata's entity ID is shown");
  s.check(idp.includes(`https://acme.okta.com/app/acme_8x8/exk${slug}/sso/saml`), "the uploaded metadata's SSO URL is shown");
  const api = await page.request.get(`${base}/admin/api/tenants/${slug}`);
  const t = await api.json();
  s.check(t.idp_entity_id === issuer && t.certificates >= 1, `the organization now trusts ${t.idp_entity_id} (${t.certificates} certificate)`);
  await page.goto(`${base}/admin/tenants/${slug}/okta`);
  await s.shot(page, "okta-setup");
  s.check((await text(page)).includes(`/saml/${slug}/acs`), "the Okta setup page gives the ACS URL for Okta's Single sign-on URL");

  // ---- a user, a license, the Federation ID (the demo company: its IdP lets the user in)
  await page.goto(base + "/admin/tenants/demo/users");
  await page.fill("#user_name", user);
  await page.fill("#display_name", "Dave Davis");
  await submit(page, "form[action='/admin/tenants/demo/users'][method='post']");
  await s.shot(page, "user-created");
  s.check((await text(page)).includes(user), `user ${user} created`);
  await page.selectOption("#license", "X2");
  await submit(page, "form[action$='/licenses']");
  await s.shot(page, "license-assigned");
  s.check((await page.textContent(".notice")).includes("X2 assigned"), "license X2 assigned");
  const fed = await page.locator("dt:has-text('Federation ID') + dd code").textContent();
  s.check(fed.trim() === user, `the user page shows the Federation ID ${fed}`);
  const userPage = page.url().replace(/\/licenses$/, ""); // the form posted to .../licenses

  // ---- the user signs in elsewhere; the admin ends that session
  const u = await newPage(browser);
  await u.page.goto(base + "/");
  await u.page.fill("#login", user);
  await Promise.all([u.page.waitForURL(/\/demo\/idp\/sso/), u.page.click("button[type=submit]")]);
  await u.page.check(`input[value='${user}']`);
  await Promise.all([u.page.waitForURL(base + "/"), u.page.click("button[type=submit]")]);
  await s.shot(u.page, "user-signed-in");
  s.check((await sessionUser(u.page)) === user, `${user} signs in with the new license`);
  await page.goto(userPage);
  await s.shot(page, "live-session");
  const rows = await page.locator("table form[action*='/sessions/'] button").count();
  s.check(rows === 1, `the user page lists the live session (${rows})`);
  await Promise.all([page.waitForLoadState("load"), page.waitForNavigation(), page.click("table form[action*='/sessions/'] button")]);
  await s.shot(page, "session-ended");
  s.check((await page.locator("table form[action*='/sessions/'] button").count()) === 0, "the session is gone from the user page");
  s.check((await sessionUser(u.page)) === null, "the user's browser is signed out");
  await u.page.goto(base + "/");
  await s.shot(u.page, "user-after-end");
  s.check(await u.page.locator("#login").isVisible(), "the user's next visit asks to sign in");
  s.check(u.errors.length === 0, "user side without errors: " + u.errors.join("; "));
  await u.ctx.close();

  // ---- sign out of the console
  await Promise.all([page.waitForURL(/\/admin\/login/), page.click("form[action='/admin/logout'] button")]);
  await s.shot(page, "console-signed-out");
  s.check(await page.locator("#email").isVisible(), "the admin signs out of the console");
  s.check(errors.length === 0, "admin side without a JavaScript error or failed request: " + errors.join("; "));
  await ctx.close();
} catch (e) {
  s.fail(e);
}
await browser.close();
s.end();
