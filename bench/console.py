"""console.py - the console's figures over the seeded members (issue 12), in headless Chromium:
  - sign-in: from pressing Enter in the sign-in form to the first page of 会員一覧 (the screen
    sign-in lands on) shown with its rows (goal < 1 s);
  - search: from the last keystroke of a reading typed in hiragana (やまだ) to the list showing
    that search's rows, measured in the page (performance.now() at the last `input` event and
    when the table stops being busy), the console's pause after typing (TYPING_PAUSE_MS, web/common/dom.js) included
    (goal < 300 ms);
  - first load: bytes transferred (compressed) for the console's first load from an empty
    cache, and the hosts it asked (goal < 300 KB, no other host).
Run by bench/run.sh against a running gateway whose members are seeded already:
    console.py --url http://127.0.0.1:PORT --token TOKEN
which prints one machine-readable line, CONSOLE signin_ms=... search_p50_ms=... ..."""

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import urllib.parse
import urllib.request

# Readings as a person types them (hiragana); the seeded names' katakana readings match them.
READINGS = ["やまだ", "さとう", "すずき", "たなか", "いとう", "わたなべ", "こばやし", "かとう",
            "よしだ", "ささき", "まつもと", "いのうえ", "きむら", "しみず", "はやし", "もり",
            "いけだ", "はしもと", "いしかわ", "なかじま"]
WAIT_S = 20.0


def create_owner(url, token):
    email = "bench-console-%s@example.jp" % os.urandom(6).hex()
    password = "Bench-" + os.urandom(12).hex()
    body = json.dumps({"email": email, "password": password, "role": "owner"}).encode()
    request = urllib.request.Request(url + "/v1/staff", data=body, method="POST", headers={
        "Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        if r.status != 201:
            raise SystemExit("console: POST /v1/staff answered %d" % r.status)
    return email, password


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary or not shutil.which("chromedriver"):
        raise SystemExit("console: chromium or chromedriver is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--lang=ja", "--no-first-run",
                "--disable-background-networking", "--disable-component-update"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(WAIT_S)
    return driver


def until(driver, script, *args):
    """Polls script in the page until it returns a true value; returns it."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = driver.execute_script(script, *args)
        if value:
            return value
        time.sleep(0.005)
    raise SystemExit("console: the page did not get there within %d s" % WAIT_S)


ROWS_SHOWN = ("const t = document.getElementById('members-table');"
              "return t && !t.hasAttribute('aria-busy') && t.querySelectorAll('tbody tr').length;")


def sign_in(driver, url, email, password):
    """Signs in from an empty cache; returns (ms from Enter to rows shown, bytes, hosts)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    driver.get(url + "/healthz")
    driver.delete_all_cookies()
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    driver.get(url + "/")
    box = None
    deadline = time.monotonic() + WAIT_S
    while box is None and time.monotonic() < deadline:
        found = driver.find_elements(By.ID, "signin-email")
        box = found[0] if found and found[0].is_displayed() else None
    box.send_keys(email, Keys.TAB, password)
    start = time.monotonic()
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    until(driver, ROWS_SHOWN)
    signin_ms = (time.monotonic() - start) * 1000
    entries = driver.execute_script(
        "return performance.getEntries().filter(e => e.entryType === 'navigation' || "
        "e.entryType === 'resource').map(e => [e.name, e.transferSize])")
    origin = urllib.parse.urlsplit(url).netloc
    hosts = sorted({urllib.parse.urlsplit(name).netloc for name, _ in entries} - {origin})
    # the first load: everything but the API's answers (the list's page is data, not the console)
    total = sum(size for name, size in entries if "/v1/" not in urllib.parse.urlsplit(name).path)
    return signin_ms, total, hosts


def search(driver, reading):
    """Types reading into the search box; returns ms from its last keystroke to its rows."""
    from selenium.webdriver.common.by import By
    box = driver.find_element(By.ID, "member-search")
    box.clear()
    until(driver, ROWS_SHOWN.replace("return t", "return document.getElementById('member-search')"
                                     ".value === '' && t"))
    driver.execute_script("""
        const box = document.getElementById('member-search'), table = document.getElementById('members-table');
        window.__typed = 0; window.__shown = 0;
        if (!window.__observer)
          box.addEventListener('input', () => { window.__typed = performance.now(); window.__shown = 0; });
        else
          window.__observer.disconnect();
        window.__observer = new MutationObserver(() => {
          if (box.value === arguments[0] && !table.hasAttribute('aria-busy') && !window.__shown)
            window.__shown = performance.now();
        }).observe(table, {attributes: true, childList: true, subtree: true});""", reading)
    for ch in reading:
        box.send_keys(ch)
    shown = until(driver, "return window.__shown && window.__shown - window.__typed")
    names = driver.execute_script(
        "return [...document.querySelectorAll('#members-table tbody tr td:nth-child(3)')]"
        ".map(td => td.textContent)")
    return shown, names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    email, password = create_owner(args.url, args.token)
    driver = chromium()
    try:
        signins = []
        for _ in range(3):
            signin_ms, first_load, hosts = sign_in(driver, args.url, email, password)
            signins.append(signin_ms)
        times = []
        for reading in READINGS:
            ms, names = search(driver, reading)
            if not names:
                raise SystemExit("console: no member found for %s" % reading)
            times.append(ms)
    finally:
        driver.quit()
    times.sort()
    print("console: sign-in to rows %s ms; search %s ms" % (
        ", ".join("%.0f" % x for x in signins), ", ".join("%.0f" % x for x in times)), file=sys.stderr)
    print("CONSOLE signin_ms=%.0f signin_max_ms=%.0f search_p50_ms=%.0f search_max_ms=%.0f "
          "searches=%d first_load_kb=%.1f other_hosts=%d" % (
              statistics.median(signins), max(signins), statistics.median(times), times[-1],
              len(times), first_load / 1024, len(hosts)))


if __name__ == "__main__":
    main()
