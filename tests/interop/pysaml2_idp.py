#!/usr/bin/env python3
"""Interoperability: sso-gateway against pysaml2 acting as the identity provider.

pysaml2 is an independent SAML 2.0 implementation (its own XML handling, and xmlsec1 for
signatures). This script plays the browser with `requests` and runs pysaml2's IdP
(saml2.server.Server) in-process; the IdP's SSO URL is never contacted over the network:
the script takes the redirect (or the auto-submitting form) our gateway sends the browser
to, and hands the message to pysaml2 as its SSO endpoint would.

Set-up, all through the gateway's own interfaces:
  * a key and certificate for the IdP, fresh for each run (openssl, in a temp dir);
  * the operator signs in to the console (password form) and creates an admin API token;
  * with that token: a tenant, the IdP's metadata (made by pysaml2) uploaded, settings
    (signed AuthnRequests, IdP-initiated sign-in), a license inventory, a SCIM token;
  * a user provisioned over SCIM whose Federation ID (userName) is the NameID pysaml2 sends,
    and a license assigned to it through the admin API.

Then the checks (each prints one line):
  * our SP metadata (GET /saml/{tenant}/metadata) loads into pysaml2;
  * SP-initiated, HTTP-Redirect: pysaml2 parses our AuthnRequest and verifies its query
    signature against the certificate in our metadata; a tampered request is refused;
  * pysaml2's Response, signed on the Response only, on the Assertion only, and on both,
    and with the Assertion encrypted (AES-256-CBC, RSA-OAEP) to our SP metadata's
    encryption certificate, is accepted at our ACS and `/api/session` shows the user;
    pysaml2's default 3DES encryption is refused (AES only, ADR 0011);
  * SP-initiated, HTTP-POST: pysaml2 verifies the enveloped signature of our AuthnRequest
    (and refuses it once altered);
  * IdP-initiated (an unsolicited Response, no InResponseTo) is accepted;
  * single logout: pysaml2 verifies our signed LogoutRequest (/logout) and its LogoutResponse
    brings the 'Signed out' page; we verify pysaml2's signed LogoutRequest, end the session
    and pysaml2 accepts our LogoutResponse;
  * refused as they must be: a Response signed by a key the tenant does not trust, a
    signed Response whose NameID was changed after signing, and (with "Require the
    Assertion itself to be signed") a Response signed only on the outside.

Usage: pysaml2_idp.py BASE_URL   (env OPERATOR_EMAIL, OPERATOR_PASSWORD)
Exit status 0 when every check passed. Ends with "interop: N passed, N failed".
"""

import base64
import contextlib
import functools
import html
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import warnings

import requests

warnings.filterwarnings("ignore")  # pysaml2's imports warn about cryptography's moved ciphers
logging.getLogger("saml2").setLevel(logging.CRITICAL)  # the refusals we provoke log xmlsec1 errors

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

AES256_CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"

BASE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:8080"
OPERATOR = os.environ.get("OPERATOR_EMAIL", "operator@interop.test")
PASSWORD = os.environ["OPERATOR_PASSWORD"]
TENANT = "interop"
USER = "ivy@interop.test"
IDP_ENTITY = "https://idp.interop.test/pysaml2/metadata"
IDP_SSO = "https://idp.interop.test/pysaml2/sso"
IDP_SLO = "https://idp.interop.test/pysaml2/slo"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"  ok   {what}")
    else:
        failed += 1
        print(f"  FAIL {what} {detail}")
    return ok


class Browser:
    """HTTP with a cookie jar of our own: the gateway's cookies are `Secure`, which a
    browser keeps for http://127.0.0.1 (a secure context) but Python's cookiejar drops.
    Redirects are followed by hand so that every Set-Cookie on the way is kept."""

    def __init__(self):
        self.cookies = {}
        self.http = requests.Session()

    def _keep(self, r):
        for c in r.raw.headers.getlist("Set-Cookie"):
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            attrs = rest.lower()
            if value == "" or "max-age=0" in attrs:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value

    def request(self, method, url, follow=True, **kw):
        if url.startswith("/"):
            url = BASE + url
        for _ in range(10):
            headers = dict(kw.pop("headers", {}) or {})
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            r = self.http.request(method, url, headers=headers, allow_redirects=False, timeout=30, **kw)
            self._keep(r)
            loc = r.headers.get("Location")
            if not follow or r.status_code not in (301, 302, 303, 307) or not loc:
                return r
            url = urllib.parse.urljoin(url, loc)
            if not url.startswith(BASE):
                return r  # leaving for the IdP: the caller takes it from here
            method, kw = "GET", {}
        raise RuntimeError("too many redirects")

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, **kw):
        return self.request("POST", url, **kw)


def hidden(page, name):
    m = re.search(r'name="%s"\s+value="([^"]*)"' % re.escape(name), page)
    if not m:
        m = re.search(r'value="([^"]*)"\s+name="%s"' % re.escape(name), page)
    return html.unescape(m.group(1)) if m else None


def form_action(page):
    m = re.search(r'<form[^>]*action="([^"]*)"', page)
    return html.unescape(m.group(1)) if m else None


def make_key(d, name):
    key, cert = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
         "-subj", f"/CN={name}.interop.test", "-keyout", key, "-out", cert],
        check=True, capture_output=True)
    return key, cert


def idp_server(d, key, cert, sp_metadata_file):
    conf = IdPConfig()
    conf.load({
        "entityid": IDP_ENTITY,
        "service": {"idp": {
            "name": "pysaml2 interop IdP",
            "endpoints": {
                "single_sign_on_service": [(IDP_SSO, BINDING_HTTP_REDIRECT), (IDP_SSO, BINDING_HTTP_POST)],
                "single_logout_service": [(IDP_SLO, BINDING_HTTP_REDIRECT)],
            },
            "want_authn_requests_signed": True,
            "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
        }},
        "key_file": key,
        "cert_file": cert,
        "metadata": {"local": [sp_metadata_file]} if sp_metadata_file else {},
        "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
        "allow_unknown_attributes": True,
        "accepted_time_diff": 60,
    })
    return Server(config=conf), conf


@contextlib.contextmanager
def aes256(server):
    """Make pysaml2 encrypt with AES-256-CBC (RSA-OAEP key transport) instead of 3DES."""
    import saml2.entity

    template, encrypt = saml2.entity.pre_encryption_part, server.sec.encrypt_assertion
    saml2.entity.pre_encryption_part = functools.partial(template, msg_enc=AES256_CBC)
    server.sec.encrypt_assertion = functools.partial(encrypt, key_type="aes-256")
    try:
        yield
    finally:
        saml2.entity.pre_encryption_part = template
        server.sec.encrypt_assertion = encrypt


def main():
    d = tempfile.mkdtemp(prefix="interop-")
    print(f"interop: pysaml2 IdP against {BASE}, tenant '{TENANT}'")

    # ---- the operator's admin API token, through the console's password sign-in
    op = Browser()
    page = op.get("/admin/login").text
    r = op.post("/admin/login", data={"csrf": hidden(page, "csrf"), "email": OPERATOR, "password": PASSWORD})
    if not check(r.status_code == 200 and "sso_admin" in op.cookies, "operator signs in to the console",
                 f"HTTP {r.status_code}"):
        return
    csrf = hidden(r.text, "csrf")
    r = op.post("/admin/api/api-tokens", json={"label": "interop", "days": 1}, headers={"X-CSRF-Token": csrf})
    if not check(r.status_code == 201, "admin API token created", r.text[:200]):
        return
    api = requests.Session()
    api.headers["Authorization"] = "Bearer " + r.json()["token"]

    def call(method, path, **kw):
        return api.request(method, BASE + path, timeout=30, **kw)

    # ---- the tenant and the IdP's metadata, made by pysaml2 with its own key
    r = call("POST", "/admin/api/tenants", json={"slug": TENANT, "name": "Interop Company",
                                                 "email_domains": ["interop.test"]})
    if not check(r.status_code == 201, "tenant created through the admin API", r.text[:300]):
        return
    tenant = r.json()
    idp_key, idp_cert = make_key(d, "idp")
    _, conf = idp_server(d, idp_key, idp_cert, None)
    idp_metadata = str(entity_descriptor(conf))
    r = call("POST", f"/admin/api/tenants/{TENANT}/idp-metadata", data=idp_metadata.encode(),
             headers={"Content-Type": "application/samlmetadata+xml"})
    if not check(r.status_code == 200 and r.json().get("applied"), "pysaml2's IdP metadata imported",
                 r.text[:400]):
        return
    r = call("PATCH", f"/admin/api/tenants/{TENANT}/settings",
             json={"login_mode": "sso_only", "sign_requests": True, "allow_idp_initiated": True,
                   "request_binding": "redirect"})
    if not check(r.status_code == 200, "settings: signed AuthnRequests, IdP-initiated allowed", r.text[:300]):
        return
    r = call("PUT", f"/admin/api/tenants/{TENANT}/licenses/X4", json={"quantity": 5})
    check(r.status_code == 200, "license inventory: 5 x X4", r.text[:300])
    r = call("POST", f"/admin/api/tenants/{TENANT}/scim-tokens", json={"label": "interop"})
    if not check(r.status_code == 201, "SCIM token created", r.text[:300]):
        return
    scim = r.json()
    r = requests.post(scim["scim_base_url"] + "/Users", timeout=30,
                      headers={"Authorization": "Bearer " + scim["token"], "Content-Type": "application/scim+json"},
                      json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": USER,
                            "name": {"givenName": "Ivy", "familyName": "Interop"},
                            "emails": [{"value": USER, "primary": True, "type": "work"}], "active": True})
    if not check(r.status_code == 201, f"SCIM: {USER} provisioned", r.text[:300]):
        return
    r = call("GET", f"/admin/api/tenants/{TENANT}/users", params={"q": USER})
    users = r.json().get("users", [])
    if not check(len(users) == 1 and users[0]["federation_id"] == USER,
                 f"the user's Federation ID is {USER}", r.text[:300]):
        return
    r = call("POST", f"/admin/api/tenants/{TENANT}/users/{users[0]['id']}/licenses", json={"license": "X4"})
    check(r.status_code in (200, 201), "license X4 assigned through the admin API", r.text[:300])

    # ---- our SP metadata into pysaml2
    r = requests.get(f"{BASE}/saml/{TENANT}/metadata", timeout=30)
    sp_md = os.path.join(d, "sp.xml")
    with open(sp_md, "wb") as f:
        f.write(r.content)
    idp, _ = idp_server(d, idp_key, idp_cert, sp_md)
    sp_entity = tenant["sp_entity_id"]
    acs = tenant["acs_url"]
    check(r.status_code == 200 and acs in [e["location"] for e in idp.metadata.assertion_consumer_service(sp_entity, BINDING_HTTP_POST)]
          and len(idp.metadata.certs(sp_entity, "spsso", "signing")) > 0,
          "pysaml2 loads our SP metadata (ACS and signing certificate)")

    def response(in_response_to, destination, sign_response, sign_assertion, name=USER, server=idp, **extra):
        return server.create_authn_response(
            identity={"mail": [name], "givenName": ["Ivy"], "sn": ["Interop"]},
            in_response_to=in_response_to, destination=destination, sp_entity_id=sp_entity,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=name),
            authn={"class_ref": PASSWORD_PROTECTED, "authn_auth": IDP_ENTITY},
            sign_response=sign_response, sign_assertion=sign_assertion,
            sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256, **extra)

    def post_to_acs(b, xml, relay_state=None):
        form = {"SAMLResponse": base64.b64encode(str(xml).encode()).decode()}
        if relay_state is not None:
            form["RelayState"] = relay_state
        r = b.post(acs, data=form)
        s = b.get("/api/session")
        who = s.json().get("user", {}).get("user_name") if s.status_code == 200 else None
        return r, who

    def sp_initiated(label, sign_response, sign_assertion, **extra):
        b = Browser()
        r = b.get(f"/saml/{TENANT}/login")
        loc = r.headers.get("Location", "")
        if not check(r.status_code in (302, 303) and loc.startswith(IDP_SSO),
                     f"[{label}] GET /saml/{TENANT}/login redirects to pysaml2's SSO URL", loc[:120]):
            return
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        check("Signature" in q and "SigAlg" in q, f"[{label}] our AuthnRequest is signed ({q.get('SigAlg')})")
        try:
            req = idp.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"),
                                          sigalg=q.get("SigAlg"), signature=q.get("Signature"))
        except Exception as e:  # noqa: BLE001 - any refusal is a failed check
            check(False, f"[{label}] pysaml2 accepts our AuthnRequest", repr(e))
            return
        m = req.message
        check(m.issuer.text == sp_entity and m.assertion_consumer_service_url == acs,
              f"[{label}] pysaml2 accepts our AuthnRequest and verifies its signature (ID {m.id})",
              f"issuer {m.issuer.text} acs {m.assertion_consumer_service_url}")
        xml = response(m.id, m.assertion_consumer_service_url, sign_response, sign_assertion, **extra)
        if extra.get("encrypt_assertion"):
            check("EncryptedAssertion" in str(xml) and USER not in str(xml),
                  f"[{label}] pysaml2 encrypted the assertion to our SP metadata's encryption certificate")
        r, who = post_to_acs(b, xml, q.get("RelayState"))
        check(who == USER, f"[{label}] our ACS accepts pysaml2's Response; /api/session shows {who}",
              f"HTTP {r.status_code} {re.sub(r'<[^>]+>', ' ', r.text)[:300]}")

    sp_initiated("redirect, Response signed", True, False)
    sp_initiated("redirect, Assertion signed", False, True)
    sp_initiated("redirect, both signed", True, True)
    # "Require the Assertion itself to be signed": a Response signed only on the outside is
    # then refused, an assertion-signed one still accepted.
    r = call("PATCH", f"/admin/api/tenants/{TENANT}/settings", json={"require_signed_assertions": True})
    check(r.status_code == 200, "settings: require signed assertions", r.text[:200])
    b = Browser()
    r, who = post_to_acs(b, response(None, acs, True, False))
    check(who is None and r.status_code >= 400,
          "with signed assertions required, pysaml2's Response signed only on the Response is refused",
          f"HTTP {r.status_code} session {who}")
    sp_initiated("redirect, signed assertions required, Assertion signed", False, True)
    call("PATCH", f"/admin/api/tenants/{TENANT}/settings", json={"require_signed_assertions": False})

    # Encrypted assertions. pysaml2 always encrypts with 3DES-CBC (its template's default and
    # xmlsec1's des-192 session key); we accept AES only (ADR 0011), so first that refusal,
    # then pysaml2 told to use AES-256-CBC (its template and session key parameters).
    b = Browser()
    r, who = post_to_acs(b, response(None, acs, True, True, encrypt_assertion=True,
                                     encrypt_assertion_self_contained=True))
    check(who is None and r.status_code >= 400,
          "pysaml2's default encryption (3DES-CBC) is refused: AES only, by design",
          f"HTTP {r.status_code} session {who}")
    with aes256(idp):
        sp_initiated("redirect, AES-256-CBC encrypted Assertion, both signed", True, True,
                     encrypt_assertion=True, encrypt_assertion_self_contained=True)

    # A tampered query (RelayState changed after signing) must fail pysaml2's check.
    b = Browser()
    loc = b.get(f"/saml/{TENANT}/login").headers.get("Location", "")
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
    try:
        idp.parse_authn_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState", "") + "x",
                                sigalg=q.get("SigAlg"), signature=q.get("Signature"))
        check(False, "pysaml2 refuses our AuthnRequest once its query is altered")
    except Exception:  # noqa: BLE001
        check(True, "pysaml2 refuses our AuthnRequest once its query is altered (so it really checked)")

    # HTTP-POST binding: an enveloped signature in the AuthnRequest, verified by pysaml2.
    r = call("PATCH", f"/admin/api/tenants/{TENANT}/settings", json={"request_binding": "post"})
    check(r.status_code == 200, "settings: AuthnRequests over HTTP-POST", r.text[:200])
    b = Browser()
    r = b.get(f"/saml/{TENANT}/login")
    saml_request, relay = hidden(r.text, "SAMLRequest"), hidden(r.text, "RelayState")
    if check(r.status_code == 200 and saml_request and form_action(r.text) == IDP_SSO,
             "[post] GET /saml/{TENANT}/login answers an auto-submitting form to pysaml2".replace("{TENANT}", TENANT),
             f"HTTP {r.status_code}"):
        try:
            req = idp.parse_authn_request(saml_request, BINDING_HTTP_POST)
            ok = req.message.issuer.text == sp_entity and req.message.signature is not None
            check(ok, "[post] pysaml2 accepts our AuthnRequest and verifies its enveloped signature")
            # A digit of IssueInstant changed: still a valid request, but no longer the signed one.
            original = base64.b64decode(saml_request).decode()
            altered = re.sub(r'IssueInstant="([^"]*?)(\d)(\.\d+)?Z"',
                             lambda m: f'IssueInstant="{m.group(1)}{(int(m.group(2)) + 9) % 10}{m.group(3) or ""}Z"',
                             original, count=1)
            assert altered != original
            try:
                idp.parse_authn_request(base64.b64encode(altered.encode()).decode(), BINDING_HTTP_POST)
                check(False, "[post] pysaml2 refuses our AuthnRequest once altered")
            except Exception:  # noqa: BLE001
                check(True, "[post] pysaml2 refuses our AuthnRequest once altered (so it really checked)")
            xml = response(req.message.id, acs, True, True)
            r, who = post_to_acs(b, xml, relay)
            check(who == USER, f"[post] our ACS accepts pysaml2's Response; /api/session shows {who}",
                  f"HTTP {r.status_code}")
        except Exception as e:  # noqa: BLE001
            check(False, "[post] pysaml2 accepts our AuthnRequest", repr(e))
    call("PATCH", f"/admin/api/tenants/{TENANT}/settings", json={"request_binding": "redirect"})

    # IdP-initiated: an unsolicited Response, as from an IdP dashboard tile.
    b = Browser()
    r, who = post_to_acs(b, response(None, acs, True, True))
    check(who == USER, f"[IdP-initiated] our ACS accepts pysaml2's unsolicited Response; /api/session shows {who}",
          f"HTTP {r.status_code} {re.sub(r'<[^>]+>', ' ', r.text)[:300]}")

    # Single logout with pysaml2, both ways (HTTP-Redirect, signed query strings).
    slo = f"{BASE}/saml/{TENANT}/slo"
    b = Browser()
    post_to_acs(b, response(None, acs, True, True))
    r = b.get("/logout")
    loc = r.headers.get("Location", "")
    if check(r.status_code in (302, 303) and loc.startswith(IDP_SLO),
             "[SP-initiated logout] /logout sends our LogoutRequest to pysaml2's SLO URL", loc[:120]):
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        try:
            lreq = idp.parse_logout_request(q["SAMLRequest"], BINDING_HTTP_REDIRECT, relay_state=q.get("RelayState"),
                                            sigalg=q.get("SigAlg"), signature=q.get("Signature"))
            check(lreq.message.name_id.text == USER and "Signature" in q,
                  "[SP-initiated logout] pysaml2 accepts our LogoutRequest and verifies its signature")
            lresp = idp.create_logout_response(lreq.message, [BINDING_HTTP_REDIRECT])
            info = idp.apply_binding(BINDING_HTTP_REDIRECT, str(lresp), destination=slo,
                                     relay_state=q.get("RelayState", ""), response=True, sign=True,
                                     sigalg=SIG_RSA_SHA256)
            r = b.get(dict(info["headers"])["Location"])
            check(r.status_code == 200 and "Signed out" in r.text,
                  "[SP-initiated logout] pysaml2's LogoutResponse ends at our 'Signed out' page", f"HTTP {r.status_code}")
        except Exception as e:  # noqa: BLE001
            check(False, "[SP-initiated logout] pysaml2 accepts our LogoutRequest", repr(e))
    s = b.get("/api/session")
    check(s.status_code == 401, "[SP-initiated logout] no session afterwards", f"HTTP {s.status_code}")

    b = Browser()
    post_to_acs(b, response(None, acs, True, True))
    index = b.get("/api/session").json().get("session", {}).get("session_index")
    try:
        lr_id, lr = idp.create_logout_request(slo, sp_entity, name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=USER),
                                              session_indexes=[index] if index else None, sign=False)
        info = idp.apply_binding(BINDING_HTTP_REDIRECT, str(lr), destination=slo, relay_state="interop",
                                 sign=True, sigalg=SIG_RSA_SHA256)
        r = b.get(dict(info["headers"])["Location"])
        loc = r.headers.get("Location", "")
        check(r.status_code in (302, 303) and loc.startswith(IDP_SLO),
              "[IdP-initiated logout] we accept pysaml2's signed LogoutRequest and answer at its SLO URL",
              f"HTTP {r.status_code} {re.sub(r'<[^>]+>', ' ', r.text)[:200]}")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        lres = idp.parse_logout_request_response(q["SAMLResponse"], BINDING_HTTP_REDIRECT)
        status = lres.response.status.status_code.value if lres else None
        check(lres is not None and lres.response.in_response_to == lr_id and status.endswith(":Success"),
              f"[IdP-initiated logout] pysaml2 accepts our LogoutResponse ({status})")
    except Exception as e:  # noqa: BLE001
        check(False, "[IdP-initiated logout] pysaml2's LogoutRequest", repr(e))
    s = b.get("/api/session")
    check(s.status_code == 401, "[IdP-initiated logout] the session here is ended", f"HTTP {s.status_code}")

    # Refusals: a key the tenant does not trust; a NameID changed after signing.
    other_key, other_cert = make_key(d, "other")
    rogue, _ = idp_server(d, other_key, other_cert, sp_md)
    b = Browser()
    r, who = post_to_acs(b, response(None, acs, True, True, server=rogue))
    check(who is None and r.status_code >= 400, "a Response signed with an untrusted key is refused",
          f"HTTP {r.status_code} session {who}")
    # Minted for jay (not provisioned), then changed to ivy (provisioned, licensed).
    xml = str(response(None, acs, True, False, name="jay@interop.test")).replace("jay@interop.test", USER)
    b = Browser()
    r, who = post_to_acs(b, xml)
    check(who is None and r.status_code >= 400, "a signed Response altered after signing is refused",
          f"HTTP {r.status_code} session {who}")


if __name__ == "__main__":
    t0 = time.monotonic()
    try:
        main()
    except Exception as e:  # noqa: BLE001
        import traceback

        traceback.print_exc()
        failed += 1
    print(f"interop: {passed} passed, {failed} failed ({time.monotonic() - t0:.1f} s)")
    sys.exit(1 if failed or not passed else 0)
