"""The playground's pages in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``) driven by Selenium.

They load both pages, pick a classification loss and move one of its hyperparameters, train and check
that the loss falls and the views change, reload from the shared URL and get the same state, send bad
input and read the message the page shows, and fail on any error in the browser's console. Without
Chromium they are skipped, except in CI (``CI`` set), where they fail: ``.ci/run`` installs it.

``JAXLOSS_SCREENSHOTS=docs/playground python -m pytest tests/test_playground_browser.py`` also writes
the README's screenshots.
"""

from __future__ import annotations

import math
import os
import pathlib
import shutil

import pytest

pytestmark = pytest.mark.xdist_group("playground-browser")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if not CHROMIUM or not DRIVER:
        return "Chromium is not installed (apt-get install chromium chromium-driver)"
    return ""


@pytest.fixture(scope="module")
def browser():
    missing = _missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser tests must run in CI: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,900", "--disable-extensions", "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def server():
    from jaxloss.playground import PlaygroundServer

    with PlaygroundServer() as running:
        yield running


def _wait(driver, script, timeout=90.0, what=""):
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script(script))
    except Exception:
        logs = [e["message"] for e in driver.get_log("browser")]
        page = driver.execute_script("const p = window.playground || window.anatomy || {}; const e = "
                                     "document.getElementById('error'); return [location.href, p.state, "
                                     "e && !e.hidden ? e.textContent : '']")
        raise AssertionError(f"timed out waiting for {what or script}; page: {page}; browser log: {logs}") from None


def _console_errors(driver):
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"
            and "status of 400" not in e["message"]]  # the bad-input test's answers are expected


def _set_range(driver, selector, value):
    """Moves a range input as a user would: sets its value and fires input and change."""
    driver.execute_script(
        "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
        "el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true}));",
        selector, str(value))


def _select(driver, selector, value):
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", selector)).select_by_value(value)


def _shot(driver, name, tmp_path):
    folder = os.environ.get("JAXLOSS_SCREENSHOTS")
    path = pathlib.Path(folder) / name if folder else tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 20_000  # a page, not a blank
    return path


def test_train_page_trains_a_classification_loss(browser, server, tmp_path):
    driver = browser
    driver.get(server.url("train", state="dataset=circle&noise=10&points=300&hidden=6,4&features=x1,x2,x1sq,x2sq"
                          "&learning_rate=0.03&optimizer=adam&loss2=hinge&weight=0.3&steps_per_frame=20"))
    _wait(driver, "return window.playground && window.playground.ready", what="the first frame")
    _select(driver, "#loss", "focal")
    _wait(driver, "return window.playground.state.loss === 'focal' && location.hash.includes('loss=focal')",
          what="the loss to become focal")
    _wait(driver, "return document.querySelector('#hyper input[data-hyper=gamma]') !== null", what="gamma's slider")
    _set_range(driver, "#hyper input[data-hyper=gamma]", 3.5)
    _wait(driver, "return window.playground.state.options.gamma === 3.5 && location.hash.includes('o.gamma=3.5')",
          what="gamma = 3.5 in the state and the URL")
    before = driver.execute_script(
        "const p = window.playground; return [p.frame.step, p.frame.train_loss, "
        "document.getElementById('boundary').toDataURL(), document.getElementById('pull').toDataURL()]")
    driver.find_element("id", "play").click()
    _wait(driver, "return window.playground.frame.step >= 600", what="600 training steps")
    driver.find_element("id", "play").click()  # pause
    _wait(driver, "return document.getElementById('play').dataset.playing === 'false'", what="pause")
    after = driver.execute_script(
        "const p = window.playground; return [p.frame.step, p.frame.train_loss, "
        "document.getElementById('boundary').toDataURL(), document.getElementById('pull').toDataURL(), "
        "p.frame.metric.test, document.getElementById('step-count').textContent]")
    assert after[0] > before[0] and after[1] < 0.5 * before[1], (before[:2], after[:2])
    assert after[2] != before[2] and after[3] != before[3]  # the boundary and the pull view changed
    assert after[4] > 0.9  # test accuracy on the circle
    terms = driver.execute_script("return window.playground.frame.terms")
    assert set(terms) == {"focal", "hinge"} and terms["hinge"]["weight"] == 0.3  # the composite's breakdown
    _wait(driver, "return document.getElementById('step-count').textContent.replace(/,/g, '') == "
                  "String(window.playground.frame.step)", what="the step counter to show the last frame")
    assert not _console_errors(driver)
    _shot(driver, "train.png", tmp_path)


def test_a_shared_url_reproduces_the_state(browser, server):
    driver = browser
    driver.get(server.url("train", state="dataset=spiral&hidden=6,6&loss=focal&o.gamma=1.5&activation=relu"
                          "&learning_rate=0.1&seed=42"))
    _wait(driver, "return window.playground && window.playground.ready", what="the first frame")
    _select(driver, "#optimizer", "adam")
    _wait(driver, "return window.playground.state.optimizer === 'adam' && location.hash.includes('optimizer=adam')")
    url = driver.current_url
    state = driver.execute_script("return JSON.stringify(window.playground.state)")
    driver.get("about:blank")
    driver.get(url)
    _wait(driver, "return window.playground && window.playground.ready", what="the first frame after reload")
    assert driver.execute_script("return JSON.stringify(window.playground.state)") == state
    assert driver.find_element("id", "loss").get_attribute("value") == "focal"
    assert float(driver.find_element("css selector", "#hyper input[data-hyper=gamma]").get_attribute("value")) == 1.5
    assert driver.find_element("id", "activation").get_attribute("value") == "relu"
    # The same seeded run: 200 steps give the same loss as in a fresh session of the same state.
    driver.find_element("id", "step").click()
    _wait(driver, "return window.playground.frame.step === window.playground.state.steps_per_frame")
    assert not _console_errors(driver)


def test_bad_input_is_shown_and_the_server_keeps_running(browser, server):
    driver = browser
    driver.get(server.url("train", state="loss=no_such_loss"))
    _wait(driver, "return !document.getElementById('error').hidden", what="the error banner")
    text = driver.find_element("id", "error").text
    assert "'no_such_loss' is not a loss of the catalog" in text
    _wait(driver, "return window.playground.ready", what="the defaults to load after the error")
    # A hand-made request from the page is refused with a message; the page and server carry on.
    status, message = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/api/train/update', {method: 'POST', headers: {'Content-Type': 'application/json'},"
        " body: JSON.stringify({session: window.playground.session, state: {...window.playground.state, hidden: [64]}})})"
        ".then(r => r.json().then(j => done([r.status, j.error])));")
    assert status == 400 and "hidden must be a list of at most 6" in message
    driver.get(server.url("anatomy", state="axis=binary&losses=huber"))
    _wait(driver, "return !document.getElementById('error').hidden", what="the anatomy page's error banner")
    assert "huber does not fit the binary axis" in driver.find_element("id", "error").text


def test_anatomy_page_draws_and_follows_its_sliders(browser, server, tmp_path):
    driver = browser
    driver.get(server.url("anatomy", state="axis=binary&losses=binary_cross_entropy,focal,hinge&x=1&target=1"))
    _wait(driver, "return window.anatomy && window.anatomy.ready", what="the anatomy page")

    def cell(loss, column):  # read in one script: the table is redrawn with every answer
        return float(driver.execute_script(
            "return document.querySelector(arguments[0]).textContent", f"#point-table tr[data-loss={loss}] td.{column}"))

    assert cell("binary_cross_entropy", "value") == pytest.approx(math.log1p(math.exp(-1.0)), rel=1e-3)
    assert cell("binary_cross_entropy", "first") == pytest.approx(-1 / (1 + math.e), rel=1e-3)
    focal_before = cell("focal", "value")
    requests = driver.execute_script("return window.anatomy.requests")
    _set_range(driver, "#hyper input[data-loss=focal][data-hyper=gamma]", 0)
    _wait(driver, f"return window.anatomy.requests > {requests} && window.anatomy.state.options.focal"
                  " && window.anatomy.state.options.focal.gamma === 0", what="gamma = 0")
    _wait(driver, "return Math.abs(parseFloat(document.querySelector("
                  "'#point-table tr[data-loss=focal] td.value').textContent) - 0.3133) < 1e-3",
          what="focal with gamma 0 to equal cross-entropy")
    assert cell("focal", "value") != focal_before and "o.focal.gamma=0" in driver.current_url
    # Classification losses are first-class: the multiclass axis.
    _select(driver, "#axis", "multiclass")
    _wait(driver, "return window.anatomy.state.axis === 'multiclass' && window.anatomy.answer"
                  " && Object.keys(window.anatomy.answer.point).length > 0", what="the multiclass axis")
    assert driver.execute_script("return window.anatomy.latencies.length") > 0
    assert not _console_errors(driver)
    _select(driver, "#axis", "binary")
    _wait(driver, "return window.anatomy.state.axis === 'binary'")
    _shot(driver, "anatomy.png", tmp_path)
