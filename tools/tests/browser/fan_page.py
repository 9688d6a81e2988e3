"""The fan page and the operator view, driven in headless Chromium against a local server.

Run by scripts/browser-test (which installs Chromium, its WebDriver and Selenium when missing):

    python tools/tests/browser/fan_page.py --server target/debug/local-server --out target/browser

The story, in one browser with a window per person:
  - an operator opens /admin.html and lets one fan in at a time (maxActive 1);
  - fan A signs in, sees a sold-out concert said so, joins, and is admitted;
  - fan B joins and waits behind fan A; the operator pauses admission and B's page says so;
  - fan A picks seats 7 and 8, holds them (a countdown runs), tops up, pays, sees the receipt;
  - the operator resumes; fan B is admitted and sees seats 7 and 8 SOLD on the map;
  - fan D joins a concert in its pre-queue, sees the countdown to the opening, and is admitted
    once the opening's draw has placed it;
  - fan E, admitted to the stadium and looking at its sections (nothing else polls there), keeps
    its turn: the page carries the token every 30 s (its timers sped up); when the service says
    the turn idled out (a mocked QUEUE_TOKEN_IDLE), the page says so and joins again;
  - fan C, on the page served from another origin (as the stack's CloudFront serves it, CORS
    between), opens the stadium, whose seats are listed a section at a time, holds the best two
    seats of a section, tops up and pays;
  - fan L, there too, holds two seats and leaves checkout: the page asks first, then releases
    the hold as it goes, and back on the page the fan is told the seats went back on sale;
  - the page's API client retries exactly as docs/api.md's "Retrying requests" says;
  - against a deployed stack (its network scripted), the fan page and the operator view sign in
    through the user pool's managed login (a stand-in page served here): the authorization code
    with PKCE, the code redeemed with the verifier, the ID token sent to the API (the operator
    API for /admin), renewed with the refresh token before it expires, and no token in storage.
Some people do it on a phone (a 390 x 844 window: fan B, fan P on the stadium, the operator), the
rest on a desktop (1100 x 900). Every step leaves a screenshot in --out, no window's console may
log an error, and every screen passes axe-core (--axe, injected into the page) with no serious
or critical violation, is no wider than its window, and shows no element marked hidden. On both
sizes seats are targets of at least 44 x 44 px and the Hold button is in view once a seat is
picked; no waiting time is promised while admission is paused or every slot is taken; and the
server answers HEAD / at once.
"""

import argparse
import base64
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

# Waits are for what a local tick-per-second server does in one to three seconds; CI's two busy
# cores get ten times that.
PATIENCE = 30
# The pre-queued concert's sale opens this long after the server starts: after fan D has joined,
# and about when the rest of the story is done.
SALE_OPENS_IN = 40
# A phone's screen in CSS pixels (an iPhone 12 to 15), and the smallest touch target (WCAG 2.5.5).
PHONE = {"width": 390, "height": 844}
TARGET_PX = 44
# A section of 1,200 seats stays within this page height on a phone: the map scrolls in its box.
PHONE_PAGE_MAX_PX = 2000

# What every screen is checked for besides axe: nothing wider than the window (no sideways
# scroll), no element marked hidden shown anyway.
PAGE_CHECKS = """
const root = document.documentElement;
const shown = [...document.querySelectorAll("[hidden]")].filter((e) => getComputedStyle(e).display !== "none");
return { width: root.scrollWidth, window: root.clientWidth,
         hiddenShown: shown.map((e) => e.id || e.className || e.tagName) };
"""
AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ["violations"] }).then(
  (result) => done(result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.length, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }))),
  (error) => done({ error: String(error) }));
"""


class Failure(AssertionError):
    pass


def catalog(days_ahead, sale_opens_in):
    now = datetime.now(timezone.utc)
    day = (now + timedelta(days=days_ahead)).strftime("%Y-%m-%d")
    opens = (now + timedelta(seconds=sale_opens_in)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "concerts": [
            {"concertId": "opening-night", "title": "Opening Night", "dates": [day],
             "seatPrices": [{"fromSeat": 1, "toSeat": 12, "price": 70000}],
             "queueOpensAt": None, "saleOpensAt": opens},
            {"concertId": "harbour-lights", "title": "Harbour Lights", "dates": [day],
             "seatPrices": [{"fromSeat": 1, "toSeat": 10, "price": 88000},
                            {"fromSeat": 11, "toSeat": 24, "price": 55000}],
             "maxTicketsPerFan": 4},
            {"concertId": "last-seat", "title": "The Last Seat", "dates": [day],
             "seatPrices": [{"fromSeat": 1, "toSeat": 1, "price": 10000}]},
            {"concertId": "seoul-stadium", "title": "Seoul Stadium Live", "dates": [day],
             "sections": [{"section": "Floor A", "fromSeat": 1, "toSeat": 400, "price": 150000},
                          {"section": "Floor B", "fromSeat": 401, "toSeat": 800, "price": 150000},
                          {"section": "Stand 101", "fromSeat": 801, "toSeat": 2000, "price": 99000}]},
        ]
    }


# Where the page host stands in for the user pool's managed login (authDomain in config.json).
MANAGED_LOGIN_PATH = "/managed-login"


class PageHost:
    """web/ served from another origin, as the stack's CloudFront serves it, with a config.json
    that points the page at the local server: the page then calls the API cross-origin."""

    def __init__(self, web_dir, scratch):
        self.root = os.path.join(scratch, "page")
        shutil.copytree(web_dir, self.root)
        handler = functools.partial(QuietHandler, directory=self.root)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def point_at(self, api_url):
        with open(os.path.join(self.root, "config.json"), "w") as f:
            json.dump({"apiUrl": api_url, "signIn": "local"}, f)

    def stop(self):
        self.server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        # The user pool's managed login, stood in for: a page that signs nobody in (the test
        # reads the request from its address, then comes back as the user pool would).
        if self.path.startswith(MANAGED_LOGIN_PATH + "/oauth2/authorize"):
            page = (b"<!doctype html><title>Managed login</title><link rel='icon' href='data:,'>"
                    b"<h1>Managed login (stand-in)</h1>")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        super().do_GET()


class LocalServer:
    """local-server on a free port of 127.0.0.1, with the test's catalog; stopped at the end."""

    def __init__(self, binary, catalog_file, log_file, cors_origin):
        env = dict(os.environ, PORT="0", RUST_LOG="info,aws=warn,hyper=warn",
                   CORS_ALLOWED_ORIGINS=cors_origin)
        self.process = subprocess.Popen(
            [binary, "--catalog", catalog_file],
            stdout=subprocess.PIPE, stderr=open(log_file, "w"), env=env, text=True)
        line = self.process.stdout.readline()
        match = re.match(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not match:
            self.stop()
            raise Failure(f"local-server did not start: {line!r} (log: {log_file})")
        self.url = match.group(1)

    def call(self, method, path, user=None, token=None, body=None, key=None, operator=None):
        headers = {"Content-Type": "application/json"}
        if operator:
            headers["X-Operator-Id"] = operator
        if user:
            headers["X-User-Id"] = user
        if token:
            headers["X-Queue-Token"] = token
        if key:
            headers["Idempotency-Key"] = key
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as refused:
            return refused.code, json.loads(refused.read() or b"null")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def sell_out(server, concert, seats):
    """Buys every seat of a concert over HTTP, as another fan would, until the list says sold out."""
    user = "early-bird"
    status, ticket = server.call("POST", f"/concerts/{concert}/queue/tokens", user=user)
    assert status == 201, (status, ticket)
    token = ticket["token"]
    until(lambda: server.call("GET", "/queue/status", user=user, token=token)[1]["status"] == "ACTIVE",
          "the early bird admitted")
    _, dates = server.call("GET", f"/concerts/{concert}/dates", user=user, token=token)
    date = dates["dates"][0]["date"]
    status, held = server.call("POST", "/reservations", user=user, token=token,
                               body={"concertId": concert, "date": date, "seatNumbers": seats})
    assert status == 201, (status, held)
    server.call("POST", "/balance/charges", user=user, body={"amount": held["price"]}, key="bird-1")
    status, paid = server.call("POST", "/payments", user=user, token=token,
                               body={"reservationId": held["reservationId"]})
    assert status == 201, (status, paid)

    def sold_out():
        _, listed = server.call("GET", "/concerts", user=user)
        return any(c["concertId"] == concert and c["soldOut"] for c in listed["concerts"])

    until(sold_out, f"{concert} marked sold out by a tick")


def until(check, what, patience=PATIENCE):
    deadline = time.monotonic() + patience
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (StaleElementReferenceException, KeyError) as error:
            last = error
        time.sleep(0.2)
    raise Failure(f"waited {patience} s for: {what} ({last or 'never true'})")


class Browser:
    """One headless Chromium, a window per person, each step screenshotted."""

    def __init__(self, chromium, chromedriver, out, axe):
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,900", "--no-first-run", "--disable-extensions",
                     "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                     "--disable-backgrounding-occluded-windows"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        self.out = out
        self.shots = 0
        self.windows = {}
        self.console = []
        with open(axe) as f:
            self.axe = f.read()
        self.audits = {"desktop": 0, "phone": 0}
        self.phones = set()

    def window(self, name, url):
        if self.windows:
            self.driver.switch_to.new_window("window")
        self.windows[name] = self.driver.current_window_handle
        self.driver.get(url)

    def phone_window(self, name, url):
        """A window the size of a phone's screen, as a phone lays the page out (its viewport)."""
        self.driver.switch_to.new_window("window")
        self.windows[name] = self.driver.current_window_handle
        self.phones.add(name)
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {**PHONE, "deviceScaleFactor": 2, "mobile": True})
        self.driver.get(url)

    def to(self, name):
        self.driver.switch_to.window(self.windows[name])

    def size(self):
        handle = self.driver.current_window_handle
        return "phone" if any(self.windows[n] == handle for n in self.phones) else "desktop"

    def audit(self, step):
        """axe-core on the screen as it is (0 serious or critical violations), and the page no
        wider than the window, and nothing marked hidden shown."""
        page = self.driver.execute_script(PAGE_CHECKS)
        if page["width"] > page["window"]:
            raise Failure(f"{step}: the page is {page['width']} px wide in a {page['window']} px window")
        if page["hiddenShown"]:
            raise Failure(f"{step}: elements marked hidden are shown: {page['hiddenShown']}")
        if not self.driver.execute_script("return typeof window.axe === 'object'"):
            self.driver.execute_script(self.axe)
        self.driver.set_script_timeout(60)
        violations = self.driver.execute_async_script(AXE_RUN)
        if isinstance(violations, dict):
            raise Failure(f"{step}: axe did not run: {violations}")
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        if bad:
            raise Failure(f"{step}: axe found serious or critical violations: {json.dumps(bad, indent=1)}")
        self.audits[self.size()] += 1

    def seats_are_targets(self):
        """Every seat of the map is at least TARGET_PX square."""
        small = self.driver.execute_script(
            "return [...document.querySelectorAll('#seat-map .seat')].map((e) => e.getBoundingClientRect())"
            ".filter((r) => r.width < arguments[0] || r.height < arguments[0]).length", TARGET_PX)
        seats = len(self.finds("#seat-map .seat"))
        assert seats and small == 0, f"{small} of {seats} seats smaller than {TARGET_PX} px"

    def in_view(self, css):
        """The element is wholly inside the window, not scrolled off it."""
        return self.driver.execute_script(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
            "return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight", css)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css):
        return any(e.is_displayed() for e in self.finds(css))

    def text(self, css):
        return self.find(css).text

    def wait_text(self, css, pattern, what):
        until(lambda: self.visible(css) and re.search(pattern, self.text(css)), f"{what}: {css} ~ {pattern!r}")

    def wait_label(self, css, label, what):
        # The map is drawn again at each refresh: read the element as it stands, not a stale copy.
        until(lambda: self.find(css).get_attribute("aria-label") == label, f"{what}: {css} labelled {label!r}")

    def click(self, css):
        # A map redrawn by its refresh between finding a seat and clicking it: find it again.
        def clicked():
            if not (self.visible(css) and self.find(css).is_enabled()):
                return False
            self.find(css).click()
            return True

        until(clicked, f"{css} to be clicked")

    def type(self, css, text):
        until(lambda: self.visible(css) and self.find(css).is_enabled(), f"{css} to take typing")
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def shot(self, name):
        self.shots += 1
        path = os.path.join(self.out, f"{self.shots:02d}-{name}.png")
        self.driver.save_screenshot(path)
        self.check_console(name)
        self.audit(name)
        print(f"  ok  {name} ({self.size()})  ({path})")

    def check_console(self, step):
        errors = [e for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
        self.console += errors
        if errors:
            raise Failure(f"console errors by step {step}: {json.dumps(errors, indent=1)}")

    def quit(self):
        self.driver.quit()


def sign_in(browser, name):
    browser.wait_text("#sign-in h2", "Sign in", "the sign-in box")
    browser.type("#fan-name", name)
    browser.click("#local-sign-in button")
    browser.wait_text("#who-name", re.escape(name), "signed in")


def seat_status(browser, seat):
    return browser.find(f'#seat-map .seat[data-seat="{seat}"]').get_attribute("data-status")


def head_answered_at_once(server):
    """HEAD / answers like GET / (the fan page's headers, its length), without a body, at once."""
    started = time.monotonic()
    request = urllib.request.Request(server.url + "/", method="HEAD")
    with urllib.request.urlopen(request, timeout=5) as answer:
        status, headers, body = answer.status, answer.headers, answer.read()
    took = time.monotonic() - started
    with urllib.request.urlopen(server.url + "/", timeout=5) as answer:
        page = answer.read()
    assert status == 200 and body == b"", (status, body[:80])
    assert headers["Content-Type"].startswith("text/html"), headers["Content-Type"]
    assert int(headers["Content-Length"]) == len(page), (headers["Content-Length"], len(page))
    assert took < 1, f"HEAD / took {took:.2f} s"
    print(f"  ok  HEAD / answered in {took * 1000:.0f} ms, no body")


def story(browser, server, page_host):
    url = server.url + "/"
    head_answered_at_once(server)

    # The operator lets one fan in at a time.
    browser.window("operator", server.url + "/admin.html")
    browser.type("#operator", "ops-1")
    until(lambda: len(Select(browser.find("#concert")).options) == 4, "the operator's concert list")
    Select(browser.find("#concert")).select_by_value("harbour-lights")
    browser.click("#pick-room button")
    browser.wait_text("#state", "OPEN", "the waiting room")
    browser.type("#max-active", "1")
    browser.click("#knobs button")
    until(lambda: server.call("GET", "/admin/concerts/harbour-lights/waiting-room",
                              operator="ops-1")[1]["maxActive"] == 1, "maxActive applied")
    browser.wait_text("#as-of", "As of", "the room's figures")
    browser.shot("operator-one-at-a-time")

    # Fan D joins a concert whose sale has not opened: the pre-queue, counting down.
    browser.window("fan-d", url)
    browser.wait_text("#sign-in h2", "Sign in", "the sign-in box")
    browser.shot("sign-in")
    sign_in(browser, "fan-d")
    browser.wait_text('[data-concert="opening-night"] button', "Join the pre-queue", "a pre-queue to join")
    browser.click('[data-concert="opening-night"] button')
    browser.wait_text("#waiting-status", "pre-queue", "fan D in the pre-queue")
    browser.wait_text("#countdown", r"^\d+ s$", "the countdown to the opening")
    assert browser.text("#position") == "–", browser.text("#position")
    browser.shot("fan-d-pre-queue-countdown")

    # Fan A: the concert list (the sold-out one says so), then joined and admitted.
    browser.window("fan-a", url)
    sign_in(browser, "fan-a")
    browser.wait_text('[data-concert="last-seat"]', "Sold out", "the sold-out concert")
    sold_out_button = browser.find('[data-concert="last-seat"] button')
    assert not sold_out_button.is_enabled(), "a sold-out concert cannot be joined"
    browser.shot("concerts-one-sold-out")
    browser.click('[data-concert="harbour-lights"] button')
    browser.wait_text("#active-until", "left to choose and pay", "fan A admitted")
    until(lambda: len(browser.finds("#seat-map .seat")) == 24, "fan A's seat map")
    browser.seats_are_targets()
    browser.shot("fan-a-admitted-seat-map")

    # Fan B, on a phone, waits behind fan A, who has the only slot: no time is promised, as
    # the line moves only when fan A is done; the operator pauses; B's page says so.
    browser.phone_window("fan-b", url)
    sign_in(browser, "fan-b")
    browser.click('[data-concert="harbour-lights"] button')
    browser.wait_text("#position", r"^1$", "fan B first in line")
    assert browser.visible("#waiting") and not browser.visible("#paused")
    browser.wait_text("#wait", "not known yet", "no waiting time while every slot is taken")
    assert browser.visible("#no-eta"), "fan B told why no time is given"
    browser.wait_text("#next-poll", r"Next check in \d+ s", "the next poll")
    browser.shot("fan-b-waiting")
    browser.to("operator")
    browser.wait_text("#active", r"^1$", "the operator sees fan A active")
    browser.wait_text("#waiting", r"^1$", "the operator sees fan B waiting")
    browser.click("#pause")
    browser.wait_text("#state", "PAUSED", "admission paused")
    browser.to("fan-b")
    until(lambda: browser.visible("#paused"), "fan B told admission is paused")
    browser.wait_text("#wait", "^paused$", "no waiting time while paused")
    assert not browser.visible("#no-eta") and "about" not in browser.text("#waiting")
    browser.shot("fan-b-waiting-paused")

    # Fan A holds seats 7 and 8, tops up and pays.
    browser.to("fan-a")
    browser.click('#seat-map .seat[data-seat="7"]')
    browser.click('#seat-map .seat[data-seat="8"]')
    browser.wait_text("#hold-picked", "Hold seats 7, 8", "two seats picked")
    assert browser.in_view("#hold-picked"), "the Hold button in view once seats are picked"
    browser.wait_label('#seat-map .seat[data-seat="7"]', "seat 7, ₩88,000, your pick", "seat 7 labelled as the fan's pick")
    browser.shot("fan-a-two-seats-picked")
    browser.click("#hold-picked")
    browser.wait_text("#hold-countdown", r"^[45]:\d\d$", "the hold's countdown")
    rows = [r.text for r in browser.finds("#hold-seats tbody tr")]
    assert rows == ["7 – ₩88,000", "8 – ₩88,000"], rows
    browser.wait_text("#pay", r"Top up ₩176,000 more to pay", "the shortfall")
    assert browser.find("#top-up-amount").get_attribute("value") == "176000"
    browser.shot("fan-a-hold")
    browser.click("#top-up button")
    browser.wait_text("#balance", "₩176,000", "the balance topped up")
    browser.click("#pay")
    browser.wait_text("#receipt h2", "Paid", "the receipt")
    assert browser.text("#receipt-seats") == "7, 8"
    assert browser.text("#receipt-amount") == "₩176,000"
    assert browser.text("#receipt-balance") == "₩0"
    assert re.fullmatch(r"[0-9a-f-]{36}", browser.text("#receipt-id"))
    browser.shot("fan-a-receipt")
    _, history = server.call("GET", "/balance/transactions", user="fan-a")
    kinds = sorted(entry["type"] for entry in history["items"])
    assert kinds == ["CHARGE", "PAYMENT"], history

    # The operator resumes: fan B is admitted and sees seats 7 and 8 SOLD.
    browser.to("operator")
    browser.click("#pause")
    browser.wait_text("#state", "OPEN", "admission resumed")
    browser.to("fan-b")
    until(lambda: len(browser.finds("#seat-map .seat")) == 24, "fan B admitted to the seat map")
    assert [seat_status(browser, s) for s in (6, 7, 8, 9)] == ["AVAILABLE", "SOLD", "SOLD", "AVAILABLE"]
    assert not browser.find('#seat-map .seat[data-seat="7"]').is_enabled()
    browser.wait_label('#seat-map .seat[data-seat="8"]', "seat 8, ₩88,000, sold", "seat 8 labelled sold")
    browser.seats_are_targets()
    browser.click('#seat-map .seat[data-seat="24"]')
    browser.wait_text("#hold-picked", "Hold seat 24", "fan B's pick, at the map's end")
    assert browser.in_view("#hold-picked"), "the Hold button in view on the phone"
    browser.shot("fan-b-sees-seats-sold")
    browser.click('#seat-map .seat[data-seat="24"]')
    browser.wait_text("#hold-picked", "Pick seats on the map", "fan B's pick undone")

    # Fan C, on the page served from another origin (as CloudFront serves it), calling the API
    # cross-origin: the stadium's sections first, one section's seats, the best two of it, paid.
    browser.window("fan-c", page_host.origin + "/")
    sign_in(browser, "fan-c")
    browser.click('[data-concert="seoul-stadium"] button')
    until(lambda: len(browser.finds("#section-list .section")) == 3, "the stadium's sections")
    assert not browser.visible("#map-box")
    assert re.search(r"Stand 101\s+₩99,000\s+1,200 free", browser.text('[data-section="Stand 101"]'))
    browser.shot("fan-c-stadium-sections")
    # Stand 101's 1,200 seats come in two pages: the page follows nextCursor to the last seat.
    browser.click('[data-section="Stand 101"]')
    until(lambda: len(browser.finds("#seat-map .seat")) == 1200, "Stand 101's 1,200 seats, paged")
    assert browser.find('#seat-map .seat[data-seat="2000"]')
    browser.click('[data-section="Floor B"]')
    until(lambda: len(browser.finds("#seat-map .seat")) == 400, "Floor B's 400 seats")
    assert browser.text("#map-title").endswith("Floor B")
    Select(browser.find("#quantity")).select_by_value("2")
    browser.click("#hold-best")
    browser.wait_text("#hold-countdown", r"^[45]:\d\d$", "fan C's hold")
    rows = [r.text for r in browser.finds("#hold-seats tbody tr")]
    assert len(rows) == 2 and all("Floor B" in r for r in rows), rows
    browser.shot("fan-c-best-two-in-floor-b")
    browser.click("#top-up button")
    browser.wait_text("#pay", r"Pay ₩300,000", "fan C topped up")
    browser.click("#pay")
    browser.wait_text("#receipt h2", "Paid", "fan C's receipt, across origins")
    assert browser.text("#receipt-amount") == "₩300,000"
    browser.shot("fan-c-paid-across-origins")

    leaving_checkout(browser, server, page_host.origin + "/")
    phone_journey(browser, url)
    operator_on_a_phone(browser, server.url + "/admin.html")

    # Fan D: the order was drawn at the opening, and the only fan in it is admitted.
    browser.to("fan-d")
    until(lambda: len(browser.finds("#seat-map .seat")) == 12, "fan D admitted after the opening",
          patience=90)
    browser.shot("fan-d-admitted-after-the-opening")

    idle_turn(browser, page_host.origin + "/")
    retry_rules(browser, url)
    login = page_host.origin + MANAGED_LOGIN_PATH
    managed_login(browser, url, login)
    operator_managed_login(browser, url, login)

    for name in browser.windows:
        browser.to(name)
        browser.check_console(f"the end, {name}'s window")


def leaving_checkout(browser, server, url):
    """Fan L holds two seats and leaves checkout: the page asks first, and as it goes it
    releases the hold (across origins, in a request that outlives the page), so the seats go
    back on sale at once rather than when the hold lapses. Back on the page, the fan is told."""
    browser.window("fan-l", url)
    sign_in(browser, "fan-l")
    browser.click('[data-concert="seoul-stadium"] button')
    until(lambda: len(browser.finds("#section-list .section")) == 3, "fan L admitted to the stadium")
    browser.click('[data-section="Floor B"]')
    until(lambda: len(browser.finds("#seat-map .seat")) == 400, "Floor B's seats for fan L")
    Select(browser.find("#quantity")).select_by_value("2")
    browser.click("#hold-best")
    browser.wait_text("#hold-countdown", r"^[45]:\d\d$", "fan L's hold")
    browser.wait_text("#leaving-hint", "Leaving or reloading this page gives the seats back",
                      "fan L told what leaving does")
    browser.shot("fan-l-holds-and-is-told-what-leaving-does")
    _, listed = server.call("GET", "/reservations?limit=1", user="fan-l")
    held = listed["items"][0]
    assert held["status"] == "HELD", held
    # The page asks before it goes (its beforeunload handler cancels the event: the browser's
    # "Leave site?"; WebDriver's navigation never shows that prompt, so the event is sent here),
    # and the fan leaves anyway.
    asked = browser.driver.execute_script(
        "const e = new Event('beforeunload', { cancelable: true }); dispatchEvent(e); return e.defaultPrevented")
    assert asked, "the page asks before leaving checkout"
    browser.driver.get("about:blank")
    path = f"/reservations/{held['reservationId']}"
    until(lambda: server.call("GET", path, user="fan-l")[1]["status"] == "RELEASED",
          "fan L's hold released as the page went")

    # Back on the page: told why, and the seats are on sale again.
    browser.driver.get(url)
    browser.wait_text("#notice", "You left checkout, so the seats you held went back on sale",
                      "fan L told the seats went back")
    until(lambda: len(browser.finds("#section-list .section")) == 3, "fan L back at the sections")
    browser.click('[data-section="Floor B"]')
    until(lambda: len(browser.finds("#seat-map .seat")) == 400, "Floor B's seats again")
    statuses = [seat_status(browser, seat) for seat in held["seatNumbers"]]
    assert statuses == ["AVAILABLE", "AVAILABLE"], statuses
    browser.shot("fan-l-back-seats-on-sale-again")


def phone_journey(browser, url):
    """Fan P, on a phone, buys a seat deep in the stadium's largest section: the sections,
    1,200 seats in a box that scrolls (not a page of thousands of pixels), a seat picked with
    the Hold button still in view, the hold, the top-up and the receipt."""
    browser.phone_window("fan-p", url)
    browser.wait_text("#sign-in h2", "Sign in", "the sign-in box on a phone")
    browser.shot("phone-sign-in")
    sign_in(browser, "fan-p")
    browser.wait_text('[data-concert="seoul-stadium"] button', "Join the queue", "the concerts on a phone")
    browser.shot("phone-concerts")
    browser.click('[data-concert="seoul-stadium"] button')
    until(lambda: len(browser.finds("#section-list .section")) == 3, "fan P admitted to the stadium")
    browser.shot("phone-stadium-sections")
    browser.click('[data-section="Stand 101"]')
    until(lambda: len(browser.finds("#seat-map .seat")) == 1200, "Stand 101's seats on a phone")
    browser.seats_are_targets()
    height = browser.driver.execute_script("return document.documentElement.scrollHeight")
    assert height <= PHONE_PAGE_MAX_PX, f"a 1,200-seat section makes a {height} px page"
    seat = next(s for s in range(1990, 801, -1)
                if seat_status(browser, s) == "AVAILABLE")
    # Scrolled to as a fan scrolls, to the middle of the screen (the driver's own scrolling
    # leaves it at the window's bottom edge, under the Hold bar), then tapped.
    browser.driver.execute_script("arguments[0].scrollIntoView({ block: 'center' })",
                                  browser.find(f'#seat-map .seat[data-seat="{seat}"]'))
    browser.click(f'#seat-map .seat[data-seat="{seat}"]')
    browser.wait_text("#hold-picked", f"Hold seat {seat}", "fan P's pick")
    assert browser.in_view("#hold-picked"), "the Hold button in view after a pick deep in the map"
    browser.wait_label(f'#seat-map .seat[data-seat="{seat}"]', f"Stand 101, seat {seat}, ₩99,000, your pick", "fan P's seat labelled as its pick")
    browser.shot("phone-seat-picked")
    browser.click("#hold-picked")
    browser.wait_text("#hold-countdown", r"^[45]:\d\d$", "fan P's hold")
    browser.shot("phone-hold")
    browser.click("#top-up button")
    browser.wait_text("#pay", r"Pay ₩99,000", "fan P topped up")
    browser.click("#pay")
    browser.wait_text("#receipt h2", "Paid", "fan P's receipt")
    assert browser.text("#receipt-seats") == str(seat)
    browser.shot("phone-receipt")


def operator_on_a_phone(browser, admin_url):
    """The operator view fits a phone while it watches a concert."""
    browser.phone_window("operator-phone", admin_url)
    browser.type("#operator", "ops-2")
    until(lambda: len(Select(browser.find("#concert")).options) == 4, "the concerts on a phone")
    Select(browser.find("#concert")).select_by_value("seoul-stadium")
    browser.click("#pick-room button")
    browser.wait_text("#as-of", "As of", "the stadium's waiting room on a phone")
    browser.shot("phone-operator-watching")


# The page's API client under answers a server rarely gives on cue: fetch is replaced, in the
# page, by a script of answers, and every request the client sends is recorded.
RETRY_RULES = """
const done = arguments[arguments.length - 1];
(async () => {
  const { Api } = await import("./api.js");
  const calls = [];
  const script = [];
  const realFetch = window.fetch;
  window.fetch = async (url, init) => {
    calls.push({ url, method: init.method, headers: init.headers, body: init.body });
    return script.shift()();
  };
  const problem = (status, code, headers = {}) => () =>
    new Response(JSON.stringify({ type: "/problems/x", title: "X", status, code, detail: code }),
      { status, headers: { "Content-Type": "application/problem+json", ...headers } });
  const ok = (body) => () => new Response(JSON.stringify(body), { status: 201 });
  const lost = () => Promise.reject(new TypeError("Failed to fetch"));
  const api = new Api({ apiUrl: "" }, () => ({ "X-User-Id": "rules" }));
  const outcome = async (send) => {
    const started = performance.now();
    try {
      const body = await send();
      return { body, calls: calls.splice(0), ms: performance.now() - started };
    } catch (error) {
      return { code: error.code, calls: calls.splice(0), ms: performance.now() - started };
    }
  };
  const results = {};
  try {
    script.push(problem(503, "SERVICE_BUSY", { "Retry-After": "1" }), lost,
      problem(409, "IDEMPOTENCY_KEY_IN_USE"), ok({ paymentId: "p-1" }));
    results.payment = await outcome(() =>
      api.post("/payments", { reservationId: "r-1" }, { token: "t-1", idempotencyKey: "key-1" }));
    for (const [status, code] of [[409, "SEAT_UNAVAILABLE"], [500, "INTERNAL_ERROR"],
                                  [401, "QUEUE_TOKEN_EXPIRED"], [422, "IDEMPOTENCY_KEY_REUSED"]]) {
      script.push(problem(status, code));
      results[code] = await outcome(() =>
        api.post("/reservations", { quantity: 2 }, { idempotencyKey: "key-2" }));
    }
    script.push(problem(409, "IDEMPOTENCY_KEY_IN_USE"));
    results.unkeyed = await outcome(() => api.get("/balance"));
  } finally {
    window.fetch = realFetch;
  }
  done(results);
})().catch((error) => done({ error: String(error) }));
"""


# The deployed pages, their network replaced before any of their scripts run: config.json names
# the stack's user pool, its managed login at LOGIN (the page host's stand-in) and the operator
# API; the token endpoint redeems a code for tokens whose ID token lives FIRST_LIFE seconds, and
# a refresh token for a renewed ID token; the APIs answer as a stack would. Every request a page
# sends is recorded in window.sent, with when.
FIRST_LIFE = 4
DEPLOYED_PAGE = """
(() => {
  const sent = (window.sent = []);
  const operatorView = location.pathname.endsWith("admin.html");
  const email = operatorView ? "operator@example.com" : "fan@example.com";
  const jwt = (claims) => ["e30", btoa(JSON.stringify(claims)).replace(/=+$/, ""), "sig"].join(".");
  const now = () => Math.floor(Date.now() / 1000);
  const json = (body, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  window.fetch = async (url, init = {}) => {
    url = String(url);
    const headers = init.headers || {};
    const raw = typeof init.body === "string" ? init.body : null;
    const body = raw === null ? null : raw.startsWith("{") ? JSON.parse(raw) : Object.fromEntries(new URLSearchParams(raw));
    sent.push({ url, headers, body, at: Date.now() });
    if (url.endsWith("config.json")) {
      return json({ apiUrl: "https://api.example.test/", operatorApiUrl: "https://operator-api.example.test/",
                    signIn: "cognito", region: "ap-northeast-2", userPoolId: "ap-northeast-2_Pool1",
                    userPoolClientId: "client-1", authDomain: "LOGIN" });
    }
    if (url === "LOGIN/oauth2/token") {
      const claims = { sub: "user-sub-1", email, "cognito:groups": ["operators"] };
      if (body.grant_type === "authorization_code") {
        window.firstToken = jwt({ ...claims, exp: now() + FIRST_LIFE });
        window.firstExpiresAt = Date.now() + 1000 * FIRST_LIFE;
        return json({ id_token: window.firstToken, access_token: "access-1", refresh_token: "refresh-1",
                      expires_in: FIRST_LIFE, token_type: "Bearer" });
      }
      if (body.grant_type === "refresh_token" && body.refresh_token === "refresh-1") {
        window.renewedToken = jwt({ ...claims, renewed: true, exp: now() + 3600 });
        return json({ id_token: window.renewedToken, access_token: "access-2", expires_in: 3600, token_type: "Bearer" });
      }
      return json({ error: "invalid_grant" }, 400);
    }
    if (url === "https://api.example.test/concerts") {
      return json({ concerts: operatorView ? [{ concertId: "aurora-nights", title: "Aurora Nights" }] : [] });
    }
    if (url === "https://operator-api.example.test/admin/concerts/aurora-nights/waiting-room") {
      return json({ concertId: "aurora-nights", state: "OPEN", waiting: 12, active: 3, admittedTotal: 40,
                    droppedTotal: 1, seats: { free: 100, held: 2, sold: 8 }, estimatedWaitSecondsForLast: 60,
                    admitTickSeconds: 10, admitPerTick: 50, maxActive: 500 });
    }
    return json({ message: "Not Found" }, 404);
  };
})();
""".replace("FIRST_LIFE", str(FIRST_LIFE))


# Fan E's page, before any of its scripts run: timers of 30 s or more fire 30 times sooner (the
# keep-turn beat in a second), every request is recorded in window.sent, and while window.idle
# is set, any request carrying a queue token is answered 401 QUEUE_TOKEN_IDLE, as the service
# answers a turn that idled out.
FAST_IDLE_PAGE = """
(() => {
  const realTimeout = window.setTimeout.bind(window);
  window.setTimeout = (run, ms, ...rest) => realTimeout(run, ms >= 30000 ? ms / 30 : ms, ...rest);
  const realFetch = window.fetch.bind(window);
  const sent = (window.sent = []);
  window.idle = false;
  window.fetch = async (url, init = {}) => {
    const token = (init.headers || {})["X-Queue-Token"];
    sent.push({ url: String(url), method: init.method || "GET", token: token || null });
    if (window.idle && token) {
      return new Response(JSON.stringify({ type: "/problems/queue-token-idle", title: "Unauthorized",
        status: 401, code: "QUEUE_TOKEN_IDLE", detail: "the queue token ended: idle" }),
        { status: 401, headers: { "Content-Type": "application/problem+json" } });
    }
    return realFetch(url, init);
  };
})();
"""


def idle_turn(browser, url):
    """An admitted fan whose page is open keeps the turn: a gated request carrying the token
    every beat, even where nothing else is polled. A turn that idled out is said plainly, and
    "Join the queue again" joins again."""
    browser.driver.switch_to.new_window("window")
    browser.windows["fan-e"] = browser.driver.current_window_handle
    browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FAST_IDLE_PAGE})
    browser.driver.get(url)
    sign_in(browser, "fan-e")
    browser.click('[data-concert="seoul-stadium"] button')
    until(lambda: len(browser.finds("#section-list .section")) == 3, "fan E admitted to the stadium")

    def beats():
        sent = browser.driver.execute_script("return window.sent")
        return [r for r in sent if r["url"].endswith("/concerts/seoul-stadium/dates") and r["token"]]

    # The dates are asked for once on entering; then each beat asks again with the token.
    until(lambda: len(beats()) >= 3, "fan E's page keeping the turn")
    assert len({r["token"] for r in beats()}) == 1, beats()
    assert browser.visible("#section-list") and not browser.visible("#ended")
    browser.shot("fan-e-keeps-its-turn")

    browser.driver.execute_script("window.idle = true")
    browser.wait_text("#ended-title", "Your turn ended while you were away", "fan E told its turn idled out")
    assert "Join the queue again" in browser.text("#ended-text"), browser.text("#ended-text")
    assert browser.text("#ended-back") == "Join the queue again", browser.text("#ended-back")
    browser.shot("fan-e-turn-idled-out")
    browser.driver.execute_script("window.idle = false; window.sent.length = 0")
    browser.click("#ended-back")
    # The service still has fan E's turn (only the answers were mocked): joining again gives it.
    until(lambda: len(browser.finds("#section-list .section")) == 3, "fan E back in after joining again")
    sent = browser.driver.execute_script("return window.sent")
    joins = [r for r in sent if r["method"] == "POST" and r["url"].endswith("/concerts/seoul-stadium/queue/tokens")]
    assert len(joins) == 1, sent
    browser.shot("fan-e-joined-again")


def deployed_window(browser, name, url, login):
    """A window whose pages run against the scripted stack (DEPLOYED_PAGE), at `url`."""
    browser.driver.switch_to.new_window("window")
    browser.windows[name] = browser.driver.current_window_handle
    script = DEPLOYED_PAGE.replace("LOGIN", login)
    browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    browser.driver.get(url)


def through_managed_login(browser, page_url, login, button):
    """Clicks `button` and checks where the page sends the browser: the managed login's
    authorize endpoint, for a code, with an S256 challenge and this page's address. Comes back
    as the user pool does, with a code and the state; returns the request's parameters."""
    browser.click(button)
    until(lambda: browser.driver.current_url.startswith(login + "/oauth2/authorize"),
          "the page sent the browser to the managed login")
    asked = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(browser.driver.current_url).query))
    assert (asked["response_type"], asked["client_id"], asked["redirect_uri"]) == (
        "code", "client-1", page_url), asked
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43, asked
    assert asked["state"] and set(asked["scope"].split()) == {"openid", "email"}, asked
    browser.driver.get(f"{page_url}?code=code-1&state={urllib.parse.quote(asked['state'])}")
    return asked


def redeemed_with_the_verifier(browser, asked):
    """The page redeemed the code once, with the verifier whose SHA-256 is the challenge, took
    the code out of its address, and keeps no token in storage. Returns what the page sent."""
    sent = browser.driver.execute_script("return window.sent")
    redeemed = [r for r in sent if r["url"].endswith("/oauth2/token")
                and r["body"]["grant_type"] == "authorization_code"]
    assert len(redeemed) == 1, redeemed
    body = redeemed[0]["body"]
    assert (body["code"], body["client_id"], body["redirect_uri"]) == (
        "code-1", "client-1", asked["redirect_uri"]), body
    digest = hashlib.sha256(body["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == asked["code_challenge"], body
    assert "code=" not in browser.driver.current_url, browser.driver.current_url
    stored = browser.driver.execute_script(
        "return JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])")
    first = browser.driver.execute_script("return window.firstToken")
    assert "refresh-1" not in stored and first not in stored, stored
    assert body["code_verifier"] not in stored, "the verifier is dropped once used"
    return sent


def renewed_before_expiry(browser):
    """The page sent the refresh token for a new ID token before the first one expired."""
    def renewal():
        sent = browser.driver.execute_script("return window.sent")
        return [r for r in sent if r["url"].endswith("/oauth2/token")
                and r["body"]["grant_type"] == "refresh_token"]
    until(lambda: renewal(), "the ID token renewed", patience=FIRST_LIFE + PATIENCE)
    renewed = renewal()[0]
    assert renewed["body"] == {"client_id": "client-1", "grant_type": "refresh_token",
                               "refresh_token": "refresh-1"}, renewed
    expires_at = browser.driver.execute_script("return window.firstExpiresAt")
    assert renewed["at"] < expires_at, f"renewed {expires_at - renewed['at']} ms before expiry"
    return renewed


def managed_login(browser, url, login):
    """Against a deployed stack the fan page signs in through the user pool's managed login
    (no password field of its own), sends the ID token, never X-User-Id, and renews it."""
    deployed_window(browser, "deployed", url, login)
    until(lambda: browser.visible("#cognito-sign-in") and not browser.visible("#local-sign-in"),
          "the user pool's sign-in button")
    assert not browser.finds("input[type=password]"), "no password field on the page"
    asked = through_managed_login(browser, url, login, "#cognito-sign-in button")
    browser.wait_text("#who-name", "fan@example.com", "signed in through the managed login")
    browser.wait_text("#concert-list", "No concerts are on sale", "the API called with the token")
    browser.shot("deployed-page-signed-in-through-managed-login")
    sent = redeemed_with_the_verifier(browser, asked)
    first = browser.driver.execute_script("return window.firstToken")
    api = [r for r in sent if r["url"].startswith("https://api.example.test/")]
    assert api and all(r["headers"].get("Authorization") == f"Bearer {first}" for r in api), api
    assert not any("X-User-Id" in r["headers"] for r in api), api
    renewed_before_expiry(browser)


def operator_managed_login(browser, url, login):
    """The operator view signs in the same way and watches a waiting room on the operator API
    with the ID token; once renewed, its polls carry the new one."""
    page = url + "admin.html"
    deployed_window(browser, "deployed-operator", page, login)
    until(lambda: browser.visible("#operator-sign-in-button") and not browser.visible("#pick-box"),
          "the operator's sign-in button")
    asked = through_managed_login(browser, page, login, "#operator-sign-in-button")
    browser.wait_text("#operator-name", "operator@example.com", "the operator signed in")
    until(lambda: browser.finds("#concert option"), "the concerts listed with the token")
    browser.click("#pick-room button")
    browser.wait_text("#state", "OPEN", "the waiting room, from the operator API")
    redeemed_with_the_verifier(browser, asked)
    renewed_before_expiry(browser)
    renewed = browser.driver.execute_script("return window.renewedToken")

    def polls():
        sent = browser.driver.execute_script("return window.sent")
        return [r for r in sent if "/admin/" in r["url"]]
    until(lambda: any(r["headers"].get("Authorization") == f"Bearer {renewed}" for r in polls()),
          "a poll with the renewed ID token")
    first = browser.driver.execute_script("return window.firstToken")
    expires_at = browser.driver.execute_script("return window.firstExpiresAt")
    for poll in polls():
        assert poll["url"].startswith("https://operator-api.example.test/admin/"), poll
        assert "X-Operator-Id" not in poll["headers"], poll
        token = poll["headers"].get("Authorization")
        assert token in (f"Bearer {first}", f"Bearer {renewed}"), poll
        assert not (token == f"Bearer {first}" and poll["at"] >= expires_at), "an expired token sent"
    browser.shot("operator-view-signed-in-through-managed-login")


def retry_rules(browser, url):
    """The client retries a 503 after Retry-After, a lost answer, and a keyed request still in
    use, always as the same request; any other refusal is the answer, sent once."""
    browser.window("retry-rules", url)
    browser.wait_text("#sign-in h2", "Sign in", "the page loaded")
    browser.driver.set_script_timeout(60)
    results = browser.driver.execute_async_script(RETRY_RULES)
    assert "error" not in results, results
    payment = results["payment"]
    assert payment["body"] == {"paymentId": "p-1"}, payment
    calls = payment["calls"]
    assert len(calls) == 4, calls
    assert all(c == calls[0] for c in calls), f"every retry is the same request: {calls}"
    assert calls[0]["headers"]["Idempotency-Key"] == "key-1", calls[0]
    assert calls[0]["headers"]["X-Queue-Token"] == "t-1", calls[0]
    assert json.loads(calls[0]["body"]) == {"reservationId": "r-1"}, calls[0]
    # Retry-After's second, the first backoff (0.25 s), and a second for the key in use.
    assert payment["ms"] >= 2250, payment["ms"]
    for code in ("SEAT_UNAVAILABLE", "INTERNAL_ERROR", "QUEUE_TOKEN_EXPIRED", "IDEMPOTENCY_KEY_REUSED"):
        assert (results[code]["code"], len(results[code]["calls"])) == (code, 1), results[code]
    assert (results["unkeyed"]["code"], len(results["unkeyed"]["calls"])) == ("IDEMPOTENCY_KEY_IN_USE", 1)
    print(f"  ok  retry rules (a keyed payment retried 3 times in {payment['ms'] / 1000:.1f} s, "
          "other refusals sent once)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", default="target/debug/local-server")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--out", default="target/browser")
    parser.add_argument("--web", default="web")
    parser.add_argument("--axe", default="target/browser-deps/node_modules/axe-core/axe.min.js")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for old in os.listdir(args.out):
        if old.endswith(".png"):
            os.remove(os.path.join(args.out, old))

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        catalog_file = os.path.join(scratch, "catalog.json")
        with open(catalog_file, "w") as f:
            json.dump(catalog(days_ahead=20, sale_opens_in=SALE_OPENS_IN), f)
        page_host = PageHost(args.web, scratch)
        server = LocalServer(args.server, catalog_file, os.path.join(args.out, "local-server.log"),
                             cors_origin=page_host.origin)
        page_host.point_at(server.url)
        browser = None
        try:
            sell_out(server, "last-seat", [1])
            browser = Browser(args.chromium, args.chromedriver, args.out, args.axe)
            story(browser, server, page_host)
        except (Failure, AssertionError, WebDriverException) as failure:
            if browser:
                try:
                    browser.driver.save_screenshot(os.path.join(args.out, "failure.png"))
                except WebDriverException:
                    pass
            traceback.print_exc()
            print(f"browser test FAILED: {failure}", file=sys.stderr)
            print(f"screenshots and the server's log: {args.out}", file=sys.stderr)
            return 1
        finally:
            if browser:
                browser.quit()
            server.stop()
            page_host.stop()
    print(f"browser: the fan page's story passed in {time.monotonic() - started:.0f} s, "
          f"{browser.shots} screenshots in {args.out}, no console errors, axe: 0 serious or "
          f"critical violations on {browser.audits['desktop']} desktop and "
          f"{browser.audits['phone']} phone screens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
