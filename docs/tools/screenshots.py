"""Retake the screenshots in docs/img: the run report and Neo4j Browser.

What it does, in headless Chromium driven by Selenium:

* ``report.png``: ``report.html`` of a run, the whole page (cut at ``--max-height``);
  ``report_<name>.png``: sections of it on their own (:data:`REPORT_SECTIONS`).
* ``browser_<name>.png`` for a few investigations of ``graph/browser/investigations.cypher``:
  logs in to Neo4j Browser, imports ``graph/browser/riskgraph.grass`` the way a person
  does (the file dropped onto the Browser window), types the block's ``:param`` lines
  and then its query into the editor, runs them, and captures the result frame in
  full-screen once the layout has settled.

Selenium is a development tool, not a riskgraph dependency (``pip install selenium``);
Chromium and chromedriver come from the system (``apt-get install -y chromium
chromium-driver``). The Neo4j server and login are riskgraph's own
(``RISKGRAPH_NEO4J_*`` or the local instance, see docs/neo4j.md); Browser is expected at
the local instance's address unless ``--browser-url`` says otherwise.

Usage, after ``riskgraph demo --users 20000 --workdir /tmp/demo`` (run it outside the
source checkout, like every riskgraph command)::

    python docs/tools/screenshots.py --run-dir /tmp/demo/out/latest --out docs/img

Then look at every PNG: a picture that shows the wrong thing is worse than none.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Investigations captured, and the file each becomes.
SHOTS = {
    "ring-around-user": "browser_ring.png",
    "risky-links": "browser_risky_links.png",
    "largest-rings": "browser_largest_rings.png",
}
#: Report sections captured on their own (their <h2> title), and the file each becomes.
REPORT_SECTIONS = {
    "Cut-off strategy": "report_strategy.png",
    "Model monitoring against the development sample": "report_monitoring.png",
}
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The flags of the project's headless Chromium: no sandbox (containers), no network
# chatter, a fresh profile per run so that no earlier login or style leaks in.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Browser's own file-drop handler reads dataTransfer.files, so a synthetic drop event
# carrying the style file goes through exactly the import path a person's drag does.
_DROP_FILE = """
const transfer = new DataTransfer();
transfer.items.add(new File([arguments[0]], arguments[1], {type: 'text/plain'}));
const target = document.querySelector('.filedrop');
target.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true,
                                            cancelable: true}));
"""


@contextmanager
def chromium(width: int, height: int) -> Iterator[object]:
    """A headless Chromium (Selenium WebDriver) with a throw-away profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="riskgraph-shots-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def save_png(png: bytes, path: Path, max_height: int | None = None) -> None:
    """Write a screenshot as a 256-colour PNG (charts and UI lose nothing; a fifth the size)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if max_height is not None and image.height > max_height:
        image = image.crop((0, 0, image.width, max_height))
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"wrote {path} ({image.width}x{image.height})")


def shoot_report(run_dir: Path, out: Path, width: int, max_height: int) -> None:
    """The whole report.html page as one image."""
    report = (run_dir / "report.html").resolve()
    if not report.is_file():
        sys.exit(f"{report}: no such file (is --run-dir a complete run?)")
    with chromium(width, 1000) as browser:
        browser.get(report.as_uri())
        # Images are inline data: URIs; wait until every one has decoded.
        _wait(browser, lambda b: b.execute_script(
            "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"
        ), 30, "report images to load")  # fmt: skip
        height = browser.execute_script("return document.documentElement.scrollHeight")
        # The last section (the watchlist) is a long table: its first rows are enough.
        last = browser.execute_script(
            "const h = [...document.querySelectorAll('h2')];"
            "return h.length ? h[h.length - 1].getBoundingClientRect().top + scrollY : null"
        )
        if last is not None:
            max_height = min(max_height, int(last) + 600)
        browser.set_window_size(width, min(height, max_height) + 100)
        time.sleep(0.5)
        save_png(browser.get_screenshot_as_png(), out / "report.png", max_height)
        # Each section whole, in a window tall enough to hold the page.
        browser.set_window_size(width, height + 100)
        time.sleep(0.5)
        for title, name in REPORT_SECTIONS.items():
            section = browser.execute_script(
                "return [...document.querySelectorAll('section')]"
                ".find(s => s.querySelector('h2').textContent === arguments[0]) || null",
                title,
            )
            if section is None:
                sys.exit(f"{report}: no section {title!r} (a report from before it existed?)")
            save_png(section.screenshot_as_png, out / name)


def shoot_browser(
    browser_url: str,
    bolt_address: str,
    user: str,
    password: str,
    out: Path,
    names: list[str],
    width: int,
    height: int,
    settle: float,
) -> None:
    """Log in, import the style, run each investigation and capture its frame."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from riskgraph.graph.investigations import browser_file, load_investigations

    kit = load_investigations()
    unknown = sorted(set(names) - set(kit))
    if unknown:
        sys.exit(f"unknown investigation(s) {unknown}; the file has {list(kit)}")
    with chromium(width, height) as browser:
        browser.get(browser_url)
        _wait(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "[data-testid=username]"),
              90, "the Browser login form")  # fmt: skip
        address = browser.find_element(By.CSS_SELECTOR, "[data-testid=boltaddress]")
        # A React input: clear() leaves its state alone, select-all and type over it does not.
        address.send_keys(Keys.CONTROL, "a")
        address.send_keys(Keys.BACKSPACE, bolt_address)
        browser.find_element(By.CSS_SELECTOR, "[data-testid=username]").send_keys(user)
        browser.find_element(By.CSS_SELECTOR, "[data-testid=password]").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "[data-testid=connect]").click()
        _wait(browser, lambda b: "You are connected as user" in b.find_element(
            By.TAG_NAME, "body").text, 60, "the login to succeed")  # fmt: skip
        grass = browser_file("riskgraph.grass")
        browser.execute_script(_DROP_FILE, grass.read_text(encoding="utf-8"), grass.name)
        _wait(browser, lambda b: "node.RiskHigh" in b.find_element(By.TAG_NAME, "body").text,
              30, "the style to be imported")  # fmt: skip
        # "Connect result nodes" off: draw what the query returns, not also every
        # relationship between the nodes shown (inside a ring, hundreds).
        _command(browser, ":config autoComplete: false")
        _wait(browser, lambda b: _frames(b) and '"autoComplete": false' in _frames(b)[0].text,
              30, "the setting to be applied")  # fmt: skip
        for name in names:
            investigation = kit[name]
            _command(browser, ":clear")
            for param, expression in investigation.parameters.items():
                _command(browser, f":param {param} => {expression}")
                _wait(browser, lambda b: _frames(b) and "Successfully set your parameters"
                      in _frames(b)[0].text, 60, f"${param} of {name}")  # fmt: skip
            _command(browser, ":clear")
            _command(browser, investigation.query)
            _wait(browser, lambda b: _frames(b) and _frames(b)[0].find_elements(
                By.CSS_SELECTOR, "svg g.node"), 120, f"the picture of {name}")  # fmt: skip
            frame = _frames(browser)[0]
            frame.find_element(By.CSS_SELECTOR, "button[title='Fullscreen']").click()
            time.sleep(settle)  # the force layout animates, then zooms to fit
            fit = browser.find_elements(By.CSS_SELECTOR, "button[aria-label='zoom-to-fit']")
            if fit:
                fit[0].click()
                time.sleep(1.5)
            save_png(
                _frames(browser)[0].screenshot_as_png, out / SHOTS.get(name, f"browser_{name}.png")
            )
            _frames(browser)[0].find_element(
                By.CSS_SELECTOR, "button[title='Close fullscreen']"
            ).click()


def _frames(browser) -> list:
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, "article[data-testid=frame]")


def _command(browser, text: str) -> None:
    """Type ``text`` into the Browser editor and run it.

    Chrome's Input.insertText lands the text as one edit, as a paste would: the editor
    does not auto-close brackets and quotes the way it does for keystrokes.
    """
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, "#monaco-main-editor").click()
    browser.execute_cdp_cmd("Input.insertText", {"text": text})
    browser.find_element(By.CSS_SELECTOR, "[data-testid=editor-Run]").click()
    time.sleep(1.0)


def _wait(browser, condition, seconds: float, what: str) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(browser, seconds, poll_frequency=0.5).until(condition)
    except TimeoutException:
        browser.save_screenshot("screenshots-timeout.png")
        sys.exit(
            f"timed out after {seconds:.0f} s waiting for {what} (see screenshots-timeout.png)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="OUT/runs/<date> or OUT/latest")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "img")
    parser.add_argument("--browser-url", help="default: the local instance's Browser address")
    parser.add_argument("--only", choices=["report", "browser"], help="take one kind only")
    parser.add_argument("--investigations", nargs="+", default=list(SHOTS))
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--max-height", type=int, default=9000, help="cut the report here")
    parser.add_argument("--settle", type=float, default=8.0, help="seconds of layout per picture")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "report"):
        shoot_report(args.run_dir, args.out, 1200, args.max_height)
    if args.only in (None, "browser"):
        from urllib.parse import urlsplit

        from riskgraph.graph import server
        from riskgraph.graph.connection import resolve_connection

        connection = resolve_connection()
        browser_url = args.browser_url or server.ServerSettings.resolve().browser_url
        bolt = urlsplit(connection.uri)
        shoot_browser(
            browser_url, f"{bolt.hostname}:{bolt.port}", connection.user, connection.password,
            args.out, args.investigations, args.width, args.height, args.settle,
        )  # fmt: skip


if __name__ == "__main__":
    main()
