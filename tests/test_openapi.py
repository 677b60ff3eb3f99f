"""test_openapi.py - the OpenAPI document the gateway serves (its own part, gateway/openapi.json,
with what each service generated from its declarations and announced) describes every route the
suite uses, passes openapi-spec-validator, and the answers match its schemas. The checker covers the JSON-Schema subset OpenAPI 3.0 uses here: type,
nullable, required, properties, additionalProperties, enum, items, allOf, $ref, pattern,
minLength/maxLength, minimum/maximum."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import uuid

import pytest
import yaml

from harness import REPO, new_password, unique_email



def fetch(client):
    """The document as the suite's gateway serves it now, parsed."""
    r = client.get("/openapi.yaml", auth=False)
    assert r.status_code == 200, r.text
    doc = yaml.safe_load(r.text)
    assert isinstance(doc, dict) and str(doc.get("openapi", "")).startswith("3."), doc.keys()
    return doc


def validator_python():
    """A python3 that has openapi_spec_validator: this one, the one on PATH (pyenv's on this
    machine) or one of pyenv's versions; $OPENAPI_VALIDATOR_PYTHON first when set."""
    found = [os.environ.get("OPENAPI_VALIDATOR_PYTHON"), sys.executable, shutil.which("python3"),
             os.path.expanduser("~/.pyenv/shims/python3")]
    found += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/*/bin/python3")))
    for python in found:
        if python and os.path.exists(python) and subprocess.run(
                [python, "-c", "import openapi_spec_validator"], capture_output=True).returncode == 0:
            return python
    return None

# Every (method, path) the black-box suite exercises.
ROUTES = [
    ("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"), ("get", "/openapi.yaml"),
    ("get", "/openapi.json"),
    ("get", "/v1/members"), ("post", "/v1/members"),
    ("get", "/v1/members/{id}"), ("patch", "/v1/members/{id}"),
    ("post", "/v1/members/{id}/withdraw"),
    ("get", "/v1/members/{id}/data-export"), ("post", "/v1/members/{id}/erase"),
    ("get", "/v1/audit-log"),
    ("post", "/v1/auth/login"), ("post", "/v1/auth/logout"), ("get", "/v1/me"),
    ("get", "/v1/me/permissions"),
    ("get", "/v1/staff"), ("post", "/v1/staff"),
    ("get", "/v1/staff/{id}"), ("patch", "/v1/staff/{id}"),
    ("get", "/v1/api-keys"), ("post", "/v1/api-keys"), ("post", "/v1/api-keys/{id}/revoke"),
    ("post", "/v1/members/{id}/tags"), ("get", "/v1/member-attributes"),
    ("post", "/v1/member-attributes"), ("get", "/v1/member-ranks"), ("post", "/v1/member-ranks"),
    ("get", "/v1/members/{id}/inquiries"), ("post", "/v1/members/{id}/inquiries"),
    ("get", "/v1/inquiries"), ("get", "/v1/inquiries/{id}"), ("patch", "/v1/inquiries/{id}"),
    ("post", "/v1/inquiries/{id}/messages"),
    ("post", "/v1/member-auth/login"), ("post", "/v1/member-auth/logout"),
    ("get", "/v1/member-auth/me"), ("post", "/v1/member-auth/password"),
    ("post", "/v1/members/{id}/password"), ("post", "/v1/members/{id}/activities"),
    ("get", "/v1/members/{id}/activities"), ("get", "/v1/members/{id}/logins"),
    ("post", "/v1/members/import"), ("get", "/v1/members/export"),
    ("get", "/v1/test/clock"), ("post", "/v1/test/clock"),
]


@pytest.fixture(scope="module")
def spec(suite):
    return fetch(suite.client)


def test_document_passes_openapi_spec_validator(spec, tmp_path):
    """openapi-spec-validator finds nothing wrong with the whole document (without the module
    the test fails: it is not skipped)."""
    python = validator_python()
    assert python, "no python3 here has openapi_spec_validator (pip install openapi-spec-validator)"
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(spec))
    r = subprocess.run([python, "-c", "import json, sys\n"
                        "from openapi_spec_validator import validate\n"
                        "validate(json.load(open(sys.argv[1])))\n", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-4000:]


def test_json_and_yaml_are_one_document(spec, client):
    r = client.get("/openapi.json", auth=False)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    assert r.json() == spec


def test_service_routes_come_from_their_declarations(spec):
    """A declared route's operation is the service's: its permission's roles, its body's keys
    with the required ones, a rule as a constraint, a time as date-time, a hidden field left
    out, a renamed key; the gateway's own part holds no such route."""
    with open(os.path.join(REPO, "gateway/openapi.json")) as f:
        own = json.load(f)
    assert "/v1/plans" not in own["paths"] and "/v1/inquiries" not in own["paths"]
    op = find_operation(spec, "post", "/v1/plans")
    assert op["operationId"] == "billing.PlanCreate"
    assert "roles owner admin finance" in op["description"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["code", "name", "amount", "interval"]
    assert body["additionalProperties"] is False
    assert body["properties"]["code"]["maxLength"] == 64
    assert body["properties"]["currency"]["default"] == "JPY"
    assert "nullable" not in body["properties"]["interval"]
    assert body["properties"]["amount"]["description"] == "price per interval, yen"   # proto comment
    assert set(op["responses"]) >= {"201", "400", "401", "403", "409", "413", "415", "503", "504"}
    assert "Location" in op["responses"]["201"]["headers"] and "ETag" in op["responses"]["201"]["headers"]
    plan = resolve(spec, op["responses"]["201"]["content"]["application/json"]["schema"])
    assert plan["properties"]["created_at"]["format"] == "date-time"
    assert "created_at_ms" not in plan["properties"]
    method = resolve(spec, {"$ref": "#/components/schemas/billing.PaymentMethod"})
    assert "token" not in method["properties"]                           # hidden
    members = resolve(spec, {"$ref": "#/components/schemas/member.ListReply"})
    assert "data" in members["properties"] and "members" not in members["properties"]
    subscriptions = find_operation(spec, "get", "/v1/subscriptions/{id}")
    assert "404 for an object" in subscriptions["description"]            # the member rule
    assert find_operation(spec, "post", "/v1/webhooks/payments/{provider}")["security"] == []


def resolve(spec, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), "only local $ref supported: %s" % ref
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        seen += 1
        assert seen < 20, "$ref loop at %s" % ref
    return node


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def validate(spec, schema, value, path="$"):
    """Returns a list of 'path: what is wrong' strings, empty when value matches schema."""
    schema = resolve(spec, schema)
    errs = []
    if value is None:
        if schema.get("nullable") or schema.get("type") is None and "allOf" not in schema:
            return []
        return ["%s: null where not nullable" % path]
    for sub in schema.get("allOf", []):
        errs += validate(spec, sub, value, path)
    if "oneOf" in schema:
        matched = [sub for sub in schema["oneOf"] if not validate(spec, sub, value, path)]
        if len(matched) != 1:
            errs.append("%s: matches %d of oneOf's %d schemas" % (path, len(matched), len(schema["oneOf"])))
    t = schema.get("type")
    if t == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return errs + ["%s: %r is not an integer" % (path, value)]
    elif t == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return errs + ["%s: %r is not a number" % (path, value)]
    elif t is not None:
        if not isinstance(value, _TYPES[t]):
            return errs + ["%s: %r is not of type %s" % (path, value, t)]
    if "enum" in schema and value not in schema["enum"]:
        errs.append("%s: %r not in %s" % (path, value, schema["enum"]))
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errs.append("%s: %r does not match %s" % (path, value, schema["pattern"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append("%s: longer than %d" % (path, schema["maxLength"]))
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append("%s: shorter than %d" % (path, schema["minLength"]))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append("%s: %r below %r" % (path, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errs.append("%s: %r above %r" % (path, value, schema["maximum"]))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in value:
                errs.append("%s: required %r missing" % (path, k))
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                errs += validate(spec, props[k], v, "%s.%s" % (path, k))
            elif extra is False:
                errs.append("%s: property %r not allowed" % (path, k))
            elif isinstance(extra, dict):
                errs += validate(spec, extra, v, "%s.%s" % (path, k))
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errs += validate(spec, schema["items"], v, "%s[%d]" % (path, i))
    return errs


def test_checker_catches_mismatches(spec):
    """The checker itself can fail: a few wrong bodies are caught."""
    member = resolve(spec, {"$ref": "#/components/schemas/member.Member"})
    good = {"id": str(uuid.uuid4()), "email": "a@b.co", "name": None, "name_kana": None,
            "phone": None, "status": "free", "created_at": "2026-11-25T08:11:10.123Z",
            "updated_at": "2026-11-25T08:11:10.123Z", "withdrawn_at": None,
            "withdrawn_reason": None, "birthday": None, "postal_code": None, "prefecture": None,
            "address": None, "rank": "basic", "tags": [], "attributes": {}, "note": None,
            "marketing_consent": None, "last_login_at": None}
    assert validate(spec, member, good) == []
    assert validate(spec, member, dict(good, status="gold"))
    assert validate(spec, member, dict(good, email=None))
    assert validate(spec, member, dict(good, extra=1))
    assert validate(spec, member, {k: v for k, v in good.items() if k != "id"})
    assert validate(spec, member, dict(good, created_at="yesterday"))
    assert validate(spec, {"type": "array", "items": {"type": "integer"}}, [1, "2"])


def _template(path):
    return re.sub(r"\{[^}]*\}", "{}", path)


def find_operation(spec, method, path):
    for p, item in spec.get("paths", {}).items():
        if _template(p) == _template(path) and method in item:
            return item[method]
    return None


@pytest.mark.parametrize("method,path", ROUTES)
def test_route_is_documented(spec, method, path):
    op = find_operation(spec, method, path)
    assert op is not None, "%s %s is not in the OpenAPI document" % (method.upper(), path)
    assert op.get("responses"), "%s %s documents no responses" % (method.upper(), path)


def response_schema(spec, method, path, status, content_type):
    op = find_operation(spec, method, path)
    assert op is not None, "%s %s is not documented" % (method.upper(), path)
    responses = op["responses"]
    resp = responses.get(str(status)) or responses.get("%dXX" % (status // 100)) \
        or responses.get("default")
    assert resp is not None, "%s %s does not document status %d" % (method.upper(), path, status)
    resp = resolve(spec, resp)
    media = content_type.split(";")[0].strip()
    content = resp.get("content", {})
    assert media in content, "%s %s %d: %s not documented (%s)" % (
        method.upper(), path, status, media, list(content))
    return content[media].get("schema", {})


def check(spec, method, path, r):
    schema = response_schema(spec, method, path, r.status_code, r.headers.get("Content-Type", ""))
    errs = validate(spec, schema, r.json())
    assert not errs, "%s %s %d body does not match the document:\n%s\n%s" % (
        method.upper(), path, r.status_code, "\n".join(errs), r.text[:2000])


def test_member_responses_match(spec, client):
    r = client.post("/v1/members", {"email": unique_email(), "name": "Spec", "phone": "0312345678"})
    assert r.status_code == 201
    check(spec, "post", "/v1/members", r)
    mid = r.json()["id"]
    r = client.get("/v1/members/" + mid)
    assert r.status_code == 200
    check(spec, "get", "/v1/members/{id}", r)
    r = client.patch("/v1/members/" + mid, {"name_kana": "スペック"})
    assert r.status_code == 200
    check(spec, "patch", "/v1/members/{id}", r)
    r = client.post("/v1/members/%s/withdraw" % mid, {"reason": "spec"})
    assert r.status_code == 200
    check(spec, "post", "/v1/members/{id}/withdraw", r)
    r = client.get("/v1/members", params={"limit": 3})
    assert r.status_code == 200
    check(spec, "get", "/v1/members", r)
    r = client.get("/v1/members", params={"email": "none-" + unique_email()})
    assert r.status_code == 200
    check(spec, "get", "/v1/members", r)


def test_problem_responses_match(spec, client):
    m = client.create_member()
    cases = [
        ("post", "/v1/members", client.post("/v1/members", {"email": "bad"}), 400),
        ("post", "/v1/members", client.post("/v1/members", {"email": m["email"]}), 409),
        ("post", "/v1/members", client.request("POST", "/v1/members", data="{}",
                                               headers={"Content-Type": "text/plain"}), 415),
        ("get", "/v1/members", client.get("/v1/members", params={"limit": 0}), 400),
        ("get", "/v1/members", client.get("/v1/members", auth=False), 401),
        ("get", "/v1/members/{id}", client.get("/v1/members/" + str(uuid.uuid4())), 404),
        ("patch", "/v1/members/{id}", client.patch("/v1/members/" + m["id"], {"name": "x"},
                                                   headers={"If-Match": '"99"'}), 412),
    ]
    for method, path, r, status in cases:
        assert r.status_code == status, (method, path, r.status_code, r.text)
        check(spec, method, path, r)


def test_operations_responses_match(spec, client):
    for path in ("/healthz", "/readyz"):
        r = client.get(path, auth=False)
        assert r.status_code == 200
        check(spec, "get", path, r)
    for path in ("/metrics", "/openapi.yaml"):
        r = client.get(path, auth=False)
        assert r.status_code == 200
        response_schema(spec, "get", path, 200, r.headers["Content-Type"])


def test_staff_responses_match(spec, suite, client):
    """Staff, login, me and API-key answers (and their problems) match the document."""
    email, password = unique_email("spec-staff"), new_password()
    r = client.post("/v1/staff", {"email": email, "role": "viewer", "password": password,
                                  "name": "Spec"})
    assert r.status_code == 201, r.text
    check(spec, "post", "/v1/staff", r)
    sid = r.json()["id"]
    cases = [
        ("get", "/v1/staff/{id}", client.get("/v1/staff/" + sid), 200),
        ("get", "/v1/staff", client.get("/v1/staff", params={"limit": 2}), 200),
        ("patch", "/v1/staff/{id}", client.patch("/v1/staff/" + sid, {"name": "Spec 2"}), 200),
        ("get", "/v1/me", client.get("/v1/me"), 200),
        ("post", "/v1/staff", client.post("/v1/staff", {"email": email.upper(), "role": "viewer",
                                                        "password": password}), 409),
        ("post", "/v1/staff", client.post("/v1/staff", {"email": unique_email(), "role": "boss",
                                                        "password": password}), 400),
        ("get", "/v1/staff/{id}", client.get("/v1/staff/" + str(uuid.uuid4())), 404),
        ("patch", "/v1/staff/{id}", client.patch("/v1/staff/" + sid, {"name": "x"},
                                                 headers={"If-Match": '"99"'}), 412),
        ("post", "/v1/auth/login", client.post("/v1/auth/login", {"email": email,
                                                                  "password": "wrong" + password},
                                               auth=False), 401),
        ("post", "/v1/auth/login", client.post("/v1/auth/login", {"email": email}, auth=False), 400),
        ("post", "/v1/api-keys", client.post("/v1/api-keys", {"name": "spec", "role": "owner"}), 400),
        ("post", "/v1/api-keys/{id}/revoke",
         client.post("/v1/api-keys/%s/revoke" % uuid.uuid4()), 404),
        ("post", "/v1/auth/logout", client.post("/v1/auth/logout"), 400),
    ]
    login = client.post("/v1/auth/login", {"email": email, "password": password}, auth=False)
    cases.append(("post", "/v1/auth/login", login, 200))
    viewer = suite.client_as(login.json()["token"])
    cases.append(("get", "/v1/me", viewer.get("/v1/me"), 200))
    cases.append(("get", "/v1/staff", viewer.get("/v1/staff"), 403))
    cases.append(("post", "/v1/members", viewer.post("/v1/members", {"email": unique_email()}), 403))
    r = client.post("/v1/api-keys", {"name": "spec", "role": "viewer"})
    cases.append(("post", "/v1/api-keys", r, 201))
    key = r.json()
    cases.append(("get", "/v1/api-keys", client.get("/v1/api-keys"), 200))
    cases.append(("get", "/v1/me", suite.client_as(key["secret"]).get("/v1/me"), 200))
    cases.append(("post", "/v1/api-keys/{id}/revoke",
                  client.post("/v1/api-keys/%s/revoke" % key["id"]), 200))
    for method, path, r, status in cases:
        assert r.status_code == status, (method, path, r.status_code, r.text)
        check(spec, method, path, r)
    r = viewer.post("/v1/auth/logout")
    assert r.status_code == 204, r.text
    response_schema_absent = find_operation(spec, "post", "/v1/auth/logout")["responses"]["204"]
    assert "content" not in response_schema_absent


def test_rate_limited_problem_matches(spec, suite, client):
    """429 from login is documented, Retry-After included."""
    import hashlib
    email = unique_email("spec-throttle")
    key = "kaiin:login-failures:account:" + hashlib.sha256(email.lower().encode()).hexdigest()
    suite.redis_cli("SET", key, "100", "EX", "60")
    try:
        r = client.post("/v1/auth/login", {"email": email, "password": new_password()}, auth=False)
    finally:
        suite.redis_cli("DEL", key)
    assert r.status_code == 429, r.text
    check(spec, "post", "/v1/auth/login", r)
    op = find_operation(spec, "post", "/v1/auth/login")
    assert "Retry-After" in resolve(spec, op["responses"]["429"])["headers"]
