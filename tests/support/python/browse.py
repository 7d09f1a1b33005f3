"""Look at a piw site in headless Chromium (Debian's chromium and chromedriver, driven by
Selenium), and print what it saw as one JSON document; the Rust test judges it.

    python browse.py BASE_URL SCREENSHOT_DIR SEARCH_TERM PAGE_PATH...

For each page and each width (1280 and 360 CSS pixels, a phone's at scale 1) it takes a
full-page screenshot (SCREENSHOT_DIR/NAME-WIDTH.png) and measures how wide the document is
against the window, and which parts of it are wider than their box (hidden behind a scroll of
their own), and reads back the heading, the description and the tags (yanked, skipped) as the
browser shows them. Then it types SEARCH_TERM into the home page's search box at 360 pixels,
waits for a result link, screenshots that, follows the link and reads the page's heading.
Everything the browser's console said is reported too.
"""
import base64
import json
import os
import shutil
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

WIDTHS = [1280, 360]
HEIGHT = 800


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # Headless as root; no connections but to the site (the machines' network is closed).
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--user-data-dir=" + profile,
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path="/usr/bin/chromedriver"))


def at_width(driver, width):
    # A phone-like viewport of exactly this many CSS pixels, at scale 1 (one CSS pixel, one
    # pixel of the screenshot), whatever the window manager would allow.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def screenshot(driver, path, width):
    height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, window.innerHeight)")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def measure(driver):
    # `clipped`: boxes whose content is wider than they are and hidden behind a scroll of their
    # own (the page itself does not scroll, but part of it cannot be seen without scrolling it).
    return driver.execute_script(
        """return {
            scroll_width: document.documentElement.scrollWidth,
            inner_width: window.innerWidth,
            title: document.title,
            heading: (document.querySelector("h1") || {}).textContent || null,
            description: (document.querySelector(".description") || {}).textContent || null,
            tags: Array.from(document.querySelectorAll(".tag")).map(function (e) { return e.textContent; }),
            clipped: Array.from(document.querySelectorAll("body *"))
                .filter(function (e) { return e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== "visible"; })
                .map(function (e) { return e.outerHTML.slice(0, 120); })
        }"""
    )


def main(base, shots, term, paths):
    os.makedirs(shots, exist_ok=True)
    out = {"pages": [], "search": None, "console": []}
    profile = tempfile.mkdtemp(prefix="piw-chromium-")
    driver = browser(profile)
    try:
        for path in paths:
            name = path.strip("/").replace("/", "-") or "home"
            for width in WIDTHS:
                at_width(driver, width)
                driver.get(base + path)
                seen = measure(driver)
                png = os.path.join(shots, f"{name}-{width}.png")
                screenshot(driver, png, width)
                out["pages"].append({"path": path, "width": width, "png": png, **seen})
                out["console"] += driver.get_log("browser")
        at_width(driver, 360)
        driver.get(base + "/")
        box = driver.find_element(By.ID, "search")
        box.send_keys(term)
        link = WebDriverWait(driver, 30).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#results a"))
        )
        png = os.path.join(shots, "home-search-360.png")
        found = {"text": link.text, "href": link.get_attribute("href"), "png": png, **measure(driver)}
        screenshot(driver, png, 360)
        link.click()
        WebDriverWait(driver, 30).until(expected_conditions.url_to_be(found["href"]))
        found["heading"] = driver.find_element(By.TAG_NAME, "h1").text
        out["search"] = found
        out["console"] += driver.get_log("browser")
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
