"""The README's code blocks run as written and say what they print."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


def _block(heading):
    text = README.read_text()
    start = text.index(heading)
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


@pytest.mark.slow
def test_audit_your_own_detector_example(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(_block("### Audit your own detector on your own data"), "README", "exec"), {})
    printed = capsys.readouterr().out
    assert "forest" in printed and "occlusion" in printed and "lrp" in printed
    import json

    payload = json.loads((tmp_path / "my_audit" / "results.json").read_text())
    verdicts = {d["detector"]: d["verdict"] for d in payload["summary"]["detectors"]}
    # what the README says under the example
    assert payload["summary"]["most_trustworthy"] == "kde"
    assert verdicts == {"kde": "sound", "forest": "sound"}
    rows = {r["detector"]: r for r in payload["results"] if r["primary"]}
    got = [rows[d][c] for d in ("kde", "forest") for c in ("roc_auc", "cosine")]
    assert got == pytest.approx([0.999, 0.909, 0.925, 0.806], abs=1e-3)
