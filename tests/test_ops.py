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
              "kaiin_http_requests_in_flight", "kaiin_http_request_body_bytes", "kaiin_broker_workers", "kaiin_broker_queued",
              "kaiin_broker_requests_total"):
        assert n in names, n
    for n, l, _ in samples:
        if n == "kaiin_http_requests_total":
            assert {"method", "route", "status"} <= set(l), l
    assert "# TYPE kaiin_http_requests_total counter" in r.text
    assert "# TYPE kaiin_http_request_duration_seconds histogram" in r.text
    workers = sample(samples, "kaiin_broker_workers", service="member")
    assert workers == suite.member_workers, workers
    assert "# TYPE kaiin_broker_queued gauge" in r.text
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


def service_metrics(client, name="member"):
    r = client.get("/metrics/" + name)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.text, parse_metrics(r.text)


def test_a_service_counts_its_requests_and_its_business(suite, client):
    """GET /metrics/member: member.Metrics, from the one member process of the suite. Deltas
    worked out by hand: two members registered (one of them then withdrawn) and one refused
    as a duplicate."""
    _, before = service_metrics(client)
    a = client.create_member()
    client.create_member()
    assert client.post("/v1/members", {"email": a["email"]}).status_code == 409
    assert client.post("/v1/members/%s/withdraw" % a["id"], {"reason": "metrics"}).status_code == 200
    text, after = service_metrics(client)

    def delta(name, **labels):
        return (sample(after, name, service="member", **labels) or 0) - \
               (sample(before, name, service="member", **labels) or 0)
    process = "%s:%d" % (os.uname().nodename, suite.member().pid)
    assert delta("kaiin_members", status="free") == 1
    assert delta("kaiin_members", status="withdrawn") == 1
    assert delta("kaiin_events_total", type="member.registered") == 2
    assert delta("kaiin_events_total", type="member.withdrawn") == 1
    assert delta("kaiin_service_requests_total", process=process, method="Create", status="OK") == 2
    assert delta("kaiin_service_requests_total", process=process, method="Create",
                 status="ALREADY_EXISTS") == 1
    assert delta("kaiin_service_requests_total", process=process, method="Withdraw", status="OK") == 1
    # Time: in the handlers and in PostgreSQL, both grown by the requests above.
    assert delta("kaiin_service_request_seconds_total", process=process, method="Create") > 0
    assert delta("kaiin_service_database_seconds_total", process=process) > 0
    assert delta("kaiin_service_database_statements_total", process=process) >= 6
    assert sample(after, "kaiin_service_workers", service="member", process=process) == suite.member_workers
    # Its own request is being served as the figures are written.
    assert sample(after, "kaiin_service_workers_busy", service="member", process=process) >= 1
    # The last event member's consumers can read, and where member's consumers stand (a row
    # once a source's first event was applied).
    assert sample(after, "kaiin_outbox_seq", service="member") >= 0
    sources = {l["source"] for n, l, _ in after if n == "kaiin_consumer_position"}
    assert sources <= set(suite.service_list), sources
    for family, kind in (("kaiin_members", "gauge"), ("kaiin_events_total", "counter"),
                         ("kaiin_service_requests_total", "counter")):
        assert "# TYPE %s %s\n" % (family, kind) in text
        assert text.count("# TYPE %s " % family) == 1


def test_every_service_answers_its_metrics(suite, client):
    """Each service's own figures, declared beside its main (the runtime's come with them)."""
    own = {"member": ("kaiin_members", "kaiin_inquiries", "kaiin_member_import_jobs"),
           "billing": ("kaiin_subscriptions", "kaiin_invoices", "kaiin_payments", "kaiin_payments_yen"),
           "messaging": ("kaiin_mails", "kaiin_campaigns"), "analytics": ("kaiin_alerts",)}
    for name in suite.service_list:
        text, samples = service_metrics(client, name)
        assert sample(samples, "kaiin_service_workers", service=name) == suite.workers[name], text
        for family in own.get(name, ()):
            assert "# TYPE %s gauge\n" % family in text, (name, family)


def test_service_metrics_are_for_owners_and_admins_of_a_known_service(suite, client):
    r = client.get("/metrics/member", auth=False)
    assert r.status_code == 401, r.text
    staff, password = suite.create_staff("support")
    support = suite.client_as(suite.login(staff["email"], password))
    r = support.get("/metrics/member")
    assert r.status_code == 403, r.text
    assert r.json()["detail"] == "the role 'support' may not do this"
    r = client.get("/metrics/nosuch")
    assert r.status_code == 404, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["detail"] == "no service 'nosuch' here"
