"""The page in a real browser: Debian's headless Chromium, driven through its chromedriver
by Selenium (both from Debian's packages, which .ci/run installs; nothing downloads a
browser). The server is the ``versioned serve`` command on a free loopback port.

Screenshots of the main pages go to the test's output folder; with
``VERSIONED_SCREENSHOTS=DIR`` they are also copied to DIR (docs/serve.png is the
serve-alias.png made so).
In CI (``CI=true``) a missing Chromium fails these tests; elsewhere it skips them, saying
what to install.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import LocalBackend
from tests.server.conftest import Filled, fill
from tests.server.process import ServeProcess, serving

pytestmark = pytest.mark.timeout(300)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HOSTILE_TEXT = '<script>document.title="pwned"</script>'


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    reason = (
        f"{', '.join(missing)} missing: apt-get install chromium chromium-driver "
        "(.ci/run does this)"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium under chromedriver, both given by path (no Selenium Manager)."""
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--no-first-run",
        "--disable-background-networking",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def site(local_backend: LocalBackend) -> Iterator[tuple[ServeProcess, Filled]]:
    filled = fill(local_backend.repo)
    with serving(local_backend.uri) as served:
        yield served, filled


def shoot(driver: Any, tmp_path: Path, name: str) -> Path:
    """Save a screenshot in the test's folder (and in $VERSIONED_SCREENSHOTS if set)."""
    path = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(path))
    assert path.stat().st_size > 1000
    extra = os.environ.get("VERSIONED_SCREENSHOTS")
    if extra:
        shutil.copy(path, Path(extra) / f"serve-{name}.png")
    return path


def split_widths(driver: Any, selector: str) -> list[tuple[str, float]]:
    """(version, share of the bar's width) of each segment of the first bar in ``selector``."""
    found: list[tuple[str, float]] = driver.execute_script(
        """
        const bar = document.querySelector(arguments[0] + ' .bar');
        const whole = bar.getBoundingClientRect().width;
        return [...bar.querySelectorAll('.share')].map(
            s => [s.dataset.version, s.getBoundingClientRect().width / whole]);
        """,
        selector,
    )
    return [(v, float(w)) for v, w in found]


def test_the_artifacts_page(
    browser: Any, site: tuple[ServeProcess, Filled], tmp_path: Path
) -> None:
    served, _ = site
    browser.get(served.url)
    assert browser.title.startswith("Artifacts")
    rows = browser.find_elements("css selector", "tr.artifact")
    assert [r.get_attribute("data-name") for r in rows] == ["data", "model"]
    model = browser.find_element("css selector", 'tr.artifact[data-name="model"]')
    assert "v3" in model.text
    assert "prod" in model.text
    assert "1 (80%) + 2 (20%)" in model.text
    widths = split_widths(browser, 'tr.artifact[data-name="model"]')
    assert [v for v, _ in widths] == ["1", "2"]
    assert widths[0][1] == pytest.approx(0.8, abs=0.01)
    assert widths[1][1] == pytest.approx(0.2, abs=0.01)
    shoot(browser, tmp_path, "artifacts")


def test_the_versions_page_shows_hostile_metadata_as_text(
    browser: Any, site: tuple[ServeProcess, Filled], tmp_path: Path
) -> None:
    served, filled = site
    browser.get(served.url + "artifacts/model")
    assert browser.title != "pwned"
    assert browser.execute_script("return document.querySelectorAll('script').length") == 0
    v3 = browser.find_element("css selector", 'tr.version[data-version="3"]')
    assert HOSTILE_TEXT in v3.find_element("css selector", ".metadata").text
    assert "1a2b3c" in v3.text
    v1 = browser.find_element("css selector", 'tr.version[data-version="1"]')
    assert "prod" in v1.text
    assert filled.v1.sha256[:12] in v1.text
    assert "application/x-model" in v1.text
    link = v1.find_element("css selector", "a.download").get_attribute("href")
    assert httpx.get(link, timeout=30).content == b"model one"
    shoot(browser, tmp_path, "versions")
    browser.find_element("link text", "Show soft-deleted versions").click()
    assert "deleted=1" in browser.current_url


def test_the_alias_page_shows_split_and_history(
    browser: Any, site: tuple[ServeProcess, Filled], tmp_path: Path
) -> None:
    served, filled = site
    browser.get(served.url + "artifacts/model/aliases/prod")
    assert browser.title != "pwned"
    widths = split_widths(browser, "main")
    assert [v for v, _ in widths] == ["1", "2"]
    assert widths[0][1] == pytest.approx(0.8, abs=0.01)
    rows = browser.find_elements("css selector", "tr.change")
    assert [r.get_attribute("data-revision") for r in rows] == ["3", "2", "1"]
    texts = [r.text for r in rows]
    assert "canary of v2" in texts[0]
    assert "3 → 1 (80%) + 2 (20%)" in texts[0]
    assert f"try v3 {HOSTILE_TEXT}" in texts[1]
    assert "1 → 3" in texts[1]
    assert "- → 1" in texts[2]
    assert f"versioned --repo {filled.repo.uri} alias rollback model prod --to 2" in texts[1]
    shoot(browser, tmp_path, "alias")


def test_readable_on_a_phone(
    browser: Any, site: tuple[ServeProcess, Filled], tmp_path: Path
) -> None:
    served, _ = site
    browser.set_window_size(390, 844)
    try:
        for path in ("", "artifacts/model", "artifacts/model/aliases/prod"):
            browser.get(served.url + path)
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, path  # wide tables scroll inside their box, not the page
        shoot(browser, tmp_path, "phone")
    finally:
        browser.set_window_size(1280, 900)


def test_a_missing_browser_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", str(tmp_path / "none"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        _require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="chromium-driver"):
        _require_browser()


#: the pages whose layout is checked at a phone's width and a desktop's
LAID_OUT = (
    "",
    "artifacts/model",
    "artifacts/model?deleted=1",
    "artifacts/model/aliases/prod",
    "artifacts/model/versions/3",
    "artifacts/model/versions/1",
)
PHONE = (375, 812)
DESKTOP = (1280, 800)

#: for each table cell (or ``selector``'s elements): its lines of text, height, and the
#: text itself; lines are told apart by where their text sits (elements add none)
_MEASURE = """
const gap = 6;
function lines(el) {
    const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const tops = [];
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
        if (!node.textContent.trim()) continue;
        const range = document.createRange();
        range.selectNodeContents(node);
        for (const rect of range.getClientRects()) {
            if (rect.width > 0 && rect.height > 0) tops.push(rect.top);
        }
    }
    tops.sort((a, b) => a - b);
    let count = 0, last = -Infinity;
    for (const top of tops) { if (top - last > gap) { count += 1; last = top; } }
    return count;
}
return [...document.querySelectorAll(arguments[0])].map(
    el => [lines(el), el.getBoundingClientRect().height, el.innerText]);
"""


def measured(driver: Any, selector: str) -> list[tuple[int, float, str]]:
    """(lines of text, height in px, text) of each element ``selector`` matches."""
    found = driver.execute_script(_MEASURE, selector)
    return [(int(n), float(h), str(t)) for n, h, t in found]


def check_layout(driver: Any, url: str, row_limit: float) -> None:
    """No cell of more than 3 lines of text, no row taller than ``row_limit`` px, the
    page no wider than the window."""
    driver.get(url)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, url
    for lines, _, text in measured(driver, "main td"):
        assert lines <= 3, (url, lines, text)
    for _, height, text in measured(driver, "main tbody tr"):
        assert height <= row_limit, (url, height, text)
    for lines, _, text in measured(driver, ".sha, .metadata dd, time"):
        assert lines <= 3, (url, lines, text)


@pytest.mark.parametrize(
    ("size", "row_limit"), [(PHONE, 400), (DESKTOP, 160)], ids=["phone", "desktop"]
)
def test_no_cell_is_a_column_of_single_characters(
    browser: Any,
    site: tuple[ServeProcess, Filled],
    tmp_path: Path,
    size: tuple[int, int],
    row_limit: float,
) -> None:
    served, filled = site
    filled.repo.delete_artifact_version("data", 1)
    browser.set_window_size(*size)
    try:
        for path in LAID_OUT:
            check_layout(browser, served.url + path, row_limit)
        browser.get(served.url + "artifacts/model")
        # the 6-character git SHA of v3's metadata stays on one line
        sha = [m for m in measured(browser, ".metadata dd") if m[2] == "1a2b3c"]
        assert sha and sha[0][0] == 1, sha
        shoot(browser, tmp_path, f"versions-{size[0]}")
    finally:
        browser.set_window_size(1280, 900)


def test_the_version_page_in_a_browser(
    browser: Any, site: tuple[ServeProcess, Filled], tmp_path: Path
) -> None:
    served, filled = site
    browser.get(served.url + "artifacts/model")
    browser.find_element("css selector", 'tr.version[data-version="1"] a.version-link').click()
    assert browser.current_url == served.url + "artifacts/model/versions/1"
    main = browser.find_element("css selector", "main").text
    assert filled.v1.sha256 in main
    assert "prod" in main and "1 (80%) + 2 (20%)" in main
    assert "UTC" in main
    link = browser.find_element("css selector", "a.download")
    assert link.text == "Download model-v1"
    answer = httpx.get(link.get_attribute("href"), timeout=30)
    assert answer.content == b"model one"
    assert answer.headers["content-disposition"] == 'attachment; filename="model-v1"'
    shoot(browser, tmp_path, "version")


def test_an_error_page_keeps_the_header_and_a_way_back(
    browser: Any, site: tuple[ServeProcess, Filled]
) -> None:
    served, filled = site
    browser.get(served.url + "artifacts/model/versions/42")
    assert browser.find_element("css selector", "header.top .repo").text == filled.repo.uri
    browser.find_element("link text", "Back to model").click()
    assert browser.current_url == served.url + "artifacts/model"
    assert browser.find_elements("css selector", "tr.version")


def test_the_alias_page_shows_a_rollout_in_progress(
    browser: Any, site: tuple[ServeProcess, Filled], tmp_path: Path
) -> None:
    from tests.server.rollout_setup import PASSED, Setup

    served, filled = site
    setup = Setup(filled.repo)
    setup.start()
    setup.after_hold(PASSED)
    browser.get(served.url + "artifacts/model/aliases/canary")
    rollout = browser.find_element("css selector", "section.rollout")
    assert rollout.get_attribute("data-state") == "running"
    current = rollout.find_element("css selector", ".step-current")
    assert current.text == "50 %"
    assert current.get_attribute("aria-current") == "step"
    # the current step stands out: its colour is not the applied or pending steps'
    colours = browser.execute_script(
        "return [...document.querySelectorAll('section.rollout .step')].map("
        "s => getComputedStyle(s).backgroundColor)"
    )
    assert colours[1] not in (colours[0], colours[2]), colours
    assert "50 % to v3 (step 2 of 3)" in rollout.find_element("css selector", ".weight").text
    assert "promote (100 %), due" in rollout.find_element("css selector", ".next-action").text
    [check] = rollout.find_elements("css selector", "tr.check")
    assert check.get_attribute("data-outcome") == "passed"
    assert "p99 120 ms" in check.text
    widths = split_widths(browser, "main")
    assert [v for v, _ in widths] == ["1", "3"]
    assert widths[1][1] == pytest.approx(0.5, abs=0.01)
    shoot(browser, tmp_path, "rollout")
    for size, row_limit in ((PHONE, 400), (DESKTOP, 160)):
        browser.set_window_size(*size)
        try:
            check_layout(browser, served.url + "artifacts/model/aliases/canary", row_limit)
        finally:
            browser.set_window_size(1280, 900)
