"""test_console.py - the screens the gateway serves (web/): files, headers, session cookies and
their CSRF token over plain HTTP; then the staff console in a real headless Chromium (selenium
with Debian's chromium-driver): sign-in, search, edit with a conflict, the viewer's view, markup
in data shown as text, CSRF, CSP and the first load's size. One browser for the module; a
screenshot of each browser scenario's end goes to build/test-artifacts/console/."""

import base64
import json
import os
import re
import shutil
import socket
import time
import uuid

import pytest
import requests

import billing_util
import test_openapi
from harness import HTTP_TIMEOUT, REPO, new_password

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
ARTIFACTS = os.path.join(REPO, "build", "test-artifacts", "console")
WAIT_S = 20                         # a loaded machine is slow; a screen that never comes fails


# ------------------------------------------------------------------ helpers over plain HTTP


def get(suite, path, **kw):
    return requests.get(suite.url(path), timeout=HTTP_TIMEOUT, allow_redirects=False, **kw)


def raw_get(suite, path):
    """A GET sent as written (no client normalising ".." away): the status line and body."""
    with socket.create_connection(("127.0.0.1", suite.http_port), timeout=10) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def screen_headers_ok(r):
    assert r.headers.get("Content-Security-Policy") == CSP, r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers
    assert r.headers.get("Referrer-Policy") == "no-referrer", r.headers


def staff(suite, role, name=None):
    """A new staff account of role: (email, password, id)."""
    s, password = suite.create_staff(role, name=name)
    return s["email"], password, s["id"]


def member(client, tag, **fields):
    m = client.create_member(**fields)
    r = client.post("/v1/members/%s/tags" % m["id"], {"add": [tag]})
    assert r.status_code == 200, r.text
    return m


def cookie_login(suite, path, email, password, headers=None):
    """Logs in on path with a requests session that keeps the cookie; returns (session, reply)."""
    http = requests.Session()
    r = http.post(suite.url(path), json={"email": email, "password": password},
                  headers=headers, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return http, r


# ------------------------------------------------------------------ files and headers


def test_screens_are_served_with_type_cache_and_security_headers(suite):
    r = get(suite, "/")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '<script type="module" src="/console/app.js">' in r.text and "<script>" not in r.text
    screen_headers_ok(r)
    assert r.headers["Cache-Control"] == "no-cache" and re.fullmatch(r'"[0-9a-f]{16}(-gz)?"', r.headers["ETag"])
    for path in ("/console/", "/console"):
        assert get(suite, path).text == r.text
    portal = get(suite, "/portal/")
    assert portal.status_code == 200 and "/portal/portal.js" in portal.text
    screen_headers_ok(portal)
    js = get(suite, "/console/app.js")
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8", js.headers
    with open(os.path.join(REPO, "web/console/app.js"), "rb") as f:
        assert js.content == f.read()
    screen_headers_ok(js)
    assert get(suite, "/common/base.css").headers["Content-Type"] == "text/css; charset=utf-8"
    head = requests.head(suite.url("/console/app.js"), timeout=HTTP_TIMEOUT)
    assert head.status_code == 200 and head.content == b"" and head.headers["ETag"] == js.headers["ETag"]
    # the API keeps its own answers: JSON, nosniff, no screen policy
    api = get(suite, "/healthz")
    assert api.headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" not in api.headers


def test_gzip_when_accepted_and_304_for_a_known_etag(suite):
    plain = get(suite, "/console/member.js", headers={"Accept-Encoding": "identity"})
    zipped = get(suite, "/console/member.js", headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(zipped.headers["Content-Length"]) < int(plain.headers["Content-Length"]) / 2
    assert zipped.content == plain.content          # requests inflates it: the same file
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'
    refused = get(suite, "/console/member.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    again = get(suite, "/console/member.js", headers={"Accept-Encoding": "gzip",
                                                      "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == zipped.headers["ETag"]
    screen_headers_ok(again)
    other = get(suite, "/console/member.js", headers={"Accept-Encoding": "identity",
                                                      "If-None-Match": zipped.headers["ETag"]})
    assert other.status_code == 200                 # the plain variant has another tag


@pytest.mark.parametrize("path", [
    "/console/../gateway/main.c", "/common/%2e%2e/%2e%2e/Makefile", "/console/..%2f..%2fMakefile",
    "/console//app.js", "/console/app.js/", "/portal/../../etc/passwd", "/console/missing.js",
])
def test_no_file_outside_the_loaded_screens(suite, path):
    status, body = raw_get(suite, path)
    assert status == 404, (path, status, body[:200])
    assert b"#include" not in body and b"root:" not in body
    assert json.loads(body)["type"] == "/problems/not-found"


def test_permissions_of_the_callers_role(suite):
    email, password, _ = staff(suite, "viewer")
    viewer = suite.client_as(suite.login(email, password))
    r = viewer.get("/v1/me/permissions")
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "viewer"
    held = set(r.json()["permissions"])
    assert {"member.read", "billing.read", "analytics.timeline.read"} <= held
    assert not held & {"member.write", "member.export", "member.erase", "member.staff.manage"}
    owner = suite.client.get("/v1/me/permissions").json()
    assert owner["role"] == "owner" and {"member.write", "member.export", "member.erase"} <= set(owner["permissions"])
    assert len(owner["permissions"]) == len(set(owner["permissions"]))
    anonymous = get(suite, "/v1/me/permissions")
    assert anonymous.status_code == 401
    spec = test_openapi.fetch(suite.client)
    test_openapi.check(spec, "get", "/v1/me/permissions", r)
    test_openapi.check(spec, "get", "/v1/me/permissions", anonymous)


def test_the_document_says_how_cookies_sign_in(suite):
    """Every route a token opens is open to the session cookies too; the logins name the cookie
    and the CSRF token they send, and the logouts the cookie they clear."""
    spec = test_openapi.fetch(suite.client)
    schemes = spec["components"]["securitySchemes"]
    assert schemes["sessionCookie"] == dict(schemes["sessionCookie"], type="apiKey", name="kaiin_session", **{"in": "cookie"})
    assert schemes["memberSessionCookie"]["name"] == "kaiin_member_session"
    members = test_openapi.find_operation(spec, "get", "/v1/members")
    assert members["security"] == [{"bearerAuth": []}, {"sessionCookie": []}, {"memberSessionCookie": []}]
    assert test_openapi.find_operation(spec, "post", "/v1/auth/login")["security"] == []
    for path in ("/v1/auth/login", "/v1/member-auth/login"):
        headers = test_openapi.find_operation(spec, "post", path)["responses"]["200"]["headers"]
        assert {"Set-Cookie", "X-CSRF-Token"} <= set(headers), (path, headers)
    for path in ("/v1/auth/logout", "/v1/member-auth/logout"):
        headers = test_openapi.find_operation(spec, "post", path)["responses"]["204"]["headers"]
        assert headers["Set-Cookie"] == {"$ref": "#/components/headers/SetCookieCleared"}
    email, password, _ = staff(suite, "viewer")
    _, r = cookie_login(suite, "/v1/auth/login", email, password)
    pattern = test_openapi.resolve(spec, {"$ref": "#/components/headers/SetCookie"})["schema"]["pattern"]
    assert re.match(pattern, r.headers["Set-Cookie"]), (pattern, r.headers["Set-Cookie"])
    test_openapi.check(spec, "post", "/v1/auth/login", r)


def _catalogue(lang):
    with open(os.path.join(REPO, "web/common/messages/%s.js" % lang), encoding="utf-8") as f:
        return re.findall(r"^\s*'([a-z0-9_.]+)':|, '([a-z0-9_.]+)':", f.read(), re.M)


def _scripts():
    for folder, _, files in os.walk(os.path.join(REPO, "web")):
        for name in files:
            if name.endswith(".js"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    yield os.path.relpath(os.path.join(folder, name), REPO), f.read()


def test_every_word_comes_from_the_catalogues_and_no_script_writes_markup():
    ja = {a or b for a, b in _catalogue("ja")}
    en = {a or b for a, b in _catalogue("en")}
    assert len(ja) > 150 and ja == en, (sorted(ja - en), sorted(en - ja))
    used = set()
    for path, text in _scripts():
        for bad in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                    "localStorage.setItem('kaiin.", "sessionStorage"):
            assert bad not in text or (bad.startswith("localStorage") and path.endswith("i18n.js")), (path, bad)
        used |= {k for k in re.findall(r"\bt\('([a-z0-9_.]+)'", text) if not k.endswith(".")}
    assert used and used <= ja, sorted(used - ja)


# ------------------------------------------------------------------ cookies and CSRF


def test_staff_login_sets_a_strict_httponly_cookie_and_writes_need_its_csrf_token(suite, client):
    email, password, sid = staff(suite, "support")
    http, r = cookie_login(suite, "/v1/auth/login", email, password)
    cookie = r.headers["Set-Cookie"]
    token = r.json()["token"]
    assert cookie == "kaiin_session=%s; Path=/; HttpOnly; SameSite=Strict" % token, cookie
    assert "Strict-Transport-Security" not in r.headers     # plain HTTP: no HSTS
    csrf = r.headers["X-CSRF-Token"]
    assert re.fullmatch(r"[0-9a-f]{64}", csrf)
    # reads by cookie alone; the CSRF token comes again with GET /v1/me
    me = http.get(suite.url("/v1/me"), timeout=HTTP_TIMEOUT)
    assert me.status_code == 200 and me.json()["id"] == sid and me.headers["X-CSRF-Token"] == csrf
    m = client.create_member(name="CSRF 確認")
    path = suite.url("/v1/members/" + m["id"])
    refused = http.patch(path, json={"note": "no token"}, timeout=HTTP_TIMEOUT)
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["type"] == "/problems/csrf", refused.json()
    assert refused.json()["title"] == "CSRF token missing or wrong", refused.json()
    wrong = http.patch(path, json={"note": "wrong token"}, timeout=HTTP_TIMEOUT,
                       headers={"X-CSRF-Token": "0" * 64, "Accept-Language": "ja"})
    assert wrong.status_code == 403 and wrong.json()["type"] == "/problems/csrf"
    assert wrong.json()["title"] == "CSRF トークンがないか、正しくありません", wrong.json()   # its page's title
    assert "X-CSRF-Token" not in refused.headers and "X-CSRF-Token" not in wrong.headers
    assert client.get("/v1/members/" + m["id"]).json()["note"] is None      # nothing written
    ok = http.patch(path, json={"note": "with token"}, headers={"X-CSRF-Token": csrf}, timeout=HTTP_TIMEOUT)
    assert ok.status_code == 200 and ok.json()["note"] == "with token", ok.text
    # a bearer client needs no CSRF token, cookie or not
    bearer = requests.patch(path, json={"note": "bearer"}, timeout=HTTP_TIMEOUT,
                            headers={"Authorization": "Bearer " + token})
    assert bearer.status_code == 200 and "X-CSRF-Token" not in bearer.headers
    # the bootstrap token or an API key is never taken from a cookie
    stranger = requests.get(suite.url("/v1/me"), cookies={"kaiin_session": suite.token}, timeout=HTTP_TIMEOUT)
    assert stranger.status_code == 401
    # logout (a write: it needs the token too) ends the session and clears the cookie
    assert http.post(suite.url("/v1/auth/logout"), timeout=HTTP_TIMEOUT).status_code == 403
    out = http.post(suite.url("/v1/auth/logout"), headers={"X-CSRF-Token": csrf}, timeout=HTTP_TIMEOUT)
    assert out.status_code == 204
    assert out.headers["Set-Cookie"] == "kaiin_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    after = requests.get(suite.url("/v1/me"), cookies={"kaiin_session": token}, timeout=HTTP_TIMEOUT)
    assert after.status_code == 401 and "kaiin_session=;" in after.headers["Set-Cookie"]


def test_cookie_is_secure_behind_tls(suite):
    email, password, _ = staff(suite, "viewer")
    _, r = cookie_login(suite, "/v1/auth/login", email, password, headers={"X-Forwarded-Proto": "https"})
    assert r.headers["Set-Cookie"].endswith("; HttpOnly; SameSite=Strict; Secure"), r.headers["Set-Cookie"]
    assert r.headers["Strict-Transport-Security"] == "max-age=63072000"


def test_member_session_has_its_own_cookie_and_csrf_token(suite, client):
    m = client.create_member(name="ポータル 会員")
    password = new_password()
    assert client.post("/v1/members/%s/password" % m["id"], {"password": password}).status_code == 204
    http, r = cookie_login(suite, "/v1/member-auth/login", m["email"], password)
    assert r.headers["Set-Cookie"].startswith("kaiin_member_session=kms_"), r.headers["Set-Cookie"]
    csrf = r.headers["X-CSRF-Token"]
    me = http.get(suite.url("/v1/member-auth/me"), timeout=HTTP_TIMEOUT)
    assert me.status_code == 200 and me.json()["id"] == m["id"]
    # with a staff cookie too, the portal's requests say which session they mean
    email, staff_password, _ = staff(suite, "viewer")
    staff_http, _ = cookie_login(suite, "/v1/auth/login", email, staff_password)
    both = {"kaiin_session": staff_http.cookies["kaiin_session"],
            "kaiin_member_session": http.cookies["kaiin_member_session"]}
    as_staff = requests.get(suite.url("/v1/member-auth/me"), cookies=both, timeout=HTTP_TIMEOUT)
    assert as_staff.status_code == 403
    as_member = requests.get(suite.url("/v1/member-auth/me"), cookies=both, timeout=HTTP_TIMEOUT,
                             headers={"X-Kaiin-Session": "member"})
    assert as_member.status_code == 200 and as_member.json()["id"] == m["id"]
    assert http.post(suite.url("/v1/member-auth/logout"), timeout=HTTP_TIMEOUT).status_code == 403
    out = http.post(suite.url("/v1/member-auth/logout"), headers={"X-CSRF-Token": csrf}, timeout=HTTP_TIMEOUT)
    assert out.status_code == 204 and out.headers["Set-Cookie"].startswith("kaiin_member_session=; ")
    assert http.get(suite.url("/v1/member-auth/me"), timeout=HTTP_TIMEOUT).status_code == 401


# ------------------------------------------------------------------ in the browser


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="python3-selenium is not installed "
                                    "(scripts/install-deps.sh installs it)")
    if not _chromium() or not shutil.which("chromedriver"):
        pytest.skip("chromium or chromedriver is not installed (scripts/install-deps.sh installs "
                    "chromium and chromium-driver)")
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = _chromium()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=ja", "--no-first-run",
                "--disable-background-networking", "--disable-component-update"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(WAIT_S)
    os.makedirs(ARTIFACTS, exist_ok=True)
    yield driver
    driver.quit()


def screenshot(driver, name):
    """The whole page, not only what the window shows, as build/test-artifacts/console/<name>.png."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}})
    with open(os.path.join(ARTIFACTS, name + ".png"), "wb") as f:
        f.write(base64.b64decode(shot["data"]))


@pytest.fixture
def page(browser, request):
    """The browser, a screenshot of wherever the test ended kept as an artifact."""
    yield browser
    for handle in browser.window_handles[1:]:
        browser.switch_to.window(handle)
        browser.close()
    browser.switch_to.window(browser.window_handles[0])
    screenshot(browser, request.node.name)


def by(css):
    from selenium.webdriver.common.by import By
    return (By.CSS_SELECTOR, css)


def wait(driver, condition, timeout=WAIT_S):
    """condition(driver) once it is true; an element redrawn while it was read is read again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                         ).until(condition)


def shown(driver, css):
    from selenium.webdriver.support import expected_conditions as EC
    return wait(driver, EC.visibility_of_element_located(by(css)))


def text_of(driver, css):
    return driver.find_element(*by(css)).text


def menu(driver):
    """The menu's items, in order, as the role sees them."""
    return driver.execute_script("return [...document.querySelectorAll('nav a[data-nav]')].map(a => a.textContent)")


def sign_in(driver, suite, email, password, empty_cache=False):
    driver.get(suite.url("/healthz"))
    driver.delete_all_cookies()
    if empty_cache:
        driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.get(suite.url("/"))
    from selenium.webdriver.common.keys import Keys
    shown(driver, "#signin-email").send_keys(email, Keys.TAB, password, Keys.ENTER)   # keyboard only
    shown(driver, "#member-search")


def search(driver, tag, words):
    """Filters the members' list by tag, then types words as a person would; returns the rows'
    (id, name, phone) once the list shows the search's answer."""
    driver.find_element(*by("#member-tag")).send_keys(tag)
    box = driver.find_element(*by("#member-search"))
    for ch in words:
        box.send_keys(ch)
    wait(driver, lambda d: d.execute_script(
        "return document.getElementById('member-search').value === arguments[0] && "
        "!document.getElementById('members-table').hasAttribute('aria-busy')", words))
    return rows(driver)


def rows(driver):
    return driver.execute_script(
        "return [...document.querySelectorAll('#members-table tbody tr')].map(r => "
        "[r.dataset.memberId, r.querySelector('.member-name').textContent, "
        "r.querySelector('.member-phone').textContent])")


def edit_phone(driver, phone):
    box = shown(driver, "#edit-phone")
    box.clear()
    box.send_keys(phone)
    driver.find_element(*by("#edit-save")).click()


def test_owner_finds_by_hiragana_edits_phone_and_a_stale_tab_shows_the_conflict(suite, client, page):
    tag = "t" + uuid.uuid4().hex[:12]
    hanako = member(client, tag, name="山田 花子", name_kana="ヤマダ ハナコ", phone="090-1111-2222")
    member(client, tag, name="佐藤 一郎", name_kana="サトウ イチロウ")
    email, password, _ = staff(suite, "owner", name="店長")
    sign_in(page, suite, email, password)
    assert menu(page) == ["ダッシュボード", "会員", "問い合わせ", "メール", "請求", "スタッフ", "API キー", "監査ログ", "設定"]
    found = search(page, tag, "やまだ")                       # hiragana finds katakana
    assert found == [[hanako["id"], "山田 花子", "090-1111-2222"]], found
    page.find_element(*by("a.member-name")).click()
    assert shown(page, "#member-title").text == "山田 花子"
    detail = page.current_url
    assert hanako["id"] in detail and "やまだ" not in detail and "%E3%82%84" not in detail

    # a second tab opens the same member's form before the first one saves
    first = page.current_window_handle
    page.switch_to.new_window("tab")
    page.get(detail)
    shown(page, "#member-edit").click()
    second = page.current_window_handle
    page.switch_to.window(first)
    shown(page, "#member-edit").click()
    edit_phone(page, "090-9999-8888")
    wait(page, lambda d: d.find_elements(*by(".member-phone dd"))
         and text_of(d, ".member-phone dd") == "090-9999-8888")
    assert client.get("/v1/members/" + hanako["id"]).json()["phone"] == "090-9999-8888"

    page.switch_to.window(second)
    edit_phone(page, "080-7777-6666")
    conflict = shown(page, "#conflict")
    assert "ほかの人がこの会員を先に更新しました" in conflict.text
    phone_row = page.find_element(*by('#conflict tr[data-field="phone"]'))
    assert phone_row.find_element(*by(".stored")).text == "090-9999-8888"
    assert phone_row.find_element(*by(".yours")).text == "080-7777-6666"
    assert page.find_element(*by("#edit-phone")).get_attribute("value") == "080-7777-6666"
    assert client.get("/v1/members/" + hanako["id"]).json()["phone"] == "090-9999-8888"   # not overwritten
    screenshot(page, "conflict")
    page.find_element(*by("#conflict-overwrite")).click()       # the user chooses their input
    wait(page, lambda d: d.find_elements(*by(".member-phone dd"))
         and text_of(d, ".member-phone dd") == "080-7777-6666")
    assert client.get("/v1/members/" + hanako["id"]).json()["phone"] == "080-7777-6666"


def test_viewer_sees_the_masked_phone_and_no_edit_or_export(suite, client, page):
    tag = "t" + uuid.uuid4().hex[:12]
    m = member(client, tag, name="山田 太郎", name_kana="ヤマダ タロウ", phone="090-1234-5678")
    email, password, _ = staff(suite, "viewer")
    page.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                         {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True})
    try:
        sign_in(page, suite, email, password)
        assert menu(page) == ["ダッシュボード", "会員", "問い合わせ", "メール", "請求", "設定"]   # no スタッフ for a viewer
        assert search(page, tag, "やまだ") == [[m["id"], "山田 太郎", "***-****-5678"]]
        assert not page.find_elements(*by("#members-export"))
        assert page.execute_script("return window.innerWidth") == 375
        assert page.execute_script("return document.documentElement.scrollWidth") <= 375
        screenshot(page, "viewer-list-375px")
        page.find_element(*by("a.member-name")).click()
        shown(page, "#member-title")
        assert text_of(page, ".member-phone dd") == "***-****-5678"
        for button in ("#member-edit", "#member-withdraw", "#member-erase"):
            assert not page.find_elements(*by(button)), button
        assert page.execute_script("return document.documentElement.scrollWidth") <= 375
        screenshot(page, "viewer-375px")
    finally:
        page.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_markup_in_a_name_is_shown_as_text(suite, client, page):
    tag = "t" + uuid.uuid4().hex[:12]
    name = "<img src=x onerror=alert(1)>"
    m = member(client, tag, name=name, note='<script>alert(2)</script>')
    email, password, _ = staff(suite, "owner")
    sign_in(page, suite, email, password)
    assert search(page, tag, "img") == [[m["id"], name, ""]]
    assert not page.find_elements(*by("main img"))
    page.find_element(*by("a.member-name")).click()
    assert shown(page, "#member-title").text == name
    assert '<script>alert(2)</script>' in text_of(page, "dl.record")
    assert not page.find_elements(*by("main img")) and not page.find_elements(*by("main script"))
    from selenium.common.exceptions import NoAlertPresentException
    with pytest.raises(NoAlertPresentException):
        page.switch_to.alert.text


def _fetch(driver, method, path, headers=None, body=None):
    """A fetch from the page (its cookie, same origin): [status, type of the problem or '']."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[1], {method: arguments[0], headers: Object.assign("
        "{'Content-Type': 'application/json'}, arguments[2]), body: arguments[3]})"
        ".then(async r => done([r.status, r.ok ? '' : (await r.json()).type]))"
        ".catch(e => done([0, String(e)]));", method, path, headers or {}, body)


def test_cookie_write_without_the_csrf_token_is_refused_in_the_browser(suite, client, page):
    m = client.create_member(name="CSRF ブラウザ")
    email, password, _ = staff(suite, "admin")
    sign_in(page, suite, email, password)
    assert "kaiin_session" not in page.execute_script("return document.cookie")      # HttpOnly
    path = "/v1/members/" + m["id"]
    body = json.dumps({"note": "from the page"})
    assert _fetch(page, "PATCH", path, body=body) == [403, "/problems/csrf"]
    assert client.get(path).json()["note"] is None
    token = page.execute_async_script(
        "const done = arguments[0];"
        "fetch('/v1/me').then(r => done(r.headers.get('X-CSRF-Token')));")
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert _fetch(page, "PATCH", path, headers={"X-CSRF-Token": token}, body=body) == [200, ""]
    assert client.get(path).json()["note"] == "from the page"


def test_detail_shows_timeline_subscription_and_invoice_under_csp_with_no_other_host(suite, client, page):
    """The member's page with what analytics and billing know of them, in yen and JST dates;
    every request it made went to the gateway, and the policy refused nothing."""
    tag = "t" + uuid.uuid4().hex[:12]
    m = member(client, tag, name="山田 次郎", name_kana="ヤマダ ジロウ")
    billing_util.attach(client, m["id"])
    plan = billing_util.create_plan(client, amount=1000, tax_mode="exclusive", tax_rate=10)
    billing_util.subscribe(client, m["id"], plan)
    entries = []
    for _ in range(100):                         # analytics reads the events as they come
        entries = client.get("/v1/members/%s/timeline" % m["id"]).json().get("data", [])
        if len(entries) >= 3:
            break
        time.sleep(0.2)
    assert entries, "analytics made no timeline for the member"
    email, password, _ = staff(suite, "owner")
    sign_in(page, suite, email, password)
    search(page, tag, "やまだ")
    page.find_element(*by("#members-export")).click()          # the list's filters, as CSV
    wait(page, lambda d: text_of(d, "#announce") == "CSV をダウンロードしました。")
    page.find_element(*by("a.member-name")).click()
    shown(page, "#member-title")
    invoices = shown(page, "#member-invoices")
    assert "¥1,100" in invoices.text and "支払い済み" in invoices.text, invoices.text
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", invoices.text), invoices.text
    subscriptions = shown(page, "#member-subscriptions").text
    assert plan["code"] in subscriptions and "有効" in subscriptions, subscriptions
    wait(page, lambda d: len(d.find_elements(*by("#member-timeline li"))) >= len(entries))
    assert entries[0]["summary"] in text_of(page, "#member-timeline")
    origin = suite.url("")
    names = page.execute_script(
        "return performance.getEntries().filter(e => e.entryType === 'navigation' || "
        "e.entryType === 'resource').map(e => e.name)")
    for path in ("/v1/members/" + m["id"], "/v1/members/%s/timeline" % m["id"], "/v1/invoices?member_id=",
                 "/v1/members/export?q=%E3%82%84%E3%81%BE%E3%81%A0&tag=" + tag):
        assert any(path in n for n in names), (path, names)
    assert all(n.startswith(origin + "/") for n in names), [n for n in names if not n.startswith(origin)]
    errors = [e for e in page.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not errors, errors
    screen_headers_ok(get(suite, "/"))


def test_first_load_of_the_console_is_under_300_kb(suite, page):
    email, password, sid = staff(suite, "owner")
    sign_in(page, suite, email, password, empty_cache=True)
    wait(page, lambda d: d.execute_script(
        "return !document.getElementById('members-table').hasAttribute('aria-busy')"))
    sizes = page.execute_script(
        "return performance.getEntries().filter(e => e.entryType === 'navigation' || "
        "e.entryType === 'resource').map(e => [e.name, e.transferSize, e.encodedBodySize, e.decodedBodySize])")
    total = sum(s[1] for s in sizes)
    # keyboard: the search has the focus, Tab moves on, and the focus is always drawn
    from selenium.webdriver.common.keys import Keys
    focus = "const e = document.activeElement; return [e.id, getComputedStyle(e).outlineStyle]"
    assert page.execute_script(focus) == ["member-search", "solid"]
    page.switch_to.active_element.send_keys(Keys.TAB)
    assert page.execute_script(focus) == ["member-status", "solid"]
    # スタッフ, read only: the owner's own account among them
    page.find_element(*by('nav a[data-nav="staff"]')).click()
    mine = '#staff-table tr[data-staff-id="%s"]' % sid

    def found_or_more(d):                       # oldest first: a newer account may be pages on
        if d.find_elements(*by(mine)):
            return True
        more = d.find_elements(*by("#staff-more"))
        if more and more[0].is_displayed() and more[0].is_enabled():
            more[0].click()
        return False
    wait(page, found_or_more)
    row = page.find_element(*by(mine))
    assert email in row.text and "オーナー" in row.text and "有効" in row.text
    assert not page.find_elements(*by("main button:not([hidden]):not(#staff-more)"))
    with open(os.path.join(ARTIFACTS, "first-load.json"), "w") as f:
        json.dump({"transferred_bytes": total, "entries": sizes}, f, indent=1)
    assert all(s[1] > 0 for s in sizes if "/v1/" not in s[0]), sizes      # none from the cache
    names = [s[0] for s in sizes]
    assert len(names) == len(set(names) - {suite.url("/v1/me")}) + 2, names  # each once (/v1/me twice)
    assert 0 < total < 300 * 1024, (total, sizes)


def test_field_errors_in_japanese_the_english_switch_withdrawal_and_typed_erasure(suite, client, page):
    m = client.create_member(name="消去 花子", name_kana="ショウキョ ハナコ", phone="090-2222-3333")
    email, password, _ = staff(suite, "owner")
    sign_in(page, suite, email, password)
    page.get(suite.url("/#/members/" + m["id"]))
    shown(page, "#member-edit").click()
    edit_phone(page, "12")
    error = shown(page, "#edit-phone-error")
    assert error.text == "電話番号は 10〜15 桁の数字で入力してください（例: 090-1234-5678）。"
    assert page.find_element(*by("#edit-phone")).get_attribute("aria-invalid") == "true"
    assert page.find_element(*by("#edit-phone")).get_attribute("aria-describedby").endswith("edit-phone-error")
    assert client.get("/v1/members/" + m["id"]).json()["phone"] == "090-2222-3333"
    page.find_element(*by("#edit-cancel")).click()

    shown(page, "#language").click()                       # English, every word from en.js
    assert shown(page, "#record-title").text == "Details"
    assert menu(page) == ["Dashboard", "Members", "Inquiries", "Mail", "Billing", "Staff", "API keys", "Audit log", "Settings"]
    assert page.execute_script("return document.documentElement.lang") == "en"
    shown(page, "#language").click()
    assert shown(page, "#record-title").text == "基本情報"

    shown(page, "#member-withdraw").click()
    shown(page, "#withdraw-reason").send_keys("引っ越しのため")
    page.find_element(*by("dialog .confirm")).click()
    wait(page, lambda d: "退会済み" in text_of(d, ".badges"))
    assert client.get("/v1/members/" + m["id"]).json()["status"] == "withdrawn"
    assert not page.find_elements(*by("#member-edit"))

    shown(page, "#member-erase").click()
    confirm = shown(page, "dialog .confirm")
    assert not confirm.is_enabled()
    typed = page.find_element(*by("#erase-confirm"))
    typed.send_keys(m["email"][:-1])
    assert not confirm.is_enabled()
    typed.send_keys(m["email"][-1])
    assert confirm.is_enabled()
    page.find_element(*by("#erase-reason")).send_keys("本人からの依頼")
    confirm.click()
    wait(page, lambda d: not d.find_elements(*by("dialog")) and "@erased.invalid" in text_of(d, "dl.record"))
    after = client.get("/v1/members/" + m["id"]).json()
    assert after["name"] is None and after["email"].endswith("@erased.invalid")


def test_member_signs_in_to_the_portal(suite, client, page):
    m = client.create_member(name="山田 花子", name_kana="ヤマダ ハナコ")
    password = new_password()
    assert client.post("/v1/members/%s/password" % m["id"], {"password": password}).status_code == 204
    page.get(suite.url("/healthz"))
    page.delete_all_cookies()
    page.get(suite.url("/portal/"))
    shown(page, "#signin-email").send_keys(m["email"])
    page.find_element(*by("#signin-password")).send_keys("wrong-" + password + "\n")
    assert shown(page, ".form-error").text == "メールアドレスまたはパスワードが違います。"
    page.find_element(*by("#signin-password")).send_keys(password + "\n")
    signout = shown(page, "#signout")
    assert text_of(page, "main h1") == "山田 花子 さんのマイページ"
    signout.click()
    assert shown(page, ".form-error").text == "ログアウトしました。"
    assert get(suite, "/v1/member-auth/me", cookies={c["name"]: c["value"] for c in page.get_cookies()}).status_code == 401
