#!/usr/bin/python3
"""The appliance's own web page, in a real browser, after a firmware update:
Debian's chromium, headless, through chromium-driver (python3-selenium),
against the page the QEMU appliance serves (forwarded to 127.0.0.1).

Usage: webvm.py URL PASSWORD VERSION OUTDIR

Logs in through the login form, opens Firmware and Dashboard, checks that
the running version is VERSION and that its slot is booted and marked good,
and saves a screenshot of each page into OUTDIR.  Prints "ok - ..." or
"not ok - ..." per check.
"""
import re
import sys
import tempfile

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

url, password, version, outdir = sys.argv[1:5]


def check(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + name + ("" if cond or not detail else "  (" + detail + ")"),
          flush=True)


def text_in(drv, id_, pattern, timeout=30):
    try:
        WebDriverWait(drv, timeout).until(
            lambda d: re.search(pattern, d.find_element(By.ID, id_).text))
        return True
    except TimeoutException:
        return False


def shot(drv, name):
    h = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(1280, max(800, min(int(h) + 100, 4000)))
    drv.save_screenshot("%s/%s.png" % (outdir, name))
    drv.set_window_size(1280, 900)


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
          "--disable-component-update", "--disable-sync", "--no-first-run",
          "--disable-dev-shm-usage", "--window-size=1280,900",
          "--user-data-dir=" + tempfile.mkdtemp(prefix="kg-chromium-")):
    opts.add_argument(a)
opts.accept_insecure_certs = True  # the appliance's self-signed device certificate
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
drv.set_page_load_timeout(60)
try:
    drv.get(url + "/")
    WebDriverWait(drv, 60).until(EC.visibility_of_element_located((By.ID, "login-form")))
    drv.find_element(By.ID, "login-password").send_keys(password)
    drv.find_element(By.CSS_SELECTOR, "#login-form button").click()
    WebDriverWait(drv, 60).until(EC.visibility_of_element_located((By.ID, "view-dashboard")))
    check("the appliance's page: login through the form in Chromium", True)
    drv.get(url + "/#firmware")
    ran = text_in(drv, "f-running", re.escape(version))
    slot_b = text_in(drv, "f-slots", r"\bB\b.*booted.*good")
    shot(drv, "vm-firmware-after-update")
    check("the Firmware page shows the new version %s running" % version, ran,
          drv.find_element(By.ID, "f-running").text)
    check("the Firmware page shows slot B booted and marked good", slot_b,
          drv.find_element(By.ID, "f-slots").text)
    drv.get(url + "/#dashboard")
    dash = text_in(drv, "view-dashboard", re.escape(version))
    shot(drv, "vm-dashboard-after-update")
    check("the Dashboard shows the new version", dash)
finally:
    drv.quit()
