"""Chromium for the web page tests (tests/integration/webui.py against mgmtd
on this host, tests/firmware/webvm.py against the appliance in QEMU):
Debian's chromium, headless, driven through chromium-driver by
python3-selenium, with a throwaway profile.
"""
import re
import shutil
import tempfile

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

results = []


def check(name, cond, detail=""):
    """One "ok - NAME" or "not ok - NAME  (DETAIL)" line: the shell test counts them."""
    results.append(bool(cond))
    print(("ok - " if cond else "not ok - ") + name + ("" if cond or not detail else "  (" + detail + ")"),
          flush=True)


def chromium(page_load_timeout=30):
    """A headless Chromium; end it with quit(drv)."""
    profile = tempfile.mkdtemp(prefix="kg-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run",
              "--disable-dev-shm-usage", "--window-size=1280,900", "--user-data-dir=" + profile):
        opts.add_argument(a)
    opts.accept_insecure_certs = True  # the appliance's self-signed device certificate
    drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    drv.set_page_load_timeout(page_load_timeout)
    drv.kg_profile = profile
    return drv


def quit(drv):
    drv.quit()
    shutil.rmtree(drv.kg_profile, ignore_errors=True)


def text_in(drv, id_, pattern, timeout=20):
    """Waits until element ID's text matches PATTERN; True, or False at the timeout."""
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        WebDriverWait(drv, timeout).until(
            lambda d: re.search(pattern, d.find_element(By.ID, id_).text))
        return True
    except TimeoutException:
        return False


def shot(drv, outdir, name):
    """The whole page into OUTDIR/NAME.png: the window as tall as the document."""
    h = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(1280, max(800, min(int(h) + 100, 4000)))
    drv.save_screenshot("%s/%s.png" % (outdir, name))
    drv.set_window_size(1280, 900)


def fill(drv, id_, value):
    e = drv.find_element(By.ID, id_)
    e.clear()
    e.send_keys(value)
