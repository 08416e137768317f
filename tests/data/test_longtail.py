"""Long-tail profiles, seeded long-tailed sub-sampling and class-count summaries."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest

from monai_debclust.data.longtail import (
    class_count_summary,
    format_class_summary,
    longtail_class_counts,
    longtail_counts,
    sample_longtail,
    write_class_summary,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def _items(sizes: dict[int, int]) -> list[dict]:
    return [{"id": f"{label}/{i}.png", "label": label} for label, n in sizes.items() for i in range(n)]


def test_longtail_counts_matches_hand_example():
    # 100 * 10 ** (-1/2) = 31.62 -> 32 ; 100 * 10 ** -1 = 10
    assert longtail_counts(100, 3, 10) == [100, 32, 10]


@pytest.mark.parametrize("n_max, num_classes, ratio", [(5000, 10, 100), (900, 2, 9), (120, 7, 40), (50, 4, 1)])
def test_longtail_counts_is_non_increasing_from_n_max_to_n_max_over_ratio(n_max, num_classes, ratio):
    counts = longtail_counts(n_max, num_classes, ratio)
    assert len(counts) == num_classes
    assert counts[0] == n_max and counts[-1] == round(n_max / ratio)
    assert all(a >= b for a, b in zip(counts, counts[1:]))


def test_longtail_counts_single_class():
    assert longtail_counts(7, 1, 50) == [7]


def test_longtail_counts_rejects_minority_over_majority_ratio():
    with pytest.raises(ValueError, match=r"imbalance_ratio = 1/mu"):
        longtail_counts(100, 2, 0.1)


def test_longtail_counts_rejects_empty_smallest_class():
    with pytest.raises(ValueError, match="smallest class empty"):
        longtail_counts(10, 3, 100)


def test_longtail_class_counts_maps_classes_largest_first():
    assert longtail_class_counts([1, 0], 900, 9) == {1: 900, 0: 100}
    with pytest.raises(ValueError, match="repeated"):
        longtail_class_counts(["a", "a"], 10, 2)


def test_sample_longtail_gives_exact_counts_in_input_order():
    items = _items({0: 50, 1: 40, 2: 30})
    chosen = sample_longtail(items, {0: 20, 1: 5, 2: 0}, seed=3)
    assert Counter(item["label"] for item in chosen) == {0: 20, 1: 5}
    positions = [items.index(item) for item in chosen]
    assert positions == sorted(positions)


def test_sample_longtail_is_reproducible_and_depends_on_seed():
    items = _items({0: 200, 1: 200})

    def draw(seed: int) -> list[str]:
        return [item["id"] for item in sample_longtail(items, {0: 90, 1: 10}, seed=seed)]

    assert draw(7) == draw(7)
    assert draw(7) != draw(8)


def test_sample_longtail_sequence_counts_follow_class_order():
    items = _items({0: 30, 1: 30})
    chosen = sample_longtail(items, [27, 3], class_order=[1, 0])
    assert Counter(item["label"] for item in chosen) == {1: 27, 0: 3}
    default_order = sample_longtail(items, [3, 27])  # sorted labels present: [0, 1]
    assert Counter(item["label"] for item in default_order) == {0: 3, 1: 27}


def test_sample_longtail_names_class_with_too_few_items():
    with pytest.raises(ValueError, match=r"class 1 has 5 items, fewer than the 10 requested"):
        sample_longtail(_items({0: 50, 1: 5}), {0: 10, 1: 10})


@pytest.mark.parametrize(
    "items, counts, message",
    [
        ([{"id": "a"}], {0: 1}, "item 0 has no 'label'"),
        ([{"label": 0.5}], {0: 1}, "non-integer label"),
        ([{"label": "glaucoma"}], {0: 1}, "non-integer label"),
        (_items({0: 3}), {0: -1}, "negative count"),
        (_items({0: 3, 1: 3}), [1], "counts has 1 sizes but there are 2 classes"),
    ],
)
def test_sample_longtail_rejects_bad_input(items, counts, message):
    with pytest.raises(ValueError, match=message):
        sample_longtail(items, counts)


def test_class_count_summary_counts_names_and_ratio():
    items = _items({1: 30, 0: 10}) + [{"label": -1}] * 4
    summary = class_count_summary(items, class_names=["glaucoma", "normal"])
    assert summary["total"] == 44 and summary["unlabelled"] == 4
    assert summary["imbalance_ratio"] == pytest.approx(3.0)
    assert summary["classes"] == [
        {"label": 0, "name": "glaucoma", "count": 10, "fraction": 0.25},
        {"label": 1, "name": "normal", "count": 30, "fraction": 0.75},
    ]
    table = format_class_summary(summary)
    assert "glaucoma" in table and "25.0%" in table and "imbalance ratio 3.00" in table


def test_class_count_summary_rejects_label_without_name():
    with pytest.raises(ValueError, match="label 2 has no entry"):
        class_count_summary(_items({2: 1}), class_names=["a", "b"])


def test_write_class_summary_writes_json_atomically_and_logs_table(tmp_path, caplog):
    summary = class_count_summary(_items({0: 3, 1: 9}))
    with caplog.at_level(logging.INFO, logger="monai_debclust.data.longtail"):
        path = write_class_summary(summary, tmp_path / "out" / "classes.json")
    assert json.loads(path.read_text()) == summary
    assert [p.name for p in path.parent.iterdir()] == ["classes.json"]
    assert "imbalance ratio 3.00" in caplog.text


@pytest.mark.realdata
def test_real_fundus_one_to_nine_sample(fundus_dir):
    classes = ["glaucoma", "normal"]
    items = [
        {"id": f"{name}/{path.name}", "label": label}
        for label, name in enumerate(classes)
        for path in sorted((fundus_dir / name).iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    chosen = sample_longtail(items, longtail_class_counts([1, 0], 900, 9), seed=0)
    summary = class_count_summary(chosen, class_names=classes)
    assert [c["count"] for c in summary["classes"]] == [100, 900]
    assert len({item["id"] for item in chosen}) == 1000
    assert all((fundus_dir / item["id"]).is_file() for item in chosen)
