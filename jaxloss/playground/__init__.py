"""The playground: a local web page to train small networks on any loss of the catalog, and to dissect losses.

``jaxloss playground`` (or ``jl.playground()``) starts a web server on ``127.0.0.1`` (a free port),
prints its URL and opens the browser. Two pages:

* **train** — TensorFlow Playground driven by JAX: a 2-D dataset, a network of up to 6 hidden layers
  of up to 8 neurons, an optax optimizer, L1/L2 regularization, and the loss picked from the catalog
  (every loss that fits the task, its hyperparameters as sliders), optionally mixed with a second
  loss. Training runs in the server as compiled JAX steps, several per frame, streamed to the page:
  the decision boundary, train and test loss, a metric, each neuron, and how hard each point pulls
  on the model (``|d loss_i / d output|``).
* **anatomy** — losses of the catalog side by side along the error, the logit or the true class's
  logit: value, first and second derivative, every hyperparameter as a slider, a draggable point.

Every control lives in the URL hash, so a link reproduces a seeded run; states export to and import
from JSON. The page and its scripts ship inside the package (no network needed). The server
answers only on 127.0.0.1, rejects requests whose ``Host`` or ``Origin`` is another site, and
checks every input (see ``jaxloss/playground/_state.py``).

>>> import jaxloss as jl
>>> server = jl.playground(open_browser=False)  # doctest: +SKIP
jaxloss playground: http://127.0.0.1:51234/train  (Ctrl-C or server.stop() to stop)
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Literal

from jaxloss._arguments import flag_argument, integer_argument, text_argument

if TYPE_CHECKING:
    from jaxloss.playground._server import PlaygroundServer

__all__ = ["playground", "PlaygroundServer"]

Page = Literal["train", "anatomy"]


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    ip = getattr(shell, "get_ipython", lambda: None)() if shell is not None else None
    return ip is not None and type(ip).__name__ != "TerminalInteractiveShell"


def playground(page: Page = "train", *, state: str = "", port: int = 0, open_browser: bool = True,
               height: int = 900, quiet: bool = False) -> PlaygroundServer:
    """Starts the playground's local web server (in a background thread) and shows the page.

    Args:
      page: ``"train"`` or ``"anatomy"``.
      state: a URL hash to start from (``"dataset=spiral&loss=focal"``; empty: the defaults).
      port: the port on 127.0.0.1 (0: a free one).
      open_browser: open the page in the default browser (outside Jupyter). In Jupyter the page is
        shown inline instead, as an IFrame of the local server (JupyterLab, Notebook and VS Code
        with a local kernel; a remote kernel, Colab included, cannot reach the kernel machine's
        127.0.0.1: forward the port, e.g. ``ssh -L 8765:127.0.0.1:8765``, and pass ``port=8765``).
      height: the IFrame's height in pixels (Jupyter).
      quiet: do not print the URL.

    Returns:
      The running :class:`PlaygroundServer` (``.url(page)``, ``.stop()``). Calling ``playground`` again
      starts another server; stop the old one with ``.stop()``.
    """
    # Every argument is checked before the server starts (a wrong one must not open a browser).
    if not isinstance(page, str) or page not in ("train", "anatomy"):
        raise (ValueError if isinstance(page, str) else TypeError)(
            f"playground: page={page!r}; choose 'train' or 'anatomy'.")
    text_argument("playground", "state", state, optional=False)
    port = integer_argument("playground", "port", port, low=0, high=65536, meaning=" (0: a free port)")
    open_browser = flag_argument("playground", "open_browser", open_browser)
    height = integer_argument("playground", "height", height, low=1, meaning=" (pixels)")
    quiet = flag_argument("playground", "quiet", quiet)
    from jaxloss.playground._server import PlaygroundServer

    server = PlaygroundServer(port=port)
    server.start()
    url = server.url(page, state=state)
    if not quiet:
        print(f"jaxloss playground: {url}  (server.stop() to stop)")
    if _in_notebook():
        from IPython.display import IFrame, display

        display(IFrame(url, width="100%", height=height))
    elif open_browser:
        import webbrowser

        webbrowser.open(url)
    return server


def __getattr__(name: str) -> Any:  # the server's modules load when the playground opens
    if name == "PlaygroundServer":
        from jaxloss.playground._server import PlaygroundServer

        return PlaygroundServer
    raise AttributeError(f"module 'jaxloss.playground' has no attribute {name!r}")


def __dir__() -> list[str]:  # the public API only
    return sorted(__all__)
