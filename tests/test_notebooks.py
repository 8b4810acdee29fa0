"""The notebooks run top to bottom on real data (the tiny set), and are stored without outputs."""
import glob
import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")


def settings(name, tiny_data, tmp_path):
    """The environment variables a notebook reads in place of its defaults, so that it runs here on CPU."""
    if name == "colab.ipynb":          # the kit is this checkout; it builds its own tiny set and trains 4 steps
        recording = sorted(glob.glob(os.path.join(tiny_data, "test", "*.flac")))[0]
        return {"KIT_DIR": ROOT, "DATA_SIZE": "tiny", "DATA_DIR": str(tmp_path / "tiny"), "PROFILE": "cpu",
                "ITERATIONS": "4", "VALIDATION_INTERVAL": "2", "LOGDIR": str(tmp_path / "run"),
                "RECORDING": recording}
    return {"DATA_PATH": tiny_data}


@pytest.mark.parametrize("name", sorted(n for n in os.listdir(NOTEBOOKS) if n.endswith(".ipynb")))
def test_notebook_runs(name, tiny_data, tmp_path, monkeypatch):
    notebook = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    assert all(not cell.get("outputs") and not cell.get("execution_count")
               for cell in notebook.cells if cell.cell_type == "code"), f"{name} is stored with outputs"
    for key, value in settings(name, tiny_data, tmp_path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": NOTEBOOKS}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)
    if name == "colab.ipynb":
        text = "".join(o.get("text", "") for o in outputs)
        assert "step 4: note F1" in text and "GPU: False" in text
        rows = [json.loads(line) for line in open(tmp_path / "run" / "metrics.jsonl")]
        assert [row["step"] for row in rows] == [2, 4]
        assert os.path.exists(tmp_path / "run" / "results.txt")
        transcribed = os.path.splitext(os.path.basename(settings(name, tiny_data, tmp_path)["RECORDING"]))[0]
        for who in ("yours", "pretrained"):
            assert os.path.getsize(tmp_path / "run" / "transcriptions" / who / f"{transcribed}.mid") > 0
        images = [o for o in outputs if "image/png" in o.get("data", {})]
        assert len(images) == 3                           # the curves and the two transcriptions' pictures
