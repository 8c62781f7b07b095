"""Open report.html in headless Chromium: no console error, no request, every key section present.

Uses Debian's ``chromium`` package (``python3 dev.py test`` installs it when
missing and it can).  Without Chromium the test is skipped, except under
``CI=true``, where it fails.  A screenshot is saved to ``test-artifacts/``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import audit

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SECTION_IDS = ["summary", "rule-card", "population-card", "disparate-impact", "proxies", "network", "method",
               "reproducibility"]
FIGURE_IDS = ["fig-score-distributions", "fig-impact-curve", "fig-tier-attainment", "fig-proxy-scatter",
              "fig-gap-waterfall", "fig-spillover", "fig-shock-reach", "fig-unfriending"]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = "chromium is not installed (apt-get install chromium, or run python3 dev.py test)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; required under CI")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    people, edges = audit.generate_sesame(3_000, seed=0)
    people["ethnicity"] = people["ethnicity"].replace({"minority C": "<script>alert(1)</script>"})
    report = audit.run("sesame", people, protected=["gender", "age_band", "ethnicity", "registration"],
                       graph=edges, seed=0, options={"proxy": {"cv_folds": 2, "cv_max_rows": 600}})
    return report.save(tmp_path_factory.mktemp("browser"), formats=("html",))["html"]


def test_report_html_in_headless_chromium(report_file):
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    requests: list[str] = []
    failed: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1600})
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type in (
                "error", "warning") else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
            page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
            page.goto(report_file.as_uri(), wait_until="load")
            page.wait_for_load_state("networkidle")

            for sid in SECTION_IDS:
                assert page.locator(f"section#{sid} > h2").count() == 1, sid
            for fid in FIGURE_IDS:
                fig = page.locator(f"figure#{fid}")
                assert fig.count() == 1, fid
                box = fig.locator("svg").bounding_box()
                assert box and box["width"] > 300 and box["height"] > 100, (fid, box)
                assert fig.locator("figcaption").inner_text().startswith("Figure ")
            lead = page.locator("#summary .lead").inner_text()
            assert "pushed out" in lead
            assert page.locator("#summary li").count() >= 1
            assert page.locator("nav.toc a").count() == len(SECTION_IDS)
            # The hostile group value is shown as text, never run.
            assert "<script>alert(1)</script>" in page.locator("body").inner_text()
            assert page.locator("script").count() == 0
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)
            page.emulate_media(media="print")
            page.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4", print_background=False)
        finally:
            browser.close()
    assert not errors, errors
    assert not failed, failed
    assert requests and all(u.startswith(("file:", "data:")) for u in requests), requests
    assert [u for u in requests if u.startswith("file:")] == [report_file.as_uri()]
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    assert (ARTIFACTS / "report.pdf").stat().st_size > 10_000
