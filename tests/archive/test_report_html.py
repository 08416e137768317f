"""The HTML report is one self-contained, interactive page that a headless browser renders and drives without errors.

The browser check talks to headless Chromium over the DevTools protocol (``--remote-debugging-pipe``:
NUL-terminated JSON messages, commands in on fd 3, replies and events out on fd 4) and collects
every console message of level error, uncaught exception, error log entry and failed resource
load while the page loads.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from PIL import Image

from monai_debclust.archive.outputs import write_report

from .helpers import IMAGE_SIZE

pytestmark = pytest.mark.slow

FIGURES = ("sizes", "map", "montage", "confusion")


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    return path


def _headless(*arguments: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", *arguments],
            capture_output=True, text=True, timeout=120,
        )


def _bash() -> str:
    path = shutil.which("bash")
    if path is None:
        pytest.skip("bash is needed to hand Chromium its DevTools pipes")
    return path


def _above_nine(fd: int) -> int:
    """``fd`` moved to a descriptor number of 10 or more."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class _DevTools:
    """A headless Chromium driven over ``--remote-debugging-pipe``."""

    def __init__(self, profile: str) -> None:
        commands_read, self._commands = os.pipe()
        self._replies, replies_write = os.pipe()
        # bash moves Chromium's pipe ends from fds >= 10 (never 3 or 4 themselves) onto 3 and 4, then becomes Chromium
        commands_read, replies_write = (_above_nine(fd) for fd in (commands_read, replies_write))
        remap = f'exec "$0" "$@" 3<&{commands_read} 4>&{replies_write} {commands_read}<&- {replies_write}>&-'
        self.process = subprocess.Popen(
            [_bash(), "-c", remap, _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(commands_read, replies_write), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        os.close(commands_read), os.close(replies_write)
        self.messages: queue.Queue = queue.Queue()
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._replies, "rb", buffering=0) as replies:
            while chunk := replies.read(65536):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                for message in messages:
                    self.messages.put(json.loads(message))

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        return self._next_id

    def events(self, until: float):
        """Every message until the monotonic time ``until``."""
        while (left := until - time.monotonic()) > 0:
            try:
                yield self.messages.get(timeout=left)
            except queue.Empty:
                return

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30.0) -> dict:
        """Send a command and return its result (events received meanwhile are kept for later)."""
        call_id, kept = self.send(method, params, session), []
        for message in self.events(time.monotonic() + timeout):
            if message.get("id") == call_id:
                for event in kept:
                    self.messages.put(event)
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            kept.append(message)
        raise TimeoutError(f"Chromium did not answer {method} within {timeout} s")

    def close(self) -> None:
        try:
            self.send("Browser.close")
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        os.close(self._commands)


def _blank_page(browser: _DevTools) -> str:
    """A new blank tab, attached, with the domains the checks listen to enabled; returns its session id."""
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        browser.call(f"{domain}.enable", session=session)
    return session


@contextmanager
def _page_session() -> Iterator[tuple[_DevTools, str]]:
    """Headless Chromium with a fresh profile and one blank, attached tab: ``(browser, session id)``."""
    with tempfile.TemporaryDirectory() as profile:
        browser = _DevTools(profile)
        try:
            yield browser, _blank_page(browser)
        finally:
            browser.close()


def browser_problems(url: str, settle_s: float = 1.0, timeout_s: float = 60.0) -> list[str]:
    """Console errors, uncaught exceptions, error log entries and failed loads of ``url`` in headless Chromium."""
    problems: list[str] = []
    requested: dict[str, str] = {}
    with _page_session() as (browser, session):
        browser.send("Page.navigate", {"url": url}, session)
        deadline, loaded = time.monotonic() + timeout_s, False
        for message in browser.events(deadline):
            method = message.get("method")
            if method == "Page.loadEventFired" and not loaded:  # then a moment for late errors
                loaded, deadline = True, time.monotonic() + settle_s
                for late in browser.events(deadline):
                    _record(late, problems, requested)
                break
            _record(message, problems, requested)
        if not loaded:
            problems.append(f"the page did not finish loading within {timeout_s} s")
    return problems


def _record(message: dict, problems: list[str], requested: dict[str, str]) -> None:
    method, params = message.get("method"), message.get("params", {})
    if method == "Network.requestWillBeSent":
        requested[params["requestId"]] = params["request"]["url"]
    elif method == "Network.loadingFailed":
        problems.append(f"failed to load {requested.get(params['requestId'], '?')}: {params.get('errorText')}")
    elif method == "Network.responseReceived" and params["response"].get("status", 0) >= 400:
        problems.append(f"HTTP {params['response']['status']} for {params['response']['url']}")
    elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", []))
        problems.append(f"console.{params['type']}: {text}")
    elif method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        problems.append(f"uncaught exception: {details.get('exception', {}).get('description', details.get('text'))}")
    elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
        problems.append(f"error logged: {params['entry'].get('text')} {params['entry'].get('url', '')}".strip())


def test_browser_check_reports_console_errors_exceptions_and_failed_loads(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><img alt='gone' src='missing.png'>"
                    "<script>console.error('deliberate console error'); notDefined()</script></body></html>")
    problems = browser_problems(page.as_uri())
    assert any("console.error: deliberate console error" in problem for problem in problems), problems
    assert any("uncaught exception: ReferenceError: notDefined" in problem for problem in problems), problems
    assert any("missing.png" in problem and problem.startswith("failed to load") for problem in problems), problems

    clean = tmp_path / "clean.html"
    clean.write_text("<!DOCTYPE html><html><body><p>fine</p><script>console.log('not an error')</script></body></html>")
    assert browser_problems(clean.as_uri()) == []


def test_report_is_self_contained(bundle_run):
    page = (bundle_run / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\ssrc", page.lower())  # the script is inline
    assert "<link" not in page.lower() and "import " not in page and "fetch(" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched from anywhere
    assert "url(" not in page and "http://" not in page and "https://" not in page
    data = json.loads(re.search(r"<script type='application/json' id='report-data'>(.*?)</script>", page, re.S)
                      .group(1).replace("<\\/", "</"))
    assert len(data["ids"]) == len(data["cluster"]) == len(data["x"]) == len(data["flags"]) > 0
    assert data["map_method"] in ("UMAP", "t-SNE", "PCA (first two principal components)")
    thumbnails = sorted((bundle_run / "thumbnails").glob("*.jpg"))
    assert len(thumbnails) == len(data["ids"])
    with Image.open(thumbnails[0]) as first:
        assert max(first.size) == min(128, IMAGE_SIZE)  # the original's size, at most 128 px (never enlarged)
    for key in FIGURES:
        assert re.search(rf'<figure id="{key}"><img alt="[^"]*" src="data:image/png;base64,[A-Za-z0-9+/=]+">', page)
    summary = json.loads((bundle_run / "summary.json").read_text())
    assert (f"<li>{summary['images']['new']} new or changed images embedded in this run of "
            f"{summary['images']['read']} files read, 0 files kept from the last run") in page
    quality = summary["curation"]["quality"]
    assert f"quality flags: {quality['dark']} dark, {quality['light']} light, {quality['blurry']} blurry" in page


def test_report_renders_in_headless_chromium_without_console_errors(bundle_run, tmp_path):
    url = (bundle_run / "report.html").as_uri()
    screenshot = tmp_path / "report.png"
    assert browser_problems(url) == []
    shot = _headless(f"--screenshot={screenshot}", "--window-size=1200,3000", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    pixels = np.asarray(Image.open(screenshot).convert("RGB"))
    assert pixels.shape[:2] == (3000, 1200)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500  # plots and photographs, not a blank page

    dom = _headless("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('src="data:image/png;base64,') == len(FIGURES)
    assert "Agreement with the known labels" in dom.stdout and "normal/empty.png" in dom.stdout


def _wait_for(browser: _DevTools, session: str, expression: str, timeout_s: float = 20.0):
    """The value of ``expression`` once it is truthy (polled), else a TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = _evaluate(browser, session, expression)
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"{expression} stayed false for {timeout_s} s")


def _evaluate(browser: _DevTools, session: str, expression: str):
    result = browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, session)
    if "exceptionDetails" in result:
        raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
    return result["result"].get("value")


def review_in_browser(url: str, downloads: str, cluster_name: str) -> tuple[list[str], dict | None, str]:
    """Load the report, click the map's first point, name cluster 0, download review.json.

    Returns the problems seen meanwhile (as :func:`browser_problems`), the downloaded review
    (``None`` if none arrived) and the text of the image panel.
    """
    problems: list[str] = []
    requested: dict[str, str] = {}
    with _page_session() as (browser, session):
        browser.call("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads,
                                                     "eventsEnabled": True})
        browser.call("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 1200,
                                                            "deviceScaleFactor": 1, "mobile": False}, session)
        browser.call("Page.navigate", {"url": url}, session)
        _wait_for(browser, session, "document.readyState === 'complete' && !!window.debclustReport")
        point = _evaluate(browser, session, "debclustReport.pointPosition(0)")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            browser.call("Input.dispatchMouseEvent", {"type": kind, "x": point["x"], "y": point["y"],
                                                      "button": "left", "clickCount": 1}, session)
        panel = _wait_for(browser, session, "!document.getElementById('panel').hidden && "
                          "document.getElementById('panel').innerText")
        _wait_for(browser, session, "document.getElementById('panel-image').complete")
        width = _evaluate(browser, session, "document.getElementById('panel-image').naturalWidth")
        panel += f"\nimage width {width}"
        _evaluate(browser, session, "document.querySelector('#cluster-table .cluster-name').focus()")
        browser.call("Input.insertText", {"text": cluster_name}, session)
        _evaluate(browser, session, "document.querySelector('#cluster-table .cluster-name').blur()")
        _evaluate(browser, session, "document.getElementById('download-review').click()")
        review_path, review = os.path.join(downloads, "review.json"), None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and review is None:
            if os.path.exists(review_path):
                with open(review_path, encoding="utf-8") as handle:
                    try:
                        review = json.load(handle)
                    except json.JSONDecodeError:  # still being written
                        pass
            time.sleep(0.1)
        for message in browser.events(time.monotonic() + 1.0):  # what happened meanwhile, and late errors
            _record(message, problems, requested)
    return problems, review, panel


def test_report_review_in_headless_chromium(bundle_run, tmp_path):
    """Click a point: its panel opens; rename cluster 0: the downloaded review.json names it; no error."""
    problems, review, panel = review_in_browser((bundle_run / "report.html").as_uri(), str(tmp_path), "healthy eyes")
    with open(bundle_run / "assignments.csv", newline="") as handle:
        first = next(csv.DictReader(handle))["id"]
    assert first in panel and "Nearest neighbours" in panel
    assert re.search(r"cluster \d · confidence 0\.\d{3}", panel)
    with Image.open(bundle_run / "thumbnails" / "0.jpg") as thumbnail:
        assert panel.endswith(f"image width {thumbnail.width}")  # the thumbnail loaded
    assert review == {"format": 1, "cluster_names": {"0": "healthy eyes"}, "merge": {}, "moved": {}, "excluded": []}
    assert problems == []


def test_review_check_fails_on_a_broken_report(bundle_run, tmp_path):
    """The same check on a copy whose first thumbnail is gone and whose script throws: both are reported."""
    broken = tmp_path / "broken"
    shutil.copytree(bundle_run, broken, ignore=shutil.ignore_patterns("parts*", "embeddings*"))
    (broken / "thumbnails" / "0.jpg").unlink()
    page = (broken / "report.html").read_text(encoding="utf-8")
    (broken / "report.html").write_text(page.replace("say(\"review.json downloaded\");", "notDefinedHere();"),
                                        encoding="utf-8")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    problems, _, _ = review_in_browser((broken / "report.html").as_uri(), str(downloads), "healthy eyes")
    assert any(problem.startswith("failed to load") and "0.jpg" in problem for problem in problems), problems
    assert any("ReferenceError: notDefinedHere" in problem for problem in problems), problems


def duplicates_in_browser(url: str) -> tuple[list[str], list[dict]]:
    """Load the report and wait until the duplicate groups' thumbnails have loaded.

    Returns the problems seen meanwhile (as :func:`browser_problems`) and, per group drawn in page
    order, whether it is marked as a conflict, its text and its thumbnails' natural widths.
    """
    problems: list[str] = []
    requested: dict[str, str] = {}
    with _page_session() as (browser, session):
        browser.call("Page.navigate", {"url": url}, session)
        _wait_for(browser, session, "document.readyState === 'complete' && "
                  "[...document.querySelectorAll('#duplicates img')].every((img) => img.complete)")
        groups = _evaluate(browser, session, "[...document.querySelectorAll('#duplicates .group')].map((g) => "
                           "({conflict: g.classList.contains('conflict'), text: g.innerText, "
                           "widths: [...g.querySelectorAll('img')].map((img) => img.naturalWidth)}))")
        for message in browser.events(time.monotonic() + 1.0):  # what happened meanwhile, and late errors
            _record(message, problems, requested)
    return problems, groups


def test_duplicate_groups_render_with_thumbnails_conflicts_first(bundle_run, tmp_path):
    """A copy of the run with two duplicate groups, the conflicting one last in the file: the page lists it first."""
    copy = tmp_path / "clustering"
    shutil.copytree(bundle_run, copy, ignore=shutil.ignore_patterns("parts*"))
    with open(copy / "assignments.csv", newline="") as handle:
        ids = [row["id"] for row in csv.DictReader(handle)]
    (copy / "duplicates.csv").write_text(
        f"group,id,kind,similarity,label,conflict\n7,{ids[5]},exact,1.000000,a,0\n7,{ids[6]},near,0.999300,a,0\n"
        f"2,{ids[0]},exact,1.000000,a,1\n2,{ids[1]},near,0.999500,b,1\n2,{ids[2]},near,0.999100,b,1\n")
    write_report(copy, json.loads((copy / "summary.json").read_text()), [], None, [])
    problems, groups = duplicates_in_browser((copy / "report.html").as_uri())
    assert problems == []
    assert [group["conflict"] for group in groups] == [True, False]
    assert groups[0]["text"].startswith("group 2 · 3 images · labels conflict") and ids[0] in groups[0]["text"]
    assert "near · 0.9995" in groups[0]["text"] and groups[1]["text"].startswith("group 7 · 2 images\n")
    with Image.open(copy / "thumbnails" / "0.jpg") as thumbnail:
        assert groups[0]["widths"] == [thumbnail.width] * 3 and len(groups[1]["widths"]) == 2
    assert all(width > 0 for width in groups[1]["widths"])  # every thumbnail loaded
