"""The `netspec serve` page in headless Chromium (selenium): type a typo into the CodeMirror
editor, see the error in #errors at its line within a second and marked in the gutter, fix it,
see the report and the diagram; save with Ctrl-S, and see a save refused after an edit on disk.

Needs Debian's `chromium` and `chromium-driver` (`make browser` installs them where it can);
skipped, saying so, where they are missing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
    pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver, "
                "or `make browser`)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed "
                                "(pip install selenium)")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from netspec.serve.app import create_app  # noqa: E402
from netspec.serve.server import LiveServer  # noqa: E402

HAS_DOT = shutil.which("dot") is not None
SPEC = """\
name: small
input: [1, 8, 8]
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
  - relu
  - flatten
  - linear: 10
"""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1400,900"]


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("specs")
    (folder / "net.yaml").write_text(SPEC)
    server = LiveServer(create_app(folder, "net.yaml"), port=0).start_in_thread()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="netspec-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        driver.get(server.url)
        yield driver, folder
    finally:
        driver.quit()
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, condition, seconds=15.0):
    # the page re-renders its panes on each check: an element found a moment ago may be gone
    return WebDriverWait(driver, seconds, poll_frequency=0.02,
                         ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: condition(d))


def problems(driver) -> str:
    return driver.find_element(By.ID, "errors").text


def retype_line(driver, line: int, word: str, new: str) -> None:
    """Put the cursor at the end of editor line `line` and replace its last word."""
    target = driver.find_elements(By.CSS_SELECTOR, "#editor .cm-line")[line - 1]
    target.click()
    content = driver.find_element(By.CSS_SELECTOR, "#editor .cm-content")
    content.send_keys(Keys.END, *([Keys.BACKSPACE] * len(word)), new)


def test_a_typo_shows_at_its_line_within_a_second_and_the_fix_draws(page):
    driver, folder = page
    wait_for(driver, lambda d: "no problems" in problems(d))
    wait_for(driver, lambda d: "relu" in d.find_element(By.ID, "report").text)

    retype_line(driver, 5, "relu", "rleu")
    typed = time.monotonic()
    wait_for(driver, lambda d: "5:5" in problems(d), seconds=5)
    assert time.monotonic() - typed < 1.0, "the error took over a second to show"
    assert "rleu" in problems(driver)
    assert driver.find_elements(By.CSS_SELECTOR, "#editor .cm-lint-marker-error")

    retype_line(driver, 5, "rleu", "relu")
    wait_for(driver, lambda d: "no problems" in problems(d))
    # read inside a wait: the panes are replaced when the next answer lands
    wait_for(driver, lambda d: "linear" in d.find_element(By.ID, "report").text)
    if HAS_DOT:
        wait_for(driver, lambda d: "small" in d.find_element(By.CSS_SELECTOR,
                                                             "#diagram svg").text)
    # a 422 answer is logged by Chromium as a failed resource: only script errors count
    errors = [e for e in driver.get_log("browser")
              if e["level"] == "SEVERE" and e.get("source") != "network"]
    assert not errors, errors                   # no script error, no CSP refusal


def test_ctrl_s_saves_and_an_edit_on_disk_is_not_overwritten(page):
    driver, folder = page
    retype_line(driver, 7, "10", "12")
    content = driver.find_element(By.CSS_SELECTOR, "#editor .cm-content")
    content.send_keys(Keys.CONTROL, "s")
    wait_for(driver, lambda d: "linear: 12" in (folder / "net.yaml").read_text())

    (folder / "net.yaml").write_text(SPEC + "# edited elsewhere\n")
    retype_line(driver, 7, "12", "14")
    content.send_keys(Keys.CONTROL, "s")
    wait_for(driver, lambda d: d.find_element(By.ID, "conflict").is_displayed())
    assert "changed on disk" in driver.find_element(By.ID, "conflict").text
    assert (folder / "net.yaml").read_text().endswith("# edited elsewhere\n")
