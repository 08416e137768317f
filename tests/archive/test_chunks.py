"""Durable result chunks: whole or absent, and never mixed across models."""

from __future__ import annotations

import numpy as np
import pytest

from monai_debclust.archive.chunks import Chunk, ChunkStore
from monai_debclust.utils import atomic_write


def _chunk(ids, skipped=()) -> Chunk:
    return Chunk(ids, np.arange(2 * len(ids), dtype=np.float32).reshape(len(ids), 2), skipped)


def test_chunks_round_trip_in_write_order(tmp_path):
    store = ChunkStore(tmp_path, {"weights": "a"})
    store.open()
    store.write(_chunk(["b.png", "a.png"], [("c.png", "empty file")]))
    store.write(_chunk([], [("d.png", "truncated")]))
    first, second = (ChunkStore.read(path) for path in store.paths())
    assert first.ids == ["b.png", "a.png"] and first.skipped == [("c.png", "empty file")]
    assert np.array_equal(first.embeddings, [[0, 1], [2, 3]])
    assert second.embeddings.shape == (0, 2) and second.skipped == [("d.png", "truncated")]
    assert store.done_ids() == {"a.png", "b.png", "c.png", "d.png"}


def test_reopening_with_the_same_fingerprint_keeps_the_chunks(tmp_path):
    ChunkStore(tmp_path, {"weights": "a"}).open()
    ChunkStore(tmp_path, {"weights": "a"}).write(_chunk(["x.png"]))
    store = ChunkStore(tmp_path, {"weights": "a"})
    store.open()
    assert store.done_ids() == {"x.png"}


@pytest.mark.parametrize("resume, fingerprint", [(True, {"weights": "b"}), (False, {"weights": "a"})])
def test_another_model_or_no_resume_starts_over(tmp_path, resume, fingerprint):
    store = ChunkStore(tmp_path, {"weights": "a"})
    store.open()
    store.write(_chunk(["x.png"]))
    again = ChunkStore(tmp_path, fingerprint)
    again.open(resume=resume)
    assert again.done_ids() == set()


def test_a_temporary_file_left_by_a_kill_is_removed_not_read(tmp_path):
    store = ChunkStore(tmp_path, {})
    store.open()
    (tmp_path / ".chunk-000000.npz.tmp").write_bytes(b"half a chunk")
    store.open()
    assert store.paths() == [] and not list(tmp_path.glob("*.tmp"))


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "assignments.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("new, half")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n" and list(tmp_path.iterdir()) == [target]


def test_chunk_rejects_embeddings_without_one_row_per_id():
    with pytest.raises(ValueError, match="one row per id"):
        Chunk(["a.png", "b.png"], np.zeros((1, 4)), [])
