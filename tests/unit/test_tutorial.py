"""The tutorial notebook (docs/tutorial.ipynb) runs from its first cell to its last, on the
demo survey, and shows and writes what it says."""

from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).parents[2] / "docs" / "tutorial.ipynb"


def test_the_tutorial_runs_and_writes_its_products(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]  # fmt: skip
    text = "".join(output.get("text", "") for output in outputs)
    assert "4 frames; the first: calib_7DT02_T00528" in text
    assert "circles drawn: 1" in text and "4 of 4 frames done" in text
    assert all(f"{imagetyp} " in text for imagetyp in ("BIAS", "DARK", "FLAT"))
    assert any("image/png" in output.get("data", {}) for output in outputs)
    mine = tmp_path / "skyrms-tutorial" / "mine"
    assert {p.name for p in mine.iterdir()} == {
        f"frame.{kind}" for kind in ("mask.fits", "bkg.fits", "bkgrms.fits", "proprms.fits",
                                     "masters.json")
    }  # fmt: skip
    results = tmp_path / "skyrms-tutorial" / "results"
    assert len(list(results.rglob("*_100.proprms.fits"))) == 4
    assert text.count(".proprms.fits ok") == 4
