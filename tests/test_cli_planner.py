"""`faltung explain` and `faltung calibrate`."""

from __future__ import annotations

import json

from faltung import _plan
from faltung.cli import main


def test_explain_reports_the_choice(capsys):
    assert main(["explain", "1024x1024", "--kernel", "gaussian", "--sigma", "4"]) == 0
    text = capsys.readouterr().out
    assert "chosen: separable" in text
    assert "rank 1" in text and "direct" in text and "fft" in text


def test_explain_box_batch_and_errors(capsys):
    assert main(["explain", "4x256x256", "--kernel", "box", "--size", "31"]) == 0
    assert "4 x 256x256" in capsys.readouterr().out
    assert main(["explain", "12", "--kernel", "box"]) == 2
    assert "SHAPE" in capsys.readouterr().err
    assert main(["explain", "64x64", "--kernel", "box", "--method", "fft",
                 "--dtype", "int64"]) == 0


def test_calibrate_stores_constants(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FALTUNG_CACHE_DIR", str(tmp_path))
    _plan.reset()
    try:
        assert main(["calibrate"]) == 0
        stored = json.loads((tmp_path / "calibration.json").read_text())["data"]
        assert set(stored) == set(_plan.DEFAULTS)
        assert main(["calibrate", "--show"]) == 0
        out = capsys.readouterr().out
        assert "direct_mac_f4" in out
    finally:
        _plan.reset()
