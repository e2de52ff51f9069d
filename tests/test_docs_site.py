"""The documentation site: its API reference covers every exported name, and its pages render.

Two kinds of check:

* Without a build: every name in the ``__all__`` of each public namespace is listed in
  that namespace's page of ``docs/api/`` (an autosummary entry), and nothing else is.
* On a built site (``python -m sphinx -W --keep-going -b html docs docs/_build/html``;
  CI sets ``CLVMODELS_DOCS_HTML`` to it after the build, and then a missing build is a
  failure): the object inventory holds every exported name under its namespace, and
  headless Chromium, served the site over loopback HTTP, renders the index, a model page
  and a notebook page with no console error, every image decoded and the equations typeset.
"""

from __future__ import annotations

import functools
import http.server
import importlib
import json
import os
import re
import subprocess
import threading
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "api"

# namespace -> the API page that documents its names
PAGES = {
    "clvmodels.models": "models.rst",
    "clvmodels.formulas": "formulas.rst",
    "clvmodels.evaluation": "evaluation.rst",
    "clvmodels.plotting": "plotting.rst",
    "clvmodels.data": "data.rst",
    "clvmodels.datasets": "data.rst",
    "clvmodels.data.simulate": "data.rst",
    "clvmodels.spark": "spark.rst",
    "clvmodels.bundle": "spark.rst",
    "clvmodels.report": "report.rst",
    "clvmodels.errors": "errors.rst",
    "clvmodels.funnel": "funnel.rst",
}
# top-level names that are modules, documented by their own page
TOP_LEVEL_MODULES = {"datasets", "errors", "formulas", "plotting", "report", "funnel"}


def _exported(namespace: str) -> list[str]:
    return list(importlib.import_module(namespace).__all__)


def _autosummary_entries(page: str) -> dict[str, list[str]]:
    """currentmodule -> names listed in the autosummary tables that follow it."""
    entries: dict[str, list[str]] = {}
    module = None
    in_table = False
    for line in (API / page).read_text().splitlines():
        found = re.match(r"\.\. currentmodule:: (\S+)", line)
        if found:
            module = found.group(1)
            entries.setdefault(module, [])
            continue
        if line.startswith(".. autosummary::"):
            in_table = True
            continue
        if in_table:
            if line.strip().startswith(":") or not line.strip():
                continue
            if line.startswith("   "):
                entries[module].append(line.strip())
            else:
                in_table = False
    return entries


@pytest.mark.parametrize("namespace", sorted(PAGES))
def test_every_exported_name_is_listed_in_its_api_page(namespace):
    listed = _autosummary_entries(PAGES[namespace]).get(namespace)
    assert listed is not None, f"docs/api/{PAGES[namespace]} has no currentmodule {namespace}"
    exported = _exported(namespace)
    missing = sorted(set(exported) - set(listed))
    extra = sorted(set(listed) - set(exported))
    assert not missing, f"{namespace} exports names docs/api/{PAGES[namespace]} lacks: {missing}"
    assert not extra, (
        f"docs/api/{PAGES[namespace]} lists names {namespace} does not export: {extra}")
    assert len(listed) == len(set(listed)), f"a name is listed twice in {PAGES[namespace]}"


def test_every_top_level_name_is_linked_from_the_top_level_page():
    text = (API / "clvmodels.rst").read_text()
    import clvmodels

    for name in clvmodels.__all__:
        if name == "__version__":
            continue
        assert f"``{name}``" in text, f"docs/api/clvmodels.rst does not list clvmodels.{name}"
        if name in TOP_LEVEL_MODULES:
            assert f":mod:`clvmodels.{name}`" in text
        else:
            obj = getattr(clvmodels, name)
            homes = [ns for ns in PAGES if getattr(importlib.import_module(ns), name, None) is obj
                     and name in _exported(ns)]
            assert homes, f"clvmodels.{name} is exported by no documented namespace"
            assert any(f"`{ns}.{name}`" in text for ns in homes), (
                f"docs/api/clvmodels.rst does not link clvmodels.{name} to {homes}")


# ------------------------------------------------------------------------- the built site
def _built_site() -> Path:
    configured = os.environ.get("CLVMODELS_DOCS_HTML")
    site = Path(configured) if configured else ROOT / "docs" / "_build" / "html"
    if not (site / "objects.inv").exists():
        if configured:
            pytest.fail(f"CLVMODELS_DOCS_HTML={configured} holds no built site")
        pytest.fail("the documentation is not built (docs/_build/html): these tests run in "
                    ".ci/run after `python -m sphinx -W -b html docs docs/_build/html`, "
                    "with -m docs_site")
    return site


def _inventory(site: Path) -> set[str]:
    """Names of the Python objects in a Sphinx objects.inv (format version 2)."""
    raw = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    names = set()
    for line in zlib.decompress(raw[header_end:]).decode().splitlines():
        name, domain_role = line.split(" ", 2)[:2]
        if domain_role.startswith("py:"):
            names.add(name)
    return names


@pytest.mark.docs_site
def test_the_built_reference_documents_every_exported_name():
    site = _built_site()
    documented = _inventory(site)
    missing = [f"{ns}.{name}" for ns in PAGES for name in _exported(ns)
               if f"{ns}.{name}" not in documented]
    assert not missing, f"not in the built API reference: {missing}"
    for ns in PAGES:
        assert ns in documented, f"module {ns} has no page"
    # and each documented class has its methods: fit and its predictions are there
    for member in ("fit", "summary", "expected_purchases", "probability_alive", "save"):
        assert f"clvmodels.models.BGNBD.{member}" in documented


CHROMIUM = Path("/usr/bin/chromium")
# Injected first in <head>: records script errors, failed resource loads, rejected promises and
# console.error/warn calls from the start; after load (and MathJax's typesetting) it writes
# what it found into the DOM, which Chromium then dumps.
_CHECK = """<script>
(function () {
  var problems = [];
  window.addEventListener("error", function (e) {
    var t = e.target || {};
    problems.push(t.src || t.href ? "failed to load " + (t.src || t.href) : "error: " + e.message);
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    problems.push("unhandled rejection: " + e.reason);
  });
  ["error", "warn"].forEach(function (level) {
    var original = console[level];
    console[level] = function () {
      problems.push("console." + level + ": " + Array.prototype.join.call(arguments, " "));
      return original.apply(console, arguments);
    };
  });
  window.addEventListener("load", function () {
    setTimeout(function () {
      var imgs = Array.prototype.slice.call(document.images);
      var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
      var out = document.createElement("pre");
      out.id = "render-check";
      out.textContent = JSON.stringify({
        images: imgs.length, broken: broken.map(function (i) { return i.src; }),
        math: document.querySelectorAll(".MathJax_Display, .MathJax, .MathJax_CHTML").length,
        problems: problems,
        h1: (document.querySelector("h1") || {}).textContent || ""});
      document.body.appendChild(out);
    }, 3000);
  });
})();
</script>"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the site; the checked pages get the check script at the start of <head>."""

    checked: set[str] = set()

    def log_message(self, *args):  # no chatter on stderr
        pass

    def do_GET(self) -> None:  # the http.server name
        path = self.path.split("?", 1)[0].lstrip("/")
        if path in self.checked:
            body = (Path(self.directory) / path).read_text().replace("<head>", "<head>" + _CHECK, 1)
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()


@pytest.fixture(scope="module")
def served_site():
    site = _built_site()
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed")
    handler = functools.partial(_Handler, directory=str(site))
    _Handler.checked = {"index.html", "models/bgnbd.html", "notebooks/03_choosing_a_model.html"}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _chromium(args, profile):
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


@pytest.mark.docs_site
@pytest.mark.slow
@pytest.mark.parametrize("page, min_images, min_math", [
    ("index.html", 0, 0),
    ("models/bgnbd.html", 1, 3),
    ("notebooks/03_choosing_a_model.html", 5, 0),
])
def test_page_renders_in_chromium(served_site, tmp_path, page, min_images, min_math):
    run = _chromium(["--dump-dom", f"{served_site}/{page}"], tmp_path / "profile")
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="render-check">(.*?)</pre>', run.stdout, re.S)
    assert found, "the check script did not run; stderr:\n" + run.stderr[-2000:]
    result = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert result["broken"] == [], result
    assert result["images"] >= min_images, result
    assert result["math"] >= min_math, result  # MathJax typeset the equations
    assert result["h1"].strip(), result
    assert result["problems"] == [], result["problems"]
    # and Chromium's own log: uncaught exceptions, resources that failed to load
    console = [line for line in run.stderr.splitlines()
               if "Uncaught" in line or "Failed to load resource" in line
               or ("CONSOLE" in line and "ERROR" in line)]
    assert console == [], console
