"""The documentation site (mkdocs.yml, docs/): it builds with warnings as errors, every public name has a
reference entry, every internal link resolves, the tutorial's numbers were computed during the build, and
headless Chromium opens the built pages from file://. The site is built once for the session."""

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jax.numpy as jnp
import pytest

import jaxloss as jl

pytestmark = pytest.mark.xdist_group("docs")

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
MODULE_PAGES = {"compose": "reference/compose.html", "metrics": "reference/metrics.html",
                "aggregators": "reference/aggregators.html",
                "inspection": "reference/inspection.html", "models": "reference/models.html",
                "plot": "reference/plot.html", "train": "reference/train.html", "toys": "reference/train.html",
                "losses": "reference/losses/index.html", "playground": "reference/playground.html"}


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the docs tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")   # built once: every test of this file runs on one xdist worker (its group)
def site(tmp_path_factory) -> Path:
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        _skip_or_fail("mkdocs is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("docs") / "site"
    # The environment carries the suite's persistent XLA cache (tests/conftest.py): the tutorials' programs
    # compile once per machine.
    env = dict(os.environ, MPLBACKEND="Agg", NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout[-5000:]}\n{proc.stderr[-5000:]}"
    return out


def _text(path: Path) -> str:
    """The text of an HTML file: tags stripped (line-break hints, ``<wbr>``, inside words too), entities
    decoded, runs of whitespace made one space."""
    source = path.read_text(encoding="utf-8").replace("<wbr>", "")
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", source)).split())


def test_every_loss_is_on_its_family_page(site):
    names = {name: entry for entry in jl.catalog() for name in entry.names}
    missing = []
    for name in jl.__all__:
        if name in names:
            entry = names[name]
            page = site / "reference" / "losses" / f"{entry.family}.html"
            source = page.read_text(encoding="utf-8") if page.exists() else ""
            if f'id="{entry.name}"' not in source or name not in _text(page):
                missing.append(f"{name} ({entry.family})")
    assert not missing, f"losses without an entry on their family page: {missing}"
    text = _text(site / "reference" / "losses" / "regression.html")
    huber = jl.info("huber")
    assert huber.formula in text and huber.hyperparameters["delta"].describe() in text
    assert "bounded_gradient" in text and "huber_loss" in text and "[0.125, 1.5, 9.5]" in text


def _hooks():
    """docs/_hooks.py, the build's own code (it imports latex2mathml when it renders math)."""
    import importlib.util

    try:
        import latex2mathml  # noqa: F401
    except ImportError:
        _skip_or_fail("latex2mathml is not installed (pip install -e '.[docs]')")
    spec = importlib.util.spec_from_file_location("jaxloss_docs_hooks", ROOT / "docs" / "_hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registered_formula_renders_as_mathml():
    hooks = _hooks()
    for entry in jl.catalog():
        out = hooks.mathml(entry.latex, display=True)
        assert out.startswith("<math") and "<mi>" in out.replace("<mi ", "<mi>"), entry.name
    with pytest.raises(ValueError, match=r"\\\\nosuchcommand"):    # an unknown command fails the build
        hooks.mathml(r"\nosuchcommand{x}", display=True)
    rendered = hooks._render_math("a \\(x_1\\) b\n```\n$$ kept $$\n```\n`$$ kept too $$` $$ y^2 $$\n")
    assert rendered.count("<math") == 2 and "$$ kept $$" in rendered and "`$$ kept too $$`" in rendered
    assert "_" not in rendered.split("```")[0]    # nothing left for Markdown to read as emphasis


def test_every_loss_shows_its_formula_as_math(site):
    missing = []
    for entry in jl.catalog():
        source = (site / "reference" / "losses" / f"{entry.family}.html").read_text(encoding="utf-8")
        section = source.split(f'id="{entry.name}"', 1)[-1].split("<h2", 1)[0]
        shown = [html.unescape(alt) for alt in re.findall(r'<math alttext="([^"]*)"[^>]*display="block"', section)]
        if " ".join(entry.latex.split()) not in shown:
            missing.append(entry.name)
    assert not missing, f"losses whose page does not show their formula as MathML: {missing}"
    catalog = _text(site / "catalog.html")
    for entry in jl.catalog():
        for name in (entry.torch, entry.keras):
            assert name is None or name.rsplit(".", 1)[-1] in catalog, (entry.name, name)


def test_every_public_name_has_a_reference_entry(site):
    losses = {name for entry in jl.catalog() for name in entry.names}
    pages = sorted(site.rglob("*.html"))
    everything = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    missing = []
    for name in jl.__all__:
        if name in losses or name.startswith("__"):
            continue
        if name in MODULE_PAGES:
            if not (site / MODULE_PAGES[name]).exists():
                missing.append(name)
        elif f'id="jaxloss.{name}"' not in everything and not re.search(rf'id="jaxloss(\.[a-z]\w*)+\.{name}"', everything):
            missing.append(name)
    assert not missing, f"public names of jaxloss.__all__ with no reference entry in the site: {missing}"


def test_every_internal_link_resolves(site):
    broken = []
    for page in site.rglob("*.html"):
        for link in re.findall(r'(?:href|src)="([^"]*)"', page.read_text(encoding="utf-8")):
            if not link or link.startswith(("http:", "https:", "mailto:", "#", "data:", "javascript:")):
                continue
            path = unquote(urlsplit(link).path)   # 404.html's links are absolute: from the site's root
            target = (site / path.lstrip("/") if path.startswith("/") else page.parent / path).resolve()
            if not target.is_file():
                broken.append(f"{page.relative_to(site)} -> {link}")
    assert not broken, f"{len(broken)} internal links do not resolve: {broken[:20]}"


def test_catalog_and_gallery_are_generated(site):
    from jaxloss.demos import DEMOS

    catalog = _text(site / "catalog.html")
    assert all(entry.name in catalog for entry in jl.catalog())
    assert (site / "javascripts" / "tablesort.js").exists()
    gallery, text = (site / "gallery.html").read_text(encoding="utf-8"), _text(site / "gallery.html")
    for demo in DEMOS.values():
        assert f'src="gallery/{demo.module}.png"' in gallery and f"jaxloss demo {demo.name}" in text


def test_tutorial_numbers_were_computed_during_the_build(site):
    text = _text(site / "tutorials" / "what-a-loss-is.html")
    errors, targets = jnp.array([0.5, -1.0, 1.5, -0.5, 10.0], jnp.float32), jnp.zeros(5, jnp.float32)
    probabilities = jnp.array([[0.7, 0.2, 0.1]], jnp.float32)
    expected = [f"{float(jl.mse(errors, targets)):.4f}", f"{float(jl.mae(errors, targets)):.4f}",
                f"{float(jl.mse(errors[:4], targets[:4])):.4f}"]
    expected += [f"{float(jl.cross_entropy(probabilities, jnp.array([k]), from_logits=False)):.4f}" for k in range(3)]
    expected.append(f"{float(jl.cross_entropy(jnp.array([[0.01, 0.98, 0.01]], jnp.float32), jnp.array([0]), from_logits=False)):.4f}")
    assert expected[0] == "20.7500" and expected[3] == "0.3567"   # the numbers the prose talks about
    missing = [number for number in expected if number not in text]
    assert not missing, f"numbers the tutorial should have printed during the build: {missing}"
    assert "Traceback" not in text


# What each other tutorial prints when its code runs (independent of the machine's float rounding).
TUTORIAL_OUTPUTS = {
    "loss-or-metric": ["gradient of accuracy: [0.0, 0.0, 0.0", "early-stopped at epoch", "hesitant"],
    "compose-and-train": ["step 1000: total", "validation accuracy:", "its terms at the end:"],
    "inspect-a-gradient": ["finite differences", "dominant examples:", "first derivative"],
    "choosing-a-loss": ["q = 0.1: expected cross-entropy smallest at p = 0.10",
                        "q = 0.3: expected cross-entropy smallest at p = 0.30", "the outlier's share of the gradient"],
}


@pytest.mark.parametrize("page", sorted(TUTORIAL_OUTPUTS))
def test_every_tutorial_ran_during_the_build(site, page):
    text = _text(site / "tutorials" / f"{page}.html")
    missing = [s for s in TUTORIAL_OUTPUTS[page] if s not in text]
    assert not missing and "Traceback" not in text, missing


@pytest.fixture(scope="module")
def browser():
    try:
        import selenium  # noqa: F401
    except ImportError:
        _skip_or_fail("selenium is not installed (pip install -e '.[dev]')")
    if not CHROMIUM or not DRIVER:
        _skip_or_fail("Chromium is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,900", "--disable-extensions", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_chromium_opens_the_site_from_file(site, browser):
    from selenium.webdriver.common.by import By

    browser.get((site / "index.html").as_uri())
    assert "jaxloss" in browser.title
    assert browser.find_element(By.CSS_SELECTOR, "article h1").is_displayed()
    assert browser.find_element(By.LINK_TEXT, "Catalog").is_displayed()

    browser.get((site / "reference" / "losses" / "regression.html").as_uri())
    formula = jl.info("huber").formula
    shown = [e for e in browser.find_elements(By.CSS_SELECTOR, "code") if formula in e.text]
    assert shown and shown[0].is_displayed(), f"the huber formula {formula!r} is not visible"
    # The rendered formula: MathML that Chromium lays out as math (a fraction's numerator above its
    # denominator), not tags shown as text.
    layout = browser.execute_script("""
        const math = [...document.querySelectorAll('.jl-math math')].find(
            m => m.getAttribute('alttext').startsWith('\\\\frac{|p - t|}'));
        const fraction = math.querySelector('mfrac');
        const [top, bottom] = [...fraction.children].map(c => c.getBoundingClientRect());
        return {mathml: math instanceof MathMLElement, width: math.getBoundingClientRect().width,
                numerator_above: top.bottom <= bottom.top + 1, text: math.textContent};""")
    assert layout["mathml"] and layout["width"] > 50 and layout["numerator_above"], layout
    assert "max" in layout["text"] and "ϵ" in layout["text"], layout

    browser.get((site / "catalog.html").as_uri())    # our script: a filter box and sortable headers
    box = browser.find_element(By.CSS_SELECTOR, "input.jl-filter")
    box.send_keys("huber")
    visible = [r for r in browser.find_elements(By.CSS_SELECTOR, ".jl-sortable tbody tr") if r.is_displayed()]
    assert visible and all("huber" in r.text for r in visible)


@pytest.mark.parametrize("page,count", [("what-a-loss-is", 4), ("loss-or-metric", 1), ("inspect-a-gradient", 1)])
def test_tutorial_figures_are_drawn_by_the_demos_during_the_build(site, page, count):
    page_html = (site / "tutorials" / f"{page}.html").read_text(encoding="utf-8")
    assert page_html.count('src="data:image/png;base64,') == count
    assert page_html.count("while this page was built") >= count

