"""Suite 6: the playground's speed, against its goals (issue 13).

* The train page: >= 20 frames per second with >= 10 training steps per frame for a 2-8-8-1 network.
  Measured in the server (one frame = ``advance(10)`` + the frame's views + its JSON) and as the
  page sees it in headless Chromium (the interval between frames arriving over server-sent events,
  and the time to draw one).
* The anatomy page: redrawn < 100 ms after a slider moves. Measured in the server (one answer for
  three losses, with its JSON) and in Chromium (from the slider's input event to the end of drawing
  the answer, which the page records in ``window.anatomy.latencies``).

Each figure is printed with its ratio to the goal's budget (below 1: within the goal). The browser
part needs Debian's ``chromium`` and ``chromium-driver`` and selenium; without them it says so.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time

from ._timing import fmt_seconds, markdown

TRAIN = "dataset=circle&hidden=8,8&loss=binary_cross_entropy&steps_per_frame=10&points=500&batch_size=10"
ANATOMY = "axis=binary&losses=binary_cross_entropy,focal,hinge&x=1"
FRAME_BUDGET, ANATOMY_BUDGET = 1 / 20, 0.100


def _server_frames(frames: int) -> dict:
    from jaxloss.playground import _session
    from jaxloss.playground._state import TrainState

    session = _session.Session(TrainState.from_hash(TRAIN))
    json.dumps(session.frame())
    session.advance(10)  # compiled
    times, advance, views, sizes = [], [], [], []
    for _ in range(frames):
        start = time.perf_counter()
        session.advance(10)
        session.step.block_until_ready()
        middle = time.perf_counter()
        text = json.dumps(session.frame(), separators=(",", ":"))
        end = time.perf_counter()
        times.append(end - start)
        advance.append(middle - start)
        views.append(end - middle)
        sizes.append(len(text))
    return {"frame_s": statistics.median(times), "advance_s": statistics.median(advance),
            "views_s": statistics.median(views), "frame_bytes": statistics.median(sizes),
            "frame_max_s": max(times)}


def _server_anatomy(repetitions: int) -> float:
    from jaxloss.playground import _anatomy
    from jaxloss.playground._state import AnatomyState

    state = AnatomyState.from_hash(ANATOMY)
    _anatomy.answer(state)
    times = []
    for i in range(repetitions):
        moved = AnatomyState.from_mapping({**state.__dict__, "options": {"focal": {"gamma": 0.5 + i % 10 * 0.3}}})
        start = time.perf_counter()
        json.dumps(_anatomy.answer(moved))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _browser(seconds: float, moves: int) -> dict | str:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.support.ui import WebDriverWait
    except ImportError:
        return "selenium is not installed"
    if not chromium or not driver_path:
        return "Chromium is not installed (apt-get install chromium chromium-driver)"
    from jaxloss.playground import PlaygroundServer

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900"):
        options.add_argument(flag)
    with PlaygroundServer() as server:
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
        try:
            wait = WebDriverWait(driver, 120, poll_frequency=0.05)
            driver.get(server.url("train", state=TRAIN))
            wait.until(lambda d: d.execute_script("return window.playground && window.playground.ready"))
            driver.find_element("id", "play").click()
            wait.until(lambda d: d.execute_script("return window.playground.frame.step >= 100"))  # compiled, warm
            driver.execute_script("window.playground.frameTimes.length = 0; window.playground.drawTimes.length = 0;")
            time.sleep(seconds)
            arrivals, draws, steps = driver.execute_script(
                "const p = window.playground; return [p.frameTimes.slice(), p.drawTimes.slice(), "
                "p.state.steps_per_frame]")
            driver.find_element("id", "play").click()
            gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
            driver.get(server.url("anatomy", state=ANATOMY))
            wait.until(lambda d: d.execute_script("return window.anatomy && window.anatomy.ready"))
            driver.execute_script("window.anatomy.latencies.length = 0")
            for i in range(moves):
                driver.execute_script(
                    "const el = document.querySelector('#hyper input[data-loss=focal][data-hyper=gamma]');"
                    "el.value = arguments[0]; el.dispatchEvent(new Event('input', {bubbles: true}));",
                    str(0.5 + (i % 10) * 0.3))
                time.sleep(0.15)
            wait.until(lambda d: d.execute_script("return window.anatomy.latencies.length") >= moves // 2)
            latencies = driver.execute_script("return window.anatomy.latencies.slice()")
        finally:
            driver.quit()
    return {"fps": 1000 / statistics.median(gaps) if gaps else 0.0, "frames": len(arrivals),
            "steps_per_frame": steps, "draw_ms": statistics.median(draws) if draws else float("nan"),
            "anatomy_ms": statistics.median(latencies), "anatomy_max_ms": max(latencies),
            "anatomy_moves": len(latencies)}


def run(quick: bool = False) -> dict:
    result = {"server": _server_frames(50 if quick else 300),
              "anatomy_server_s": _server_anatomy(10 if quick else 50)}
    result["browser"] = _browser(2.0 if quick else 8.0, 6 if quick else 30)
    return result


def report(result: dict) -> str:
    s = result["server"]
    rows = [
        ["train page, server: one frame (10 steps of 2-8-8-1 + views + JSON)", fmt_seconds(s["frame_s"]),
         f"{s['frame_s'] / FRAME_BUDGET:.2f} of 50 ms"],
        ["  of which 10 optimizer steps", fmt_seconds(s["advance_s"]), ""],
        ["  of which the views and JSON", fmt_seconds(s["views_s"]), f"{s['frame_bytes'] / 1024:.0f} KiB a frame"],
        ["anatomy page, server: one answer, 3 losses (+ JSON)", fmt_seconds(result["anatomy_server_s"]),
         f"{result['anatomy_server_s'] / ANATOMY_BUDGET:.2f} of 100 ms"],
    ]
    b = result["browser"]
    if isinstance(b, dict):
        rows += [
            [f"train page, Chromium: frames per second ({b['steps_per_frame']} steps each, {b['frames']} frames)",
             f"{b['fps']:.1f} fps", f"{20 / max(b['fps'], 1e-9):.2f} of the 20 fps budget"],
            ["train page, Chromium: drawing one frame", f"{b['draw_ms']:.1f} ms", ""],
            [f"anatomy page, Chromium: slider input to drawn ({b['anatomy_moves']} moves)",
             f"{b['anatomy_ms']:.1f} ms (max {b['anatomy_max_ms']:.0f})",
             f"{b['anatomy_ms'] / 100:.2f} of 100 ms"],
        ]
        note = ""
    else:
        note = f"\n\nBrowser figures not measured: {b}."
    return markdown(["what", "median", "against the goal"], rows) + note
