#!/usr/bin/env python3
"""Regenerate the small committed seed corpus under fuzz/seeds/<target>/.

Sources: the signed fixtures and a few attack fixtures (tests/fixtures/), the W3C
c14n examples and a slice of the generated c14n corpus (tests/fixtures/c14n/), IdP
metadata, SCIM filters and PATCH bodies of the Okta/Entra shapes the integration tests
use, and Redirect-binding queries built here with raw DEFLATE. Deterministic.
"""
import base64, hashlib, json, os, re, shutil, urllib.parse, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(rel):
    with open(os.path.join(FIX, rel), "rb") as f:
        return f.read()


for t in ["xml_parse", "c14n", "verify_response", "redirect_decode", "scim_filter", "scim_patch", "metadata"]:
    shutil.rmtree(os.path.join(HERE, t), ignore_errors=True)

signed = [
    "okta-response-signed.xml", "okta-assertion-signed.xml", "okta-both-signed.xml",
    "ecdsa-sha256.xml", "ecdsa-sha384.xml", "exc-c14n-with-comments.xml", "keyinfo-absent.xml",
    "keyinfo-foreign-cert.xml", "rsa-sha384.xml", "rsa-sha512.xml", "sha1.xml",
    "signed-by-next-key.xml", "unsolicited-assertion-signed.xml", "okta-response-signed.b64",
    "status-failure.xml",
]
for f in signed:
    put("verify_response", read("responses/" + f))
# a few attacks that are small and get far (wrapping shapes, comments)
for f in ["xsw3-evil-before.xml", "xsw7-original-in-extensions.xml", "comment-injection-nameid.xml",
          "xsw-original-in-advice.xml", "signature-in-subject.xml", "reference-to-assertion.xml"]:
    put("verify_response", read("attacks/" + f))

for f in ["okta-both-signed.xml", "exc-c14n-with-comments.xml", "status-failure.xml"]:
    put("xml_parse", read("responses/" + f))
    put("c14n", read("responses/" + f))
for f in ["undeclared-prefix.xml", "dtd-internal-entity.xml", "undefined-entity.xml"]:
    put("xml_parse", read("attacks/" + f))

cases = [json.loads(l) for l in open(os.path.join(FIX, "c14n", "w3c.jsonl")) if l.strip()]
cases += [json.loads(l) for l in open(os.path.join(FIX, "c14n", "corpus.jsonl")) if l.strip()][:60]
for c in cases:
    put("xml_parse", c["input"])
    put("c14n", c["input"])

for f in ["idp-metadata.xml", "idp-metadata-rollover.xml", "idp-metadata-ec.xml", "idp-metadata-nokey.xml"]:
    put("metadata", read(f))

authn = ('<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
         'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_abc" Version="2.0" '
         'IssueInstant="2026-06-01T12:00:00Z" Destination="https://acme.okta.com/app/sso/saml">'
         '<saml:Issuer>https://sso.example.test/saml/acme/metadata</saml:Issuer></samlp:AuthnRequest>')
logout = ('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_l" '
          'Version="2.0" IssueInstant="2026-06-01T12:00:00Z"><saml:NameID '
          'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">jane</saml:NameID></samlp:LogoutRequest>')


def deflate(s):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(s.encode()) + c.flush()


for msg in [authn, logout]:
    b64 = base64.b64encode(deflate(msg)).decode()
    q = urllib.parse.urlencode({"SAMLRequest": b64, "RelayState": "rs-1"})
    put("redirect_decode", b"\x00" + q.encode())
    q2 = q + "&SigAlg=" + urllib.parse.quote("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", safe="") + "&Signature=" + urllib.parse.quote(base64.b64encode(b"x" * 256).decode(), safe="")
    put("redirect_decode", b"\x00" + q2.encode())
    put("redirect_decode", b"\x01" + msg.encode())
put("redirect_decode", b"\x00SAMLResponse=" + urllib.parse.quote(base64.b64encode(deflate("A" * 5000)).decode(), safe="").encode())

src = open(os.path.join(ROOT, "tests", "integration", "scim_filter.rs")).read()
src += open(os.path.join(ROOT, "tests", "integration", "scim_sql.rs")).read()
filters = set()
for m in re.finditer(r'(?:p|parse_filter|parse_path|f|sql|filter_to_sql)\(\s*"((?:[^"\\]|\\.)*)"', src):
    filters.add(m.group(1).encode().decode("unicode_escape"))
filters |= {
    'userName eq "test.user@okta.local"',
    'emails[type eq "work" and value co "@okta.local"]',
    'members[value eq "89bb1940"]',
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'not (title pr) and userName sw "J" or active eq true',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42"',
    'displayName eq "Sales"',
    'emails[type eq "work"].value',
    'name.familyName',
}
for f in sorted(filters):
    put("scim_filter", b"\x00" + f.encode())
    put("scim_filter", b"\x01" + f.encode())

src = open(os.path.join(ROOT, "tests", "integration", "scim_patch.rs")).read()
bodies = []
for m in re.finditer(r'ops\(json!\((\[.*?\])\)\)', src, re.S):
    bodies.append(m.group(1))
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
literal = [
    {"op": "replace", "value": {"active": False}},
    {"op": "replace", "path": "active", "value": False},
    {"op": "add", "path": "members", "value": [{"value": "u1", "display": "x"}]},
    {"op": "remove", "path": 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]'},
    {"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@okta.local"},
    {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "9"},
    {"op": "Replace", "value": {"name": {"givenName": "A"}, "userName": "b@x"}},
    {"op": "remove", "path": "phoneNumbers"},
    {"op": "replace", "path": "displayName", "value": "Renamed"},
]
for op in literal:
    put("scim_patch", json.dumps({"schemas": [PATCH], "Operations": [op]}))
put("scim_patch", json.dumps({"schemas": [PATCH], "Operations": literal}))
print("seeds:", {t: len(os.listdir(os.path.join(HERE, t))) for t in sorted(os.listdir(HERE)) if os.path.isdir(os.path.join(HERE, t))})
