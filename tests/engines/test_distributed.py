"""Under DistributedDataParallel the trainer computes the loss and gradient of the global batch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("ddp_equivalence.py")


@pytest.mark.slow
def test_gathered_negatives_reproduce_the_single_process_loss_and_step(tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    out = tmp_path / "ddp.json"
    result = subprocess.run(
        [torchrun, "--standalone", "--nnodes=1", "--nproc_per_node=2", str(SCRIPT), str(out)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(out.read_text())
    assert found["world"] == 2
    assert found["ddp_loss"] == pytest.approx(found["single_loss"], abs=1e-6)
    assert found["local_only_loss"] != pytest.approx(found["single_loss"], abs=1e-3)
    assert found["weight_change"] > 1e-3  # the step moved the weights ...
    assert found["max_weight_difference"] < 1e-6  # ... exactly as one process on the whole batch
