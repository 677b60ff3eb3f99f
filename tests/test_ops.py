"""test_ops.py - /healthz, /readyz, /metrics, /openapi.yaml: unauthenticated operational routes."""

import json
import os
import time

import yaml

from harness import REPO, parse_metrics


def test_healthz(client):
    r = client.get("/healthz", auth=False)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"status": "ok"}


def test_readyz_all_ok(client):
    r = client.get("/readyz", auth=False)
    assert r.status_code == 200, r.text
    checks = {"postgresql": "ok", "redis": "ok"}
    checks.update({name: "ok" for name in client.suite.service_list})    # every service it runs
    assert r.json() == {"status": "ready", "checks": checks}


def test_ops_routes_need_no_token_and_ignore_a_bad_one(client):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.yaml"):
        r = client.get(path, auth=False, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 200, (path, r.status_code)


def sample(samples, name, **labels):
    for n, l, v in samples:
        if n == name and all(l.get(k) == str(x) for k, x in labels.items()):
            return v
    return None


def test_metrics_format_and_counters(suite, client):
    client.get("/v1/members", params={"limit": 1})
    r = client.get("/metrics", auth=False)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    assert "version=0.0.4" in r.headers["Content-Type"]
    samples = parse_metrics(r.text)
    names = {n for n, _, _ in samples}
    for n in ("kaiin_http_requests_total", "kaiin_http_request_duration_seconds_bucket",
              "kaiin_http_request_duration_seconds_sum", "kaiin_http_request_duration_seconds_count",
              "kaiin_http_requests_in_flight", "kaiin_broker_workers", "kaiin_broker_requests_total"):
        assert n in names, n
    for n, l, _ in samples:
        if n == "kaiin_http_requests_total":
            assert {"method", "route", "status"} <= set(l), l
    assert "# TYPE kaiin_http_requests_total counter" in r.text
    assert "# TYPE kaiin_http_request_duration_seconds histogram" in r.text
    workers = sample(samples, "kaiin_broker_workers", service="member")
    assert workers == suite.member_workers, workers
    # the member process shows as one instance "host:pid"
    instances = [l["instance"] for n, l, _ in samples
                 if n == "kaiin_broker_requests_total" and l.get("service") == "member"]
    assert any(i.endswith(":%d" % suite.member().pid) for i in instances), instances


def test_metrics_count_requests(client):
    def count(samples):
        return sum(v for n, l, v in samples if n == "kaiin_http_requests_total"
                   and l.get("method") == "GET" and l.get("status") == "404")

    before = count(parse_metrics(client.get("/metrics").text))
    for _ in range(3):
        client.get("/v1/members/00000000-0000-4000-8000-000000000000")
    # A request is counted when libmicrohttpd reports it finished, just after its answer left.
    for _ in range(40):
        after = count(parse_metrics(client.get("/metrics").text))
        if after - before >= 3:
            break
        time.sleep(0.05)
    assert after - before == 3, (before, after)


def test_metrics_histogram_consistent(client):
    client.get("/healthz")
    samples = parse_metrics(client.get("/metrics").text)
    series = {}
    for n, l, v in samples:
        if n == "kaiin_http_request_duration_seconds_bucket":
            key = tuple(sorted((k, x) for k, x in l.items() if k != "le"))
            series.setdefault(key, []).append((float(l["le"]), v))
    assert any(dict(k).get("route") == "/healthz" for k in series), series.keys()
    for key, buckets in series.items():
        labels = dict(key)
        inf = [v for le, v in buckets if le == float("inf")]
        assert len(inf) == 1, key
        cnt = sample(samples, "kaiin_http_request_duration_seconds_count", **labels)
        assert cnt == inf[0], key
        assert sample(samples, "kaiin_http_request_duration_seconds_sum", **labels) is not None
        vals = [v for _, v in sorted(buckets)]
        assert vals == sorted(vals), (key, buckets)


def test_metrics_families_are_grouped(client):
    """Text format 0.0.4: all lines of one metric family form one group, after its TYPE line."""
    text = client.get("/metrics").text
    current, seen = None, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in seen, "second TYPE line for %s" % name
            seen.add(name)
            current = name
            continue
        if not line or line.startswith("#"):
            continue
        name = line.split("{")[0].split()[0]
        base = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in seen:
                base = name[: -len(suffix)]
        assert base == current, "sample %r is outside the group of its family (after TYPE %s)" \
            % (line, current)


def test_openapi_served(client):
    r = client.get("/openapi.yaml", auth=False)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/yaml"), r.headers
    doc = yaml.safe_load(r.text)
    assert str(doc["openapi"]).startswith("3.")
    # the gateway's own part, and the routes the services announced
    with open(os.path.join(REPO, "gateway/openapi.json")) as f:
        own = json.load(f)
    assert set(own["paths"]) <= set(doc["paths"])
    assert "/v1/inquiries" in doc["paths"] and "/v1/inquiries" not in own["paths"]


def test_access_log_names_the_route_not_the_path(suite, client):
    """One JSON line per request in the gateway's log: method, the route's pattern (never the
    id in the path or the query's words), status, duration, request id and who called."""
    m = client.create_member(name="山田 花子")
    by_id = client.get("/v1/members/%s" % m["id"])
    search = client.get("/v1/members", params={"q": "やまだ"})
    assert by_id.status_code == 200 and search.status_code == 200

    def access_line(r):
        rid = r.headers["X-Request-Id"]
        for _ in range(50):
            with open(suite.gateway.log_path) as f:
                found = [json.loads(l) for l in f if rid in l and '"route"' in l]
            if found:
                assert len(found) == 1, found
                return found[0]
            time.sleep(0.1)
        raise AssertionError("no access line for %s" % rid)
    for r, route in ((by_id, "/v1/members/{id}"), (search, "/v1/members")):
        line = access_line(r)
        assert (line["method"], line["route"], line["status"], line["rid"], line["caller"],
                line["caller_id"]) == ("GET", route, 200, r.headers["X-Request-Id"], "bootstrap",
                                       "bootstrap"), line
        assert 0 < line["ms"] < 60000
        text = json.dumps(line, ensure_ascii=False)
        assert m["id"] not in text and "やまだ" not in text and "%E3" not in text, line
