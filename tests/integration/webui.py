#!/usr/bin/python3
"""The web pages of kerbgate-mgmtd in a real browser: Debian's chromium,
headless, driven through chromium-driver (WebDriver) by python3-selenium.

Usage: webui.py URL SETUP_CODE METRICS_URL OUTDIR GOOD_BUNDLE BAD_BUNDLE EVIL_PORT MGMTD_PID
                OWN_CERT OWN_KEY WRONG_KEY

Prints one "ok - ..." or "not ok - ..." line per check (test_webui.sh
counts them) and saves a screenshot of every page into OUTDIR.
"""
import faulthandler
import hashlib
import http.client
import http.server
import json
import re
import ssl
import sys
import threading
import time
import urllib.parse
import urllib.request

sys.path.insert(0, __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "lib"))
import kgbrowser  # noqa: E402

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

url, code, metrics_url, outdir, good_bundle, bad_bundle, evil_port, mgmtd_pid = sys.argv[1:9]
own_cert, own_key, wrong_key = sys.argv[9:12]
evil_port = int(evil_port)
PASSWORD = "Kerb-gate-2026!"
u = urllib.parse.urlsplit(url)

check = kgbrowser.check
results = kgbrowser.results
drv = kgbrowser.chromium()
wait = WebDriverWait(drv, 20)
faulthandler.dump_traceback_later(300, exit=True)  # a hang says where
faulthandler.register(__import__("signal").SIGUSR1)


def visible(id_):
    return wait.until(EC.visibility_of_element_located((By.ID, id_)))


def text_in(id_, pattern, timeout=20):
    return kgbrowser.text_in(drv, id_, pattern, timeout)


def shot(name):
    kgbrowser.shot(drv, outdir, name)


def fill(id_, value):
    kgbrowser.fill(drv, id_, value)


def raw(method, path, body=None, headers=None):
    """A request outside the browser, with whatever headers the test says."""
    ctx = ssl._create_unverified_context()
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=20)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheaders(), data


def session_cookie():
    for c in drv.get_cookies():
        if c["name"] == "__Host-kgsid":
            return c
    return None


def metrics():
    try:
        return urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    except OSError as e:
        print("# cannot read %s: %s" % (metrics_url, e))
        return ""


def prom(text, name, label=None):
    s = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            if label is None or label in line:
                s += float(line.rsplit(" ", 1)[1])
    return s


try:
    # ---- first start: the setup code sets the password --------------------------------
    drv.get(url + "/")
    visible("setup-form")
    shot("01-setup")
    fill("setup-code", "AAAA-BBBB-CCCC")
    fill("setup-password", PASSWORD)
    fill("setup-password2", PASSWORD)
    drv.find_element(By.CSS_SELECTOR, "#setup-form button").click()
    check("first start: a wrong setup code is refused, saying so",
          text_in("setup-msg", "setup code is not the one on the console"))
    fill("setup-code", code.lower())  # typed in lower case: still the code
    fill("setup-password", PASSWORD)
    fill("setup-password2", PASSWORD)
    drv.find_element(By.CSS_SELECTOR, "#setup-form button").click()
    visible("view-dashboard")
    check("first start: the setup code and a new password log the admin in", True)

    # ---- the session cookie -----------------------------------------------------------
    c = session_cookie()
    check("the session cookie is Secure, HttpOnly, SameSite=Strict, Path=/",
          c is not None and c.get("secure") and c.get("httpOnly") and c.get("sameSite") == "Strict"
          and c.get("path") == "/", str(c))
    st, hdrs, _ = raw("POST", "/api/v1/web/login", json.dumps({"password": PASSWORD}),
                      {"Origin": url, "Content-Type": "application/json"})
    sc = [v for k, v in hdrs if k.lower() == "set-cookie"]
    check("Set-Cookie carries every flag and a 256-bit random id",
          st == 200 and len(sc) == 1 and re.match(r"__Host-kgsid=[0-9a-f]{64}; ", sc[0]) and
          all(f in sc[0] for f in ("; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/", "; Max-Age=")),
          str(sc))

    # ---- the dashboard against /metrics ------------------------------------------------
    text_in("d-authrate", r"\d")  # two readings taken: rates are shown
    time.sleep(0.5)
    drv.execute_script("return 0")
    m = metrics()
    auth = int(prom(m, "kerbgate_auth_success_total"))
    check("dashboard: authentications since start match /metrics (%d)" % auth,
          text_in("d-authtotal", r"^%d$" % auth, 10), drv.find_element(By.ID, "d-authtotal").text)
    rows = drv.find_elements(By.CSS_SELECTOR, "#d-failures tr[data-reason]")
    shown = {r.get_attribute("data-reason"): float(r.find_elements(By.TAG_NAME, "td")[1].text) for r in rows}
    want = {}
    for line in m.splitlines():
        mm = re.match(r'kerbgate_auth_failures_total\{reason="([^"]+)"\} (\S+)', line)
        if mm and float(mm.group(2)) > 0:  # the page lists the reasons that happened
            want[mm.group(1)] = float(mm.group(2))
    check("dashboard: failures by reason match /metrics (%s)" %
          ", ".join("%s=%d" % (k, v) for k, v in sorted(want.items()) if v),
          shown == want and sum(want.values()) > 0, "shown %s" % shown)
    ups = {}
    for line in m.splitlines():
        mm = re.match(r'kerbgate_backend_up\{pool="([^"]+)",server="([^"]+)"\} (\S+)', line)
        if mm:
            ups[(mm.group(1), mm.group(2))] = "up" if float(mm.group(3)) > 0 else "down"
    brows = drv.find_elements(By.CSS_SELECTOR, "#d-backends tr")
    bshown = {}
    for r in brows:
        td = r.find_elements(By.TAG_NAME, "td")
        if len(td) == 3:
            bshown[(td[0].text, td[1].text)] = td[2].text
    check("dashboard: back-end health matches /metrics", bshown == ups and ups, "%s vs %s" % (bshown, ups))
    rc4 = int(prom(m, "kerbgate_auth_rc4_total"))
    check("dashboard: the RC4 warning counts the RC4 tickets of /metrics (%d)" % rc4,
          rc4 > 0 and text_in("d-rc4", r"^%d logins? since kerbgated started used an RC4 ticket" % rc4, 10),
          drv.find_element(By.ID, "d-rc4").text)
    check("dashboard: virtual hosts, uptime, active kvno shown",
          text_in("d-vhosts", "mail.corp.contoso.com") and text_in("d-uptime", r"System") and
          text_in("d-cred", r"Active kvno\s*\d+"))
    shot("02-dashboard")

    # ---- credentials, audit, settings ---------------------------------------------------
    drv.get(url + "/#credentials")
    check("credentials: the RC4 warning", text_in("c-rc4", r"RC4 ticket.*msDS-SupportedEncryptionTypes"))
    check("credentials: kvnos, states and enctypes, no key bytes",
          text_in("c-kvnos", r"active") and text_in("c-kvnos", r"aes256") and
          not re.search(r"[0-9a-f]{32}", drv.find_element(By.ID, "view-credentials").text))
    check("credentials: the service principals the keys serve",
          text_in("c-spns", r"http/mail\.corp\.contoso\.com"), drv.find_element(By.ID, "c-spns").text)
    shot("03-credentials")
    drv.get(url + "/#settings")
    check("settings: the device certificate's SHA-256 fingerprint",
          text_in("s-cert", r"([0-9A-F]{2}:){31}[0-9A-F]{2}"))
    shot("06-settings")

    # The admin's own certificate: a key of another certificate is refused,
    # the matching one is installed and served to new connections.
    def upload_cert(cert, key):
        drv.find_element(By.ID, "cert-file").send_keys(cert)
        drv.find_element(By.ID, "key-file").send_keys(key)
        drv.find_element(By.CSS_SELECTOR, "#cert-form button").click()

    upload_cert(own_cert, wrong_key)
    check("settings: a key that is not the certificate's is refused, saying so",
          text_in("s-msg", "does not belong to the certificate"), drv.find_element(By.ID, "s-msg").text)
    drv.get(url + "/#settings")
    visible("cert-form")
    upload_cert(own_cert, own_key)
    with open(own_cert) as f:
        want_fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()
    served = hashlib.sha256(ssl.PEM_cert_to_DER_cert(
        ssl.get_server_certificate((u.hostname, u.port)))).hexdigest() if text_in("s-msg", "installed") else ""
    check("settings: the admin's own certificate is installed and new connections get it",
          served == want_fp and text_in("s-cert", "CN ?= ?mgmt.example"), "%s vs %s" % (served, want_fp))

    # ---- firmware: a signed bundle is checked, a tampered one refused -------------------
    drv.get(url + "/#firmware")
    visible("fw-file")
    drv.find_element(By.ID, "fw-file").send_keys(good_bundle)
    drv.find_element(By.CSS_SELECTOR, "#fw-form button").click()
    ok = text_in("f-msg", "signed and checked", 60)
    check("firmware: a signed bundle uploads (progress 100 %) and RAUC checks it",
          ok and float(drv.find_element(By.ID, "f-up").get_attribute("value")) == 100 and
          text_in("f-details", "Compatible"), drv.find_element(By.ID, "f-msg").text)
    check("firmware: on a host without slots, Install stays disabled",
          not drv.find_element(By.ID, "f-install").is_enabled())
    shot("04-firmware")
    drv.find_element(By.ID, "fw-file").clear()
    drv.find_element(By.ID, "fw-file").send_keys(bad_bundle)
    drv.find_element(By.CSS_SELECTOR, "#fw-form button").click()
    check("firmware: a bundle signed by another CA is refused: bad signature",
          text_in("f-msg", r"Refused \(bad signature\)", 60), drv.find_element(By.ID, "f-msg").text)
    shot("05-firmware-refused")
    st, _, body = raw("POST", "/api/v1/firmware/bundle", b"", {
        "Origin": url, "Cookie": "__Host-kgsid=" + session_cookie()["value"],
        "X-CSRF-Token": drv.execute_script("return csrf"), "Content-Length": str(1 << 40)})
    check("firmware: a declared size beyond the limit is refused from the head (413)",
          st == 413, "%d %s" % (st, body[:200]))

    # A 48 MiB upload: mgmtd's resident memory while it streams stays flat.
    def rss_kib():
        with open("/proc/%s/status" % mgmtd_pid) as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    size = 48 << 20
    chunk = b"\0" * 65536

    def big():
        yield b"hsqs" + chunk[4:]
        for _ in range(size // len(chunk) - 1):
            yield chunk

    before, peak, samples, done = rss_kib(), [0], [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib())
            samples[0] += 1
            time.sleep(0.01)

    threading.Thread(target=sample, daemon=True).start()
    st, _, body = raw("POST", "/api/v1/firmware/bundle", big(), {
        "Origin": url, "Cookie": "__Host-kgsid=" + session_cookie()["value"],
        "X-CSRF-Token": drv.execute_script("return csrf"), "Content-Length": str(size),
        "Content-Type": "application/octet-stream"})
    done.set()
    check("firmware: a 48 MiB upload streams to disk: mgmtd's memory grows by %d KiB (RSS %d -> peak %d KiB, "
          "%d samples), then RAUC refuses it (truncated or not a bundle)" % (peak[0] - before, before, peak[0], samples[0]),
          st == 422 and samples[0] > 10 and peak[0] - before < 8192 and b"not a bundle" in body,
          "%d %s" % (st, body[:300]))

    # A connection that ends in the middle of a bundle: nothing is left, the page says truncated.
    ctx = ssl._create_unverified_context()
    with open(good_bundle, "rb") as f:
        whole = f.read()
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=20)
    c.putrequest("POST", "/api/v1/firmware/bundle")
    for k, v in (("Origin", url), ("Cookie", "__Host-kgsid=" + session_cookie()["value"]),
                 ("X-CSRF-Token", drv.execute_script("return csrf")), ("Content-Length", str(len(whole)))):
        c.putheader(k, v)
    c.endheaders()
    c.send(whole[:len(whole) // 2])
    c.close()
    drv.get(url + "/#firmware")
    check("firmware: an upload cut short is refused as truncated and leaves nothing",
          text_in("f-msg", r"Refused \(truncated\): the upload was cut short: \d+ of %d bytes" % len(whole), 20),
          drv.find_element(By.ID, "f-msg").text)
    shot("05b-firmware-truncated")

    # ---- CSRF ---------------------------------------------------------------------------
    sid = session_cookie()["value"]
    st, _, body = raw("POST", "/api/v1/credentials/retire", json.dumps({"kvno": 1}),
                      {"Origin": url, "Cookie": "__Host-kgsid=" + sid, "Content-Type": "application/json"})
    check("a POST with the session cookie but without the CSRF token: 403",
          st == 403 and b'"csrf"' in body, "%d %s" % (st, body[:200]))
    st, _, body = raw("POST", "/api/v1/credentials/retire", json.dumps({"kvno": 1}),
                      {"Origin": "https://evil.example", "Cookie": "__Host-kgsid=" + sid,
                       "X-CSRF-Token": drv.execute_script("return csrf"), "Content-Type": "application/json"})
    check("a POST from another origin, even with cookie and token: 403",
          st == 403 and b'"origin"' in body, "%d %s" % (st, body[:200]))

    # A real cross-site form POST from a page on another origin, in the browser.
    evil = ('<!doctype html><form id=f method=POST action="%s/api/v1/web/logout">'
            '<input name=x value=1></form><script>document.getElementById("f").submit()</script>' % url)

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(evil.encode())

        def log_message(self, *a):
            pass

    print("# cross-site page on port %d" % evil_port, flush=True)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", evil_port), Evil)  # a preconnect must not hold it
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    drv.get("http://127.0.0.1:%d/" % evil_port)
    try:
        WebDriverWait(drv, 15).until(lambda d: "origin" in d.page_source or "session" in d.page_source)
    except TimeoutException:
        pass
    refused = '"ok":false' in drv.page_source
    srv.shutdown()
    drv.get(url + "/#audit")
    check("a cross-site form POST from another site's page is refused and the session lives on",
          refused and text_in("a-rows", "login"), drv.page_source[:300])
    check("audit log: setup, logins and firmware uploads, with who",
          text_in("a-rows", r"setup") and text_in("a-rows", r"admin \(web, from") and
          text_in("a-rows", "firmware-upload"))
    shot("07-audit")

    # ---- logout ---------------------------------------------------------------------------
    old = session_cookie()["value"]
    drv.find_element(By.ID, "logout").click()
    visible("login-form")
    st, _, _ = raw("GET", "/api/v1/status", None, {"Cookie": "__Host-kgsid=" + old})
    check("logout: the login page again, and the old session id is dead (401)", st == 401, str(st))
    shot("08-login")

    # ---- wrong passwords are rate-limited ---------------------------------------------------
    msgs = []
    for i in range(6):
        fill("login-password", "wrong-password-%d" % i)
        drv.find_element(By.CSS_SELECTOR, "#login-form button").click()
        text_in("login-msg", "wrong password|too many", 10)
        msgs.append(drv.find_element(By.ID, "login-msg").text)
        drv.execute_script("document.getElementById('login-msg').textContent = ''")
    fill("login-password", PASSWORD)
    drv.find_element(By.CSS_SELECTOR, "#login-form button").click()
    limited = text_in("login-msg", r"too many failed attempts from .*: wait \d+ seconds", 10)
    check("five wrong passwords, then even the right one is refused with how long to wait",
          msgs[:5] == ["wrong password"] * 5 and "too many" in msgs[5] and limited,
          "%s / %s" % (msgs, drv.find_element(By.ID, "login-msg").text))
    shot("09-rate-limited")
finally:
    kgbrowser.quit(drv)
