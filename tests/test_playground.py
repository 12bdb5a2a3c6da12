"""The playground without a browser: its states, its training runs and its server's endpoints.

The browser tests (tests/test_playground_browser.py) drive the pages; these check what the pages
rely on: every loss the picker offers trains (read from the registry, for every task and encoding),
the anatomy's numbers against NumPy float64 references, states round-trip through the URL and JSON,
every bad input is answered with a message naming the field, and the server refuses other sites.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxloss as jl
from jaxloss import _kinds, _registry
from jaxloss.playground import _anatomy, _catalog, _data, _session
from jaxloss.playground._server import PlaygroundServer, catalog
from jaxloss.playground._state import LIMITS, AnatomyState, TrainState, anatomy_losses

pytestmark = pytest.mark.xdist_group("playground")  # one worker compiles the playground's programs once

TASKS = list(_data.PlaygroundTask)
_KIND_TASKS = {  # which input kinds a task can train, written independently of the playground's table
    "binary": {"binary_logits", "signed_binary", "multilabel_logits", "class_logits", "class_log_probs",
               "class_distribution", "regression"},
    "multiclass": {"class_logits", "class_log_probs", "class_distribution"},
    "regression": {"regression"},
}
_REGISTRY_TASKS = {  # which registry tasks may appear for each playground task
    "binary": {"binary", "multiclass", "distribution", "multilabel", "regression", "quantile_regression",
               "probabilistic_regression"},
    "multiclass": {"multiclass", "distribution", "binary"},
    "regression": {"regression", "quantile_regression", "probabilistic_regression"},
}


def _decode(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


# -- what the picker offers comes from the registry ----------------------------------------------------


@pytest.mark.parametrize("task", TASKS, ids=str)
def test_the_picker_offers_every_registry_loss_that_fits(task):
    offered = {e.name for e in _catalog.losses(task)}
    expected = {e.name for e in _registry.catalog()
                if str(e.task) in _REGISTRY_TASKS[str(task)]
                and {k.name for k in (e.inputs, *e.also_inputs)} & _KIND_TASKS[str(task)]}
    assert offered == expected
    listed = [d["name"] for d in catalog()["losses"][str(task)]]
    assert listed == [e.name for e in _catalog.losses(task)]  # the page lists exactly these, native ones first
    assert listed[0] == _catalog.DEFAULT_LOSS[task]


def test_every_slider_has_the_registry_range_and_default():
    for task in TASKS:
        for described in catalog()["losses"][str(task)]:
            entry = _registry.info(described["name"])
            for h in described["hyperparameters"]:
                declared = entry.hyperparameters[h["name"]]
                assert (h["low"], h["high"]) == tuple(map(float, declared.slider))
                assert h["optional"] == (declared.default is None)
                if not h["optional"]:
                    assert h["default"] == declared.default and declared.contains(h["default"])


def test_the_anatomy_axes_read_each_loss_input_kind():
    for axis, curve in (("regression", "error"), ("binary", "logit"), ("multiclass", "true_class_logit")):
        names = [e.name for e in anatomy_losses(axis)]
        assert names and all(_registry.info(n).inputs.curve_axis == curve for n in names)
    assert "binary_cross_entropy" in [e.name for e in anatomy_losses("binary")]
    assert "softmax_cross_entropy" in [e.name for e in anatomy_losses("multiclass")]


def test_traced_hyperparameters_are_found_per_loss():
    # bi-tempered's temperatures select its algorithm: they must be Python numbers (compiled in);
    # every other slider of the catalog is traced (moving it compiles nothing).
    static = {e.name: _catalog.static_hyperparameters(e.name) for t in TASKS for e in _catalog.losses(t)}
    assert {k: v for k, v in static.items() if v} == {"bitempered_logistic": frozenset({"t1", "t2"})}


# -- every offered loss trains ------------------------------------------------------------------------


def _encoding_cases():
    """One (task, loss) per encoding of each task, plus every loss traced (not compiled) below."""
    cases = []
    for task in TASKS:
        seen = set()
        for entry in _catalog.losses(task):
            enc = _catalog.encoding(entry, task)
            if enc.kind not in seen:
                seen.add(enc.kind)
                cases.append(pytest.param(task, entry.name, id=f"{task}-{enc.kind.name}-{entry.name}"))
    return cases


_DATASET = {"binary": "gauss", "multiclass": "blobs", "regression": "plane"}


@pytest.mark.parametrize("task,loss", _encoding_cases())
def test_each_encoding_trains_and_its_views_are_right(task, loss):
    state = TrainState.from_mapping({"dataset": _DATASET[str(task)], "loss": loss, "hidden": [4], "points": 200,
                                     "batch_size": 20, "optimizer": "adam", "learning_rate": 0.03})
    session = _session.Session(state)
    first = session.frame()
    session.advance(150)
    last = session.frame()
    assert last["step"] == 150 and not session.problem
    assert last["train_loss"] < first["train_loss"], (first["train_loss"], last["train_loss"])
    good = {"binary": 0.9, "multiclass": 0.9}
    if str(task) in good:
        assert last["metric"]["test"] >= good[str(task)]
    else:
        assert last["metric"]["name"] == "mse" and last["metric"]["test"] < 0.05
    # The views decode to the documented shapes, and the grid is the network's view of its points.
    n = len(session.split.train_x)
    pull = _decode(last["pull"])
    assert pull.shape == (n,) and np.all(np.isfinite(pull)) and np.all(pull >= 0)
    grid = _decode(last["grid"]["values"])
    classes = state.data.classes if str(task) == "multiclass" else 1
    assert grid.shape == (classes * _session.GRID ** 2,)
    program = session.program
    points = _data.grid(_session.GRID)
    view = np.asarray(program.encodings[0].view(program.network(session.params, points)), np.float32)
    np.testing.assert_allclose(grid, np.moveaxis(view, -1, 0).ravel() if view.ndim == 2 else view, rtol=1e-5,
                               atol=1e-5)
    assert len(last["neurons"]["layers"]) == 1 and len(last["neurons"]["layers"][0]) == 4
    assert [_decode(w).size for w in last["weights"]] == [2 * 4, 4 * program.outputs]


def test_the_pull_is_each_points_loss_gradient():
    # |d loss_i / d output_i| against finite differences of the per-example loss (NumPy, float64).
    state = TrainState.from_mapping({"dataset": "gauss", "loss": "binary_cross_entropy", "hidden": [3], "points": 60})
    session = _session.Session(state)
    session.advance(30)
    pull = _decode(session.frame()["pull"])
    out = np.asarray(session.program.network(session.params, session.split.train_x), np.float64)[:, 0]
    y = session.split.train_y.astype(np.float64)
    per_example = lambda z: np.logaddexp(0, z) - y * z  # noqa: E731  (BCE on logits)
    h = 1e-5
    numeric = np.abs((per_example(out + h) - per_example(out - h)) / (2 * h))
    np.testing.assert_allclose(pull, numeric, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("task", TASKS, ids=str)
def test_every_offered_loss_traces_with_traced_hyperparameters(task):
    # The whole picker (traced, not compiled: cheap): every loss of the task, every slider set.
    import jax

    for entry in _catalog.losses(task):
        options = {h: (s.default if s.default is not None else float(np.mean(s.slider)))
                   for h, s in _catalog.sliders(entry).items()}
        state = TrainState.from_mapping({"dataset": _DATASET[str(task)], "loss": entry.name, "options": options,
                                         "hidden": [3], "points": 60})
        split = _data.make(state.data, points=60, noise=0, train_fraction=0.5, seed=0)
        key, dyn = _session.structure(state, len(split.train_x))
        program = _session.Program(key)
        params = program.init(0)
        opt = program.optimizer.init(params)
        out = jax.eval_shape(program._advance, params, opt, np.int32(0), np.int32(3), np.uint32(0), dyn,
                             split.train_x, split.train_y)
        assert out[3].dtype == bool, entry.name
        views = jax.eval_shape(program._views, params, dyn, split.train_x, split.train_y, split.test_x,
                               split.test_y, _data.grid(4), _data.grid(3))
        assert views["pull"].shape == (len(split.train_x),), entry.name


def test_composite_terms_and_live_changes():
    state = TrainState.from_mapping({"dataset": "circle", "loss": "hinge", "loss2": "softmax_cross_entropy",
                                     "weight": 0.25, "hidden": [4], "points": 100, "regularization": "l2",
                                     "regularization_rate": 0.01})
    session = _session.Session(state)
    session.advance(20)
    frame = session.frame()
    terms = frame["terms"]
    assert set(terms) == {"hinge", "softmax_cross_entropy"}
    assert terms["hinge"]["weight"] == 0.75 and terms["softmax_cross_entropy"]["weight"] == 0.25
    total = 0.75 * terms["hinge"]["train"] + 0.25 * terms["softmax_cross_entropy"]["train"]
    assert frame["train_loss"] == pytest.approx(total, rel=1e-5)  # the breakdown adds up (regularizer aside)
    program = session.program
    # A live change (learning rate, weight) keeps the run and the compiled program.
    assert not session.update(dataclasses.replace(state, learning_rate=0.3, weight=0.5))
    assert session.program is program and int(session.step) == 20
    # A structural change (the network) starts a new run.
    assert session.update(dataclasses.replace(state, hidden=[5]))
    assert int(session.step) == 0 and session.run == 2


def test_a_diverging_run_stops_at_its_last_finite_weights():
    state = TrainState.from_mapping({"dataset": "plane", "loss": "mean_squared_error", "learning_rate": 10.0,
                                     "hidden": [8, 8], "activation": "relu", "points": 100})
    session = _session.Session(state)
    session.playing = True
    session.advance(300)
    assert "Lower the learning rate" in session.problem and not session.playing
    import jax

    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves(session.params))
    stopped = int(session.step)
    session.advance(10)
    assert int(session.step) == stopped  # nothing moves after a bad step


def test_a_state_reproduces_its_run():
    state = TrainState.from_hash("dataset=spiral&hidden=6&points=100&seed=7&optimizer=adam")
    frames = []
    for _ in range(2):
        session = _session.Session(TrainState.from_hash(state.to_hash()))
        session.advance(40)
        frames.append(session.frame())
    assert frames[0]["grid"] == frames[1]["grid"] and frames[0]["train_loss"] == frames[1]["train_loss"]


# -- the anatomy's numbers ----------------------------------------------------------------------------


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_anatomy_numbers_against_numpy():
    x = 1.3
    state = AnatomyState.from_mapping({"axis": "binary", "losses": ["binary_cross_entropy", "hinge"], "x": x,
                                       "target": 0})
    answer = _anatomy.answer(state)
    p = answer["point"]["binary_cross_entropy"]
    # label 0 at logit x: softplus(x), sigmoid(x), sigmoid(x) sigmoid(-x)
    assert (p["value"], p["first"], p["second"]) == pytest.approx(
        (np.logaddexp(0, x), _sigmoid(x), _sigmoid(x) * _sigmoid(-x)), rel=1e-5)
    h = answer["point"]["hinge"]  # label 0 is -1 for hinge: max(0, 1 + x)
    assert (h["value"], h["first"], h["second"]) == pytest.approx((1 + x, 1.0, 0.0))
    xs = np.asarray(answer["x"])
    assert len(xs) == _anatomy.POINTS and xs[0] == -5 and xs[-1] == 5
    np.testing.assert_allclose(answer["curves"]["binary_cross_entropy"]["value"], np.logaddexp(0, xs), rtol=1e-5)

    state = AnatomyState.from_mapping({"axis": "multiclass", "losses": ["softmax_cross_entropy"], "x": x,
                                       "classes": 4, "options": {"softmax_cross_entropy": {"label_smoothing": 0.0}}})
    p = _anatomy.answer(state)["point"]["softmax_cross_entropy"]
    q = np.exp(x) / (np.exp(x) + 3)  # the true class's probability against three zero logits
    assert (p["value"], p["first"], p["second"]) == pytest.approx((-np.log(q), q - 1, q * (1 - q)), rel=1e-5)

    state = AnatomyState.from_mapping({"axis": "regression", "losses": ["huber"], "x": 2.5, "target": 0.5,
                                       "options": {"huber": {"delta": 0.5}}})
    answer = _anatomy.answer(state)
    p = answer["point"]["huber"]
    assert (p["value"], p["first"], p["second"]) == pytest.approx((0.5 * (2.0 - 0.25), 0.5, 0.0))
    assert answer["x"][0] == pytest.approx(0.5 - 5)  # the axis is centred on the target


def test_anatomy_reports_a_target_outside_a_losss_domain():
    state = AnatomyState.from_mapping({"axis": "regression", "losses": ["poisson_nll", "huber"], "target": -1.0})
    answer = _anatomy.answer(state)
    assert "poisson_nll" in answer["problems"] and "huber" not in answer["problems"]
    assert all(v is None for v in answer["curves"]["poisson_nll"]["value"])


# -- states: round trips and bad input ----------------------------------------------------------------

_LOSSES = {t: [e.name for e in _catalog.losses(t)] for t in TASKS}


@st.composite
def train_states(draw):
    dataset = draw(st.sampled_from(_data.DATASETS))
    loss = draw(st.sampled_from(_LOSSES[dataset.task]))
    options = {k: draw(st.floats(*map(float, h.slider))) for k, h in _catalog.sliders(_registry.info(loss)).items()
               if draw(st.booleans())}
    options = {k: v for k, v in options.items() if _registry.info(loss).hyperparameters[k].contains(v)}
    ints = {k: draw(st.integers(*LIMITS[k])) for k in ("noise", "train_percent", "points", "batch_size",
                                                       "steps_per_frame", "seed")}
    return TrainState.from_mapping({
        "dataset": dataset.name, "loss": loss, "options": options, **ints,
        "hidden": draw(st.lists(st.integers(1, 8), max_size=6)),
        "features": draw(st.lists(st.sampled_from(list(_data.FEATURES)), min_size=1, max_size=7, unique=True)),
        "learning_rate": draw(st.sampled_from([1e-5, 0.03, 3.0])), "weight": draw(st.floats(0, 1)),
        "optimizer": draw(st.sampled_from(["sgd", "momentum", "adam", "adamw"])),
        "metric": draw(st.sampled_from(_catalog.METRICS[dataset.task])),
    })


@settings(max_examples=60, deadline=None)
@given(train_states())
def test_a_train_state_survives_the_url_and_json(state):
    assert TrainState.from_hash(state.to_hash()) == state
    assert TrainState.from_json(state.to_json()) == state


def test_an_anatomy_state_survives_the_url_and_json():
    state = AnatomyState.from_mapping({"axis": "multiclass", "losses": ["bitempered_logistic", "multi_margin"],
                                       "options": {"bitempered_logistic": {"t1": 0.5, "t2": 2.0}}, "x": -0.75,
                                       "classes": 5, "range": 8})
    assert AnatomyState.from_hash(state.to_hash()) == state
    assert AnatomyState.from_json(state.to_json()) == state


BAD_TRAIN = [
    ({"dataset": "nope"}, "dataset must be one of"),
    ({"noise": 51}, "noise must be between 0 and 50"),
    ({"noise": 2.5}, "noise must be a whole number"),
    ({"points": 10**6}, "points must be between"),
    ({"batch_size": True}, "batch_size must be a whole number"),
    ({"learning_rate": float("nan")}, "learning_rate must be a finite number"),
    ({"learning_rate": 1e9}, "learning_rate must be between"),
    ({"optimizer": "lbfgs"}, "optimizer must be one of sgd"),
    ({"activation": "__import__('os')"}, "activation must be one of"),
    ({"hidden": [9]}, "hidden must be a list of at most 6"),
    ({"hidden": [1] * 7}, "hidden must be a list of at most 6"),
    ({"hidden": "4,2"}, "hidden must be a list"),
    ({"features": []}, "features must be a non-empty list"),
    ({"features": ["x1", "x1"]}, "features must be a non-empty list of distinct"),
    ({"regularization": "l3"}, "regularization must be one of"),
    ({"loss": "nope"}, "'nope' is not a loss of the catalog"),
    ({"loss": "triplet_margin"}, "triplet_margin does not fit the binary task"),
    ({"loss": "focal", "options": {"gamma": -1}}, "options.gamma must be >= 0 for focal"),
    ({"loss": "focal", "options": {"gammma": 1}}, "options.gammma is not a hyperparameter of focal"),
    ({"loss": "focal", "options": {"gamma": "2"}}, "options.gamma must be a finite number"),
    ({"loss2": "mean_squared_log_error"}, "loss2 mean_squared_log_error does not fit"),
    ({"weight": 1.5}, "weight must be between 0 and 1"),
    ({"metric": "r2"}, "metric must be one of accuracy"),
    ({"seed": -1}, "seed must be between"),
    ({"colour": "red"}, "unknown keys"),
]


@pytest.mark.parametrize("change,message", BAD_TRAIN, ids=[m for _, m in BAD_TRAIN])
def test_bad_train_states_name_the_field(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainState.from_mapping(change)


BAD_HASHES = [
    ("noise=abc", "noise must be a number"),
    ("noise=1&noise=2", "sets 'noise' twice"),
    ("%zz%%", "is not key=value pairs"),
    ("colour=red", "unknown key 'colour'"),
    ("hidden=4,x", "hidden must be whole numbers"),
    ("x" * 5000, "at most 4000 characters"),
]


@pytest.mark.parametrize("text,message", BAD_HASHES, ids=[m for _, m in BAD_HASHES])
def test_bad_url_states_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        TrainState.from_hash(text)


def test_bad_json_and_anatomy_states_are_refused():
    for text, message in (("{", "not valid JSON"), ("[1]", "expected a JSON object"), ("/etc/passwd", "not valid JSON"),
                          ('{"loss": "hinge", "evil": 1}', "unknown keys")):
        with pytest.raises(ValueError, match=message):
            TrainState.from_json(text)
    for raw, message in (({"axis": "time"}, "axis must be one of"),
                         ({"losses": ["huber"]}, "huber does not fit the binary axis"),
                         ({"losses": ["hinge"] * 7}, "at most 6"), ({"target": 0.5}, "label 0 or 1"),
                         ({"axis": "regression", "target": 9}, "target must be between"),
                         ({"range": 0}, "range must be between"), ({"x": float("inf")}, "x must be a finite")):
        with pytest.raises(ValueError, match=message):
            AnatomyState.from_mapping(raw)


def test_a_new_task_picks_its_own_loss_and_metric():
    circle = TrainState.from_mapping({"loss": "hinge", "loss2": "focal"})
    blobs = TrainState.from_mapping({**circle.__dict__, "dataset": "blobs"}, previous=circle)
    assert (blobs.loss, blobs.loss2, blobs.metric) == ("softmax_cross_entropy", "", "accuracy")
    plane = TrainState.from_hash("dataset=plane")
    assert (plane.loss, plane.metric) == ("mean_squared_error", "mse")


# -- the server ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    with PlaygroundServer() as running:
        yield running


def _request(server, method, path, body=None, headers=None, raw=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    connection.request(method, path, data, {**hdrs, **(headers or {})})
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    kind = response.getheader("Content-Type", "")
    return response.status, (json.loads(payload) if kind.startswith("application/json") else payload), response


def test_pages_and_files_are_served_from_the_package(server):
    for path in ("/train", "/anatomy", "/static/style.css", "/static/common.js"):
        status, body, response = _request(server, "GET", path)
        assert status == 200 and len(body) > 100, path
    status, _, response = _request(server, "GET", "/train")
    assert "script-src 'self'" in response.getheader("Content-Security-Policy")
    status, _, response = _request(server, "GET", "/")
    assert status == 302 and response.getheader("Location") == "/train"
    for path in ("/static/../_server.py", "/static/%2e%2e/_server.py", "/static/_server.py", "/etc/passwd", "/api/x"):
        assert _request(server, "GET", path)[0] == 404, path
    html = _request(server, "GET", "/train")[1].decode()
    assert "http://" not in html and "https://" not in html  # nothing from the network
    # Both pages carry the shared bar (static/_chrome.html, put in by the server), which is not served alone.
    for page in ("/train", "/anatomy"):
        text = _request(server, "GET", page)[1].decode()
        assert text.count('id="copy-link"') == 1 and 'id="error-text"' in text and "#include" not in text, page
    assert _request(server, "GET", "/static/_chrome.html")[0] == 404


def test_other_sites_are_refused(server):
    port = server.port
    for headers in ({"Host": f"evil.example:{port}"}, {"Host": "127.0.0.1"}, {"Host": f"127.0.0.1:{port + 1}"}):
        status, body, _ = _request(server, "GET", "/api/catalog", headers=headers)
        assert status == 403 and "answers requests for 127.0.0.1" in body["error"]
    status, body, _ = _request(server, "POST", "/api/train/state", {"hash": ""}, {"Origin": "http://evil.example"})
    assert status == 403 and "another site" in body["error"]
    ok = _request(server, "POST", "/api/train/state", {"hash": ""}, {"Origin": f"http://localhost:{port}",
                                                                    "Host": f"localhost:{port}"})
    assert ok[0] == 200


def test_bad_requests_get_a_message_and_the_server_keeps_running(server):
    cases = [
        ("/api/train/state", None, "{not json", "not valid JSON", 400),
        ("/api/train/state", None, "[]", "must be a JSON object", 400),
        ("/api/train/state", {"hash": "loss=nope"}, None, "'nope' is not a loss", 400),
        ("/api/train/state", {"json": "/etc/passwd"}, None, "not valid JSON", 400),
        ("/api/train/state", {"hash": "", "json": "{}"}, None, "exactly one of", 400),
        ("/api/train/state", {"state": {"hidden": [100]}}, None, "hidden must be", 400),
        ("/api/train/control", {"session": "nope", "action": "play"}, None, "no such session", 400),
        ("/api/anatomy", {"state": {"losses": ["nope"]}}, None, "'nope' is not a loss", 400),
        ("/api/train/state", None, "x" * (70 * 1024), "over 64 KiB", 413),
    ]
    for path, body, raw, message, code in cases:
        status, answer, _ = _request(server, "POST", path, body, raw=raw)
        assert status == code and message in answer["error"], (path, answer)
    status, answer, _ = _request(server, "POST", "/api/train/state", raw='{"hash": ""}',
                                 headers={"Content-Type": "text/plain"})
    assert status == 415
    assert _request(server, "GET", "/api/catalog")[0] == 200  # still serving


def _frames(server, session, count):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("GET", f"/api/train/stream?session={session}")
    response = connection.getresponse()
    assert response.getheader("Content-Type") == "text/event-stream"
    out, event = [], None
    while len(out) < count:
        line = response.fp.readline().decode()
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            out.append((event, json.loads(line[5:])))
    connection.close()
    return out


def test_a_session_streams_frames_while_playing(server):
    status, answer, _ = _request(server, "POST", "/api/train/session",
                                 {"hash": "dataset=gauss&hidden=3&points=100&optimizer=adam"})
    assert status == 200
    key = answer["session"]
    (event, first), = _frames(server, key, 1)
    assert event == "frame" and first["step"] == 0 and first["data"]["labels"] == "binary"
    assert _decode(first["data"]["train_x"]).size == 2 * 50
    assert _request(server, "POST", "/api/train/control", {"session": key, "action": "play"})[1]["playing"]
    frames = [f for e, f in _frames(server, key, 30) if e == "frame"]
    steps = [f["step"] for f in frames]
    assert steps == sorted(steps) and steps[-1] > steps[0] and frames[-1]["train_loss"] < first["train_loss"]
    _request(server, "POST", "/api/train/control", {"session": key, "action": "pause"})
    status, answer, _ = _request(server, "POST", "/api/train/update",
                                 {"session": key, "state": {**answer["state"], "learning_rate": 0.1}})
    assert status == 200 and answer["reset"] is False and "learning_rate=0.1" in answer["hash"]
    status, answer, _ = _request(server, "POST", "/api/train/update",
                                 {"session": key, "state": {**answer["state"], "dataset": "plane"}})
    assert answer["reset"] is True and answer["state"]["loss"] == "mean_squared_error"
    status, answer, _ = _request(server, "POST", "/api/train/control", {"session": key, "action": "jump"})
    assert status == 400 and "play, pause, step or reset" in answer["error"]


def test_the_anatomy_endpoint(server):
    status, answer, _ = _request(server, "POST", "/api/anatomy", {"hash": "axis=binary&losses=focal&o.focal.gamma=0"})
    assert status == 200
    bce_like = answer["point"]["focal"]  # focal with gamma 0 is cross-entropy: softplus(-x) at label 1
    assert bce_like["value"] == pytest.approx(np.logaddexp(0, -1.0), rel=1e-5)
    assert answer["hash"] == "axis=binary&losses=focal&x=1&target=1&classes=3&range=5&o.focal.gamma=0"


def test_the_command_line_serves_until_stopped(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "jaxloss", "playground", "anatomy", "--no-browser"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = process.stdout.readline()
        assert line.startswith("jaxloss playground: http://127.0.0.1:") and "/anatomy" in line
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        deadline = time.time() + 30
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/anatomy")
                assert connection.getresponse().status == 200
                connection.close()
                break
            except ConnectionRefusedError:
                assert time.time() < deadline
                time.sleep(0.2)
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_jl_playground_starts_a_server_and_stops_it():
    server = jl.playground(open_browser=False, quiet=True)
    try:
        assert server.url("anatomy", state="axis=binary") == f"http://127.0.0.1:{server.port}/anatomy#axis=binary"
        status, _, _ = _request(server, "GET", "/api/catalog")
        assert status == 200
    finally:
        server.stop()
    with pytest.raises(ValueError, match="'train' or 'anatomy'"):
        jl.playground("nope", open_browser=False)
    with pytest.raises(ValueError, match="port must be"):
        PlaygroundServer(port=-1)


def test_in_jupyter_the_page_shows_inline(monkeypatch):
    import importlib

    import IPython.display

    playground_module = importlib.import_module("jaxloss.playground")  # jl.playground is the function

    shown = []
    monkeypatch.setattr(playground_module, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    server = jl.playground("anatomy", state="axis=multiclass", quiet=True)
    try:
        (frame,) = shown
        assert isinstance(frame, IPython.display.IFrame)
        assert frame.src == f"http://127.0.0.1:{server.port}/anatomy#axis=multiclass" and frame.height == 900
    finally:
        server.stop()
