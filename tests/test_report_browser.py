"""The CDNOW report opened in headless Chromium with the network blocked.

A copy of the report gets a small script that, on load, checks every image
decoded (``complete`` and ``naturalWidth > 0``) and every section heading
exists, and writes the result into the DOM; Chromium dumps the DOM after
scripts ran and, in a second run, takes a screenshot. Console errors are read
from Chromium's log on stderr.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from clvmodels.datasets import load_cdnow_transactions
from clvmodels.report import SECTIONS, validation_report

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
    pytest.mark.slow,
]

_CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var ids = %s;
  var missing = ids.filter(function (id) { return !document.getElementById(id); });
  var out = document.createElement("pre");
  out.id = "render-check";
  out.textContent = JSON.stringify({images: imgs.length, broken: broken.length,
                                    missing: missing});
  document.body.appendChild(out);
  document.title = broken.length === 0 && missing.length === 0 ? "RENDER-OK" : "RENDER-BAD";
});
</script>"""


def _chromium(args, tmp_path, name):
    profile = tmp_path / f"profile-{name}"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "report.html"
    return validation_report(load_cdnow_transactions(), calibration_end="1997-09-30",
                             observation_end="1998-06-30", path=path)


def test_report_renders_in_chromium(report, tmp_path):
    ids = json.dumps([sid for sid, _ in SECTIONS])
    checked = tmp_path / "checked.html"
    checked.write_text(report.read_text().replace("</body>", _CHECK % ids + "\n</body>"))
    run = _chromium(["--dump-dom", checked.as_uri()], tmp_path, "dom")
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="render-check">(.*?)</pre>', run.stdout, re.S)
    assert found, "the check script did not run; stderr:\n" + run.stderr[-2000:]
    result = json.loads(found.group(1).replace("&quot;", '"'))
    assert result["images"] >= 10
    assert result["broken"] == 0
    assert result["missing"] == []
    assert "<title>RENDER-OK</title>" in run.stdout
    console = [line for line in run.stderr.splitlines()
               if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    for _, heading in SECTIONS:
        assert heading in run.stdout

    shot = tmp_path / "report.png"
    run = _chromium([f"--screenshot={shot}", "--window-size=1280,2400", "--hide-scrollbars",
                     report.as_uri()], tmp_path, "shot")
    assert run.returncode == 0, run.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    console = [line for line in run.stderr.splitlines()
               if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    keep = Path("/tmp/clvmodels_report_screenshot.png")
    try:  # kept for a person to look at; not part of the assertions
        keep.write_bytes(shot.read_bytes())
    except OSError:
        pass
