"""reports/demo.ipynb walks through the demo; the suite executes it and fails on any cell error."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "reports" / "demo.ipynb"


def test_demo_notebook_is_committed_without_outputs():
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip outputs before committing"


def test_demo_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"a cell of {NOTEBOOK.name} raised:\n{exc}")
    code = [c for c in nb.cells if c.cell_type == "code"]
    for cell in code:
        assert not [o for o in cell.outputs if o.output_type == "error"]
    # The report and every result object display richly (HTML), not as a repr string.
    html_cells = [c for c in code if any("text/html" in o.get("data", {}) for o in c.outputs)]
    sources = "\n".join(c.source for c in html_cells)
    for expected in ("rule\n", "report\n", 'report.results["impact"]', 'report.results["proxy"]',
                     'report.results["contagion"]'):
        assert expected.strip() in sources, expected
    report_html = next(o["data"]["text/html"] for c in code if c.source.rstrip().endswith("report")
                       for o in c.outputs if "text/html" in o.get("data", {}))
    assert 'id="summary"' in report_html and "<script" not in report_html.lower()
