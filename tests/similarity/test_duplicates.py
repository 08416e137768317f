"""Content hashes, pixel signatures, union-find groups, conflicts, the approximate search and the cache."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

import monai_debclust.similarity.pixel_groups as pixel_groups_module
from monai_debclust.similarity import (
    connected_groups,
    content_hash,
    group_duplicates,
    join_groups,
    near_duplicate_pairs,
    pixel_duplicate_groups,
    pixel_signature,
    top_k_neighbours,
)


def photo(seed: int, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.kron(rng.integers(0, 256, (size // 4, size // 4, 3)), np.ones((4, 4, 1))).astype(np.uint8)


def test_content_hash_is_the_sha256_of_the_bytes_and_sees_one_changed_byte(tmp_path):
    data = bytes(range(256)) * 5000
    (tmp_path / "a").write_bytes(data)
    (tmp_path / "b").write_bytes(data[:-1] + b"\x00")
    assert content_hash(tmp_path / "a", chunk_size=1000) == hashlib.sha256(data).hexdigest()
    assert content_hash(tmp_path / "b") != content_hash(tmp_path / "a")


def test_signature_is_zero_mean_unit_length_and_survives_reencoding_and_brightness(tmp_path):
    image = photo(0)
    Image.fromarray(image).save(tmp_path / "a.png")
    Image.fromarray(image).save(tmp_path / "a.jpg", quality=90)
    signature = pixel_signature(tmp_path / "a.png")
    assert signature.shape == (256,) and abs(signature.sum()) < 1e-4 and np.linalg.norm(signature) == pytest.approx(1)
    assert signature @ pixel_signature(tmp_path / "a.jpg") > 0.999
    brighter = np.clip(image.astype(np.float32) * 0.8 + 30, 0, 255)
    assert signature @ pixel_signature(brighter) > 0.999  # z-scoring removes brightness and contrast
    assert signature @ pixel_signature(photo(1)) < 0.5
    assert not pixel_signature(np.full((20, 20), 7)).any()  # a constant image correlates with nothing


def test_union_find_follows_chains_and_numbers_groups_by_first_member():
    groups = connected_groups(6, np.array([[4, 5], [1, 3], [3, 5]]))
    assert groups.tolist() == [0, 1, 2, 1, 1, 1]
    assert join_groups(groups, ["", "p", "p", None, "", ""]).tolist() == [0, 1, 1, 1, 1, 1]
    assert join_groups(groups, ["q", "", "", "", "", "q"]).tolist() == [0, 0, 1, 0, 0, 0]


def test_groups_say_exact_or_near_similarity_to_the_first_and_flag_conflicting_labels():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(6, 32)).astype(np.float32)
    vectors[3] = vectors[0]  # exact copy of 0 (same hash)
    vectors[4] = vectors[1] + 0.01 * rng.normal(size=32)  # near copy of 1
    hashes = ["h0", "h1", "h2", "h0", "h4", "h5"]
    groups = group_duplicates(vectors, hashes, threshold=0.99, labels=[0, 1, 0, 1, -1, 2])
    assert groups.group.tolist() == [0, 1, 2, 0, 1, 3]
    assert groups.kind.tolist() == ["exact", "exact", "", "exact", "near", ""]
    assert groups.similarity[4] == pytest.approx(float(vectors[4] @ vectors[1]) / np.linalg.norm(vectors[4])
                                                 / np.linalg.norm(vectors[1]), abs=1e-5) and groups.similarity[4] < 1
    assert groups.conflict.tolist() == [True, False, False, True, False, False]  # -1 is unknown, not a conflict
    assert groups.summary() == {"groups": 2, "merged_images": 4, "conflict_groups": 1, "conflict_images": 2}
    rows = groups.records([f"img{i}" for i in range(6)], labels=["a", "b", "a", "b", "", "c"])
    assert [(r["id"], r["conflict"]) for r in rows] == [("img0", 1), ("img3", 1), ("img1", 0), ("img4", 0)]
    assert group_duplicates(hashes=hashes).group.tolist() == [0, 1, 2, 0, 3, 4]


def test_the_inverted_list_search_finds_the_pairs_the_exact_search_finds():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(50, 64))
    x = (centres[rng.integers(0, 50, 6000)] + 0.5 * rng.normal(size=(6000, 64))).astype(np.float32)
    x[5000:5300] = x[:300] + 0.02 * rng.normal(size=(300, 64)).astype(np.float32)  # planted near-copies
    exact, exact_similarity = near_duplicate_pairs(x, 0.995, exact_limit=10**9)
    approximate, _ = near_duplicate_pairs(x, 0.995, exact_limit=0)
    assert len(exact) >= 300 and np.all(exact_similarity >= 0.995)
    found = {tuple(p) for p in approximate}
    assert len(found & {tuple(p) for p in exact}) / len(exact) >= 0.99 and found <= {tuple(p) for p in exact}
    _, exact_neighbours = top_k_neighbours(x[:3000], 5, exact_limit=10**9)
    _, approximate_neighbours = top_k_neighbours(x[:3000], 5, exact_limit=0)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(exact_neighbours, approximate_neighbours)])
    assert recall >= 0.9
    assert not np.any(exact_neighbours == np.arange(3000)[:, None])  # an item is not its own neighbour


def test_groups_of_files_are_cached_under_the_files_hashes_and_settings(tmp_path, monkeypatch):
    files = []
    for i in range(4):
        Image.fromarray(photo(i % 3)).save(tmp_path / f"{i}.png")  # 3.png is a copy of 0.png
        files.append(tmp_path / f"{i}.png")
    cache = tmp_path / "cache"
    groups = pixel_duplicate_groups(files, root=tmp_path, cache_dir=cache, labels=[0, 1, 1, 1])
    assert groups.group.tolist() == [0, 1, 2, 0] and groups.conflict.tolist() == [True, False, False, True]
    assert len(list(cache.iterdir())) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("recomputed a cached grouping")

    monkeypatch.setattr(pixel_groups_module, "pixel_signatures", refuse)
    again = pixel_duplicate_groups(files, root=tmp_path, cache_dir=cache)
    assert again.group.tolist() == [0, 1, 2, 0] and again.kind.tolist() == groups.kind.tolist()
    Image.fromarray(photo(7)).save(tmp_path / "3.png")  # changed content: a new key, a new computation
    with pytest.raises(AssertionError, match="recomputed"):
        pixel_duplicate_groups(files, root=tmp_path, cache_dir=cache)
    with pytest.raises(AssertionError, match="recomputed"):
        pixel_duplicate_groups(files[:3], root=tmp_path, cache_dir=cache, threshold=0.99)


def test_files_given_through_dotdot_share_the_cache_of_their_normal_paths(tmp_path):
    # the study's isic9 cells named their files "<checkout>/../shared/...", the root normalised
    (tmp_path / "data").mkdir(), (tmp_path / "other").mkdir()
    files = []
    for i in range(3):
        Image.fromarray(photo(i)).save(tmp_path / "data" / f"{i}.png")
        files.append(tmp_path / "other" / ".." / "data" / f"{i}.png")
    cache = tmp_path / "cache"
    groups = pixel_duplicate_groups(files, root=tmp_path / "data", cache_dir=cache)
    assert groups.group.tolist() == [0, 1, 2]
    normal = pixel_duplicate_groups([tmp_path / "data" / f"{i}.png" for i in range(3)], root=tmp_path / "data",
                                    cache_dir=cache)
    assert normal.group.tolist() == [0, 1, 2] and len(list(cache.iterdir())) == 1
