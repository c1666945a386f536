"""The README's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path


def test_readme_example_runs(capsys):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has a Python example"
    exec(compile(blocks[0], "README.md", "exec"), {})
    assert "chosen: separable" in capsys.readouterr().out


def test_readme_nn_example_runs(capsys):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S)
              if "from faltung.nn import" in b]
    assert len(blocks) == 1, "the README has one faltung.nn example"
    scope: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), scope)
    assert "engine: winograd" in capsys.readouterr().out
    assert scope["y"].shape == (2, 64, 28, 28) and scope["gw"].shape == (64, 64, 3, 3)
    # the re-parameterised model computes what the trained one does (eval mode)
    x = scope["np"].random.default_rng(2).random((3, 1, 8, 8), dtype=scope["np"].float32)
    want = scope["model"](x)
    scope["np"].testing.assert_allclose(scope["fast"](x), want, rtol=1e-4, atol=1e-5)
