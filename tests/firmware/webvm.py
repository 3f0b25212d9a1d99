#!/usr/bin/python3
"""The appliance's own web page in a real browser, against the QEMU
appliance's page (forwarded to 127.0.0.1): Debian's chromium, headless,
through chromium-driver (python3-selenium; tests/lib/kgbrowser.py).

Usage:
  webvm.py flash URL SETUP_CODE PASSWORD TAMPERED_BUNDLE NEW_BUNDLE OUTDIR
      A fresh appliance: the first-boot page takes the setup code and the
      new password; logout, login through the form; the Dashboard; then on
      the Firmware page, through the file input: the tampered bundle is
      refused with its reason and the running slot untouched; the new one
      uploads (the upload bar moves), RAUC checks it, Install (the install
      bar moves), Reboot (confirmed).  Ends when the appliance reboots.
  webvm.py after URL PASSWORD VERSION OUTDIR
      After the reboot: login; the Firmware page and the Dashboard show
      VERSION running, its slot booted and marked good; "Boot the other
      slot next" makes A the next boot; the session
      cookie's flags; a POST without the CSRF token and one from another
      origin refused; logout, and wrong passwords rate-limited.

Prints "ok - ..." or "not ok - ..." per check, and "progress: ..." lines
with what the bars showed; saves a screenshot of each page into OUTDIR.
"""
import http.client
import json
import os
import re
import ssl
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import kgbrowser  # noqa: E402
from kgbrowser import check  # noqa: E402

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def visible(drv, id_, timeout=60):
    return WebDriverWait(drv, timeout).until(EC.visibility_of_element_located((By.ID, id_)))


def text(drv, id_):
    return drv.find_element(By.ID, id_).text


def login(drv, url, password):
    drv.get(url + "/")
    visible(drv, "login-form")
    kgbrowser.fill(drv, "login-password", password)
    drv.find_element(By.CSS_SELECTOR, "#login-form button").click()
    visible(drv, "view-dashboard")


def watch_bar(drv, bar, done, timeout):
    """Reads the progress bar BAR every 50 ms until done() or TIMEOUT s:
    the distinct values it showed, in order."""
    seen, t0 = [], time.time()

    def look():
        v = float(drv.find_element(By.ID, bar).get_attribute("value") or 0)
        if not seen or seen[-1] != v:
            seen.append(v)
    while time.time() - t0 < timeout:
        look()
        if done():
            look()  # the page may have moved the bar between the two reads
            break
        time.sleep(0.05)
    return seen


def upload(drv, path, timeout):
    """Chooses PATH in the file input and submits: the upload bar's values,
    and the message the page ends with."""
    drv.find_element(By.ID, "fw-file").send_keys(path)
    drv.find_element(By.CSS_SELECTOR, "#fw-form button").click()
    seen = watch_bar(drv, "f-up", lambda: re.search(r"signed and checked|Refused", text(drv, "f-msg")),
                     timeout)
    return seen, text(drv, "f-msg")


def click_install(drv):
    """Install, once the page has enabled it (its next look at the state)."""
    WebDriverWait(drv, 30).until(lambda d: d.find_element(By.ID, "f-install").is_enabled())
    drv.find_element(By.ID, "f-install").click()


def flash(url, code, password, tampered, newer, outdir):
    drv = kgbrowser.chromium(60)
    try:
        drv.get(url + "/")
        visible(drv, "setup-form")
        kgbrowser.shot(drv, outdir, "vm-01-first-boot-setup")
        kgbrowser.fill(drv, "setup-code", code)
        kgbrowser.fill(drv, "setup-password", password)
        kgbrowser.fill(drv, "setup-password2", password)
        drv.find_element(By.CSS_SELECTOR, "#setup-form button").click()
        visible(drv, "view-dashboard")
        check("first boot: the page asks for the console's setup code and a new password, "
              "and then shows the Dashboard", True)
        drv.find_element(By.ID, "logout").click()
        login(drv, url, password)
        check("logout, then login through the form with the new password", True)
        dash = kgbrowser.text_in(drv, "view-dashboard", r"0\.1\.0", 30)
        kgbrowser.shot(drv, outdir, "vm-02-dashboard")
        check("the Dashboard shows the running firmware (0.1.0)", dash)

        drv.get(url + "/#firmware")
        visible(drv, "fw-form")
        kgbrowser.text_in(drv, "f-slots", r"\bA\b", 30)
        seen, msg = upload(drv, tampered, 600)
        if "signed and checked" in msg:  # rauc info checks the signature only: the install finds it
            click_install(drv)
            kgbrowser.text_in(drv, "f-msg", r"Refused", 600)
            msg = text(drv, "f-msg")
        kgbrowser.shot(drv, outdir, "vm-03-firmware-tampered-refused")
        print("   tampered: " + msg)
        check("a tampered bundle is refused with its reason in words", re.search(r"Refused \(\w[^)]*\): ", msg),
              msg)
        untouched = kgbrowser.text_in(drv, "f-slots", r"\bA\b.*booted", 30) and \
            not re.search(r"\bB\b.*good", text(drv, "f-slots"))
        check("the running slot is untouched (A booted, B not marked good)", untouched, text(drv, "f-slots"))

        seen, msg = upload(drv, newer, 900)
        print("progress: upload bar showed %s" % ", ".join("%.0f" % v for v in seen))
        check("the newer signed bundle uploads through the file input and RAUC checks it", "signed and checked" in msg,
              msg)
        check("the upload bar moves (a value between 0 and 100 seen, then 100)",
              any(0 < v < 100 for v in seen) and seen[-1] == 100, str(seen))
        click_install(drv)
        steps = []

        def installed():
            t = text(drv, "f-inst-text")
            if t and (not steps or steps[-1] != t):
                steps.append(t)
            return re.search(r"installed|Refused", text(drv, "f-msg")) or t.startswith("100 %")
        seen = watch_bar(drv, "f-inst", installed, 900)
        kgbrowser.text_in(drv, "f-msg", r"installed|Refused", 30)
        print("progress: install bar showed %s; steps: %s" % (", ".join("%.0f" % v for v in seen),
                                                                " | ".join(steps)))
        kgbrowser.shot(drv, outdir, "vm-04-firmware-installed")
        check("RAUC installs it: the page says so", "installed into the other slot" in text(drv, "f-msg"),
              text(drv, "f-msg"))
        check("the install bar shows RAUC's progress (a value between 0 and 100 seen, then 100)",
              any(0 < v < 100 for v in seen) and seen[-1] == 100, "%s %s" % (seen, steps))
        drv.find_element(By.ID, "f-reboot").click()
        WebDriverWait(drv, 10).until(EC.alert_is_present())
        drv.switch_to.alert.accept()
        rebooting = kgbrowser.text_in(drv, "f-msg", r"rebooting", 30)
        check("Reboot (confirmed in the dialog) is taken", rebooting, text(drv, "f-msg"))
    finally:
        kgbrowser.quit(drv)


def after(url, password, version, outdir):
    drv = kgbrowser.chromium(60)
    try:
        login(drv, url, password)
        check("after the reboot: login through the form", True)
        drv.get(url + "/#firmware")
        ran = kgbrowser.text_in(drv, "f-running", re.escape(version), 30)
        slot_b = kgbrowser.text_in(drv, "f-slots", r"\bB\b.*booted.*good", 30)
        kgbrowser.shot(drv, outdir, "vm-05-firmware-after-update")
        check("the Firmware page shows the new version %s running" % version, ran, text(drv, "f-running"))
        check("the Firmware page shows slot B booted and marked good", slot_b, text(drv, "f-slots"))
        drv.get(url + "/#dashboard")
        dash = kgbrowser.text_in(drv, "view-dashboard", re.escape(version), 30)
        kgbrowser.shot(drv, outdir, "vm-06-dashboard-after-update")
        check("the Dashboard shows the new version", dash)
        # Going back: the old slot boots next (RAUC marks it active), shown at once.
        drv.get(url + "/#firmware")
        WebDriverWait(drv, 30).until(lambda d: d.find_element(By.ID, "f-switch").is_enabled())
        drv.find_element(By.ID, "f-switch").click()
        back = kgbrowser.text_in(drv, "f-msg", r"the other slot boots next", 60) and \
            kgbrowser.text_in(drv, "f-bootstate", r"next boot:\s+A", 30)
        kgbrowser.shot(drv, outdir, "vm-06b-firmware-other-slot-next")
        check("'Boot the other slot next': RAUC marks A active, the page shows A boots next", back,
              "%s / %s" % (text(drv, "f-msg"), text(drv, "f-bootstate")))
        attacks(drv, url, password, outdir)
    finally:
        kgbrowser.quit(drv)


def raw(url, method, path, body, headers):
    """A request outside the browser, with the headers the test says."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ssl._create_unverified_context(),
                                    timeout=30)
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def attacks(drv, url, password, outdir):
    """The session's cookie, a forged POST, wrong passwords: on the appliance."""
    ck = [c for c in drv.get_cookies() if c["name"] == "__Host-kgsid"]
    check("the session cookie is Secure, HttpOnly, SameSite=Strict, Path=/",
          ck and ck[0].get("secure") and ck[0].get("httpOnly") and ck[0].get("sameSite") == "Strict"
          and ck[0].get("path") == "/", str(ck))
    sid = ck[0]["value"] if ck else ""
    body = json.dumps({"kvno": 1})
    st, data = raw(url, "POST", "/api/v1/credentials/retire", body,
                   {"Origin": url, "Cookie": "__Host-kgsid=" + sid, "Content-Type": "application/json"})
    check("a POST with the session cookie but no CSRF token is refused (403 csrf)",
          st == 403 and b'"csrf"' in data, "%d %s" % (st, data[:200]))
    st, data = raw(url, "POST", "/api/v1/credentials/retire", body,
                   {"Origin": "https://evil.example", "Cookie": "__Host-kgsid=" + sid,
                    "X-CSRF-Token": drv.execute_script("return csrf"), "Content-Type": "application/json"})
    check("a cross-site POST, even with cookie and token, is refused (403 origin)",
          st == 403 and b'"origin"' in data, "%d %s" % (st, data[:200]))
    drv.find_element(By.ID, "logout").click()
    visible(drv, "login-form")
    msgs = []
    for i in range(6):
        kgbrowser.fill(drv, "login-password", "wrong-password-%d" % i)
        drv.find_element(By.CSS_SELECTOR, "#login-form button").click()
        kgbrowser.text_in(drv, "login-msg", "wrong password|too many", 30)
        msgs.append(text(drv, "login-msg"))
        drv.execute_script("document.getElementById('login-msg').textContent = ''")
    kgbrowser.fill(drv, "login-password", password)
    drv.find_element(By.CSS_SELECTOR, "#login-form button").click()
    limited = kgbrowser.text_in(drv, "login-msg", r"too many failed attempts from .*: wait \d+ seconds", 30)
    kgbrowser.shot(drv, outdir, "vm-07-login-rate-limited")
    check("five wrong passwords, then even the right one is refused with how long to wait",
          msgs[:5] == ["wrong password"] * 5 and "too many" in msgs[5] and limited,
          "%s / %s" % (msgs, text(drv, "login-msg")))


if __name__ == "__main__":
    if sys.argv[1] == "flash":
        flash(*sys.argv[2:8])
    elif sys.argv[1] == "after":
        after(*sys.argv[2:6])
    else:
        sys.exit("usage: see the top of %s" % sys.argv[0])
    # Each check has said ok or not ok; a non-zero exit is a run that broke off.
