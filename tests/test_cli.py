"""The command line: values are data, and a user's mistake is one line, not a traceback."""

from __future__ import annotations

import pytest

from monai_debclust.cli import main

BUNDLE = "bundles/refuge"


@pytest.mark.parametrize("option", [
    ["--set", "min_confidence=$__import__('os').system('touch {marker}')"],
    ["--set", "recluster=@ckpt_path"],
    ["--set", 'load_settings={"_target_": "builtins.open", "file": "{marker}", "mode": "w"}'],
    ["--set", 'bundle=["ok", "$open(\'{marker}\', \'w\')"]'],
    ["--layout", "$open('{marker}', 'w')"],
])
def test_command_line_expressions_are_refused_and_not_run(tmp_path, capsys, option):
    marker = tmp_path / "pwned"
    option = [part.replace("{marker}", str(marker)) for part in option]
    status = main(["cluster", str(tmp_path), "--bundle", BUNDLE, "--output", str(tmp_path / "run"), *option])
    assert status == 2
    error = capsys.readouterr().err
    assert "would be evaluated as a config expression" in error and "Traceback" not in error
    assert not marker.exists()
