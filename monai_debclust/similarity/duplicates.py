"""Duplicate groups: exact copies (equal content hashes) and near-duplicates (similar vectors), joined by union-find.

Two items are linked when their files have the same SHA-256
(:func:`~monai_debclust.similarity.signature.content_hash`) or when their vectors have a cosine
similarity of at least ``threshold`` (:func:`~monai_debclust.similarity.neighbours.near_duplicate_pairs`).
Evaluation and archive curation both pass 16 x 16 pixel signatures
(:func:`~monai_debclust.similarity.signature.pixel_signature`), not learned embeddings; curation
takes them from the working-size decode of :class:`~monai_debclust.curation.CurateArchiveImaged`
(:mod:`~monai_debclust.archive.curation`). The connected components of these links are the groups
(so a chain a~b~c is one group even where a and c are further apart). A group whose members carry
different known labels is a *conflict*: the same picture filed under two classes.

For evaluation the groups come from the pixels alone (:func:`pixel_duplicate_groups`), once per
data set, cached, so every method and seed splits the same way; the labels are applied after
(:meth:`DuplicateGroups.with_labels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from monai_debclust.similarity.neighbours import EXACT_SEARCH_LIMIT, near_duplicate_pairs, unit_rows

__all__ = ["DEFAULT_THRESHOLD", "UNKNOWN_LABEL", "DuplicateGroups", "connected_groups", "group_duplicates",
           "join_groups", "label_conflicts"]

#: Default near-duplicate threshold on 16 x 16 pixel signatures. On ``../shared/data/fundus4``
#: the 43 pairs at or above 0.999 were, inspected one by one, the same photograph (renamed, often
#: colour-shifted, two filed as cataract and glaucoma); between 0.995 and 0.999 lie ~1,100 pairs,
#: a sample of which holds different photographs of one camera (e.g. two blurry cataract eyes at
#: 0.9990). On isic9 all 163 pairs above 0.97 sit at or above 0.9995. With curation's 128-px decode
#: fundus4 gives 42 pairs at or above 0.999; ``benchmarks/duplicate_pairs.py`` shows the borderline ones.
DEFAULT_THRESHOLD = 0.999
#: A label that is not known: it never makes a conflict.
UNKNOWN_LABEL = -1


def connected_groups(num_items: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of ``num_items`` items linked by ``pairs`` (union-find with path halving).

    Returns:
        ``(num_items,)`` int64 group ids, numbered ``0, 1, ...`` in the order of each group's
        smallest member index (so item 0 is in group 0); an unlinked item is a group of its own.
    """
    parent = np.arange(num_items)

    def root(item: int) -> int:
        while parent[item] != item:
            parent[item] = parent[parent[item]]
            item = parent[item]
        return item

    for a, b in np.asarray(pairs, dtype=np.int64).reshape(-1, 2):
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the smaller index stays the root
    roots = np.array([root(i) for i in range(num_items)], dtype=np.int64)
    return np.unique(roots, return_inverse=True)[1].astype(np.int64)


def join_groups(groups: np.ndarray, keys: Sequence | np.ndarray) -> np.ndarray:
    """``groups`` merged wherever two items share a key (e.g. a patient id); ``None`` or ``""`` joins nothing.

    Returns:
        ``(N,)`` group ids numbered as :func:`connected_groups` numbers them.
    """
    groups = np.asarray(groups, dtype=np.int64)
    if len(keys) != len(groups):
        raise ValueError(f"{len(keys)} grouping keys for {len(groups)} items.")
    _, first_index, group_id = np.unique(groups, return_index=True, return_inverse=True)
    links = [np.stack([first_index[group_id], np.arange(len(groups))], axis=1)]
    first_with_key: dict = {}
    links.append(np.array([(first_with_key.setdefault(key, item), item) for item, key in enumerate(keys)
                           if key is not None and key != ""], dtype=np.int64).reshape(-1, 2))
    return connected_groups(len(groups), np.concatenate(links))


def label_conflicts(groups: np.ndarray, labels: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    """``(N,)`` whether each item's group holds two different known labels (``-1`` is unknown)."""
    groups = np.asarray(groups, dtype=np.int64)
    y = torch.as_tensor(np.asarray(labels)).long().numpy()
    if len(y) != len(groups):
        raise ValueError(f"{len(y)} labels for {len(groups)} grouped items.")
    _, group_id = np.unique(groups, return_inverse=True)
    known = y != UNKNOWN_LABEL
    pairs = np.unique(np.stack([group_id[known], y[known]], axis=1), axis=0)
    labels_per_group = np.bincount(pairs[:, 0], minlength=int(group_id.max(initial=-1)) + 1)
    return labels_per_group[group_id] > 1


@dataclass(frozen=True)
class DuplicateGroups:
    """Which group every item belongs to, and how.

    Attributes:
        group: ``(N,)`` group id of each item; an item with no duplicate is a group of its own.
        first: ``(N,)`` index of the group's first (lowest-index) member.
        kind: ``(N,)`` ``"exact"`` where the item's content hash equals its first member's (the
            first member itself included), ``"near"`` where only the vectors link them, ``""``
            for an item alone.
        similarity: ``(N,)`` cosine similarity of the item's vector to its first member's (1 for
            exact copies and for the first member).
        conflict: ``(N,)`` whether the item's group holds two different known labels (all False
            until :meth:`with_labels`).
    """

    group: np.ndarray
    first: np.ndarray
    kind: np.ndarray
    similarity: np.ndarray
    conflict: np.ndarray

    def __len__(self) -> int:
        return len(self.group)

    @property
    def sizes(self) -> np.ndarray:
        """``(N,)`` size of each item's group."""
        return np.bincount(self.group)[self.group]

    def with_labels(self, labels: Sequence[int] | np.ndarray | torch.Tensor) -> DuplicateGroups:
        """A copy whose ``conflict`` marks the groups with two different known labels (``-1`` is unknown)."""
        return replace(self, conflict=label_conflicts(self.group, labels))

    def summary(self) -> dict[str, int]:
        """``groups`` (with two or more members), ``merged_images`` (their members), ``conflict_groups``
        and ``conflict_images``."""
        shared = self.sizes > 1
        return {
            "groups": int(len(np.unique(self.group[shared]))),
            "merged_images": int(shared.sum()),
            "conflict_groups": int(len(np.unique(self.group[self.conflict]))),
            "conflict_images": int(self.conflict.sum()),
        }

    def records(self, ids: Sequence[str], labels: Sequence | None = None) -> list[dict]:
        """One row per member of a group of two or more — conflicts first, then by group and member —
        with ``group``, ``id``, ``kind``, ``similarity``, ``label`` (where given) and ``conflict`` (0/1):
        the rows of ``duplicates.csv``."""
        if len(ids) != len(self.group):
            raise ValueError(f"{len(ids)} ids for {len(self.group)} grouped items.")
        members = np.flatnonzero(self.sizes > 1)
        members = members[np.lexsort((members, self.group[members], ~self.conflict[members]))]
        return [{"group": int(self.group[i]), "id": str(ids[i]), "kind": str(self.kind[i]),
                 "similarity": round(float(self.similarity[i]), 6),
                 "label": "" if labels is None else labels[i], "conflict": int(self.conflict[i])}
                for i in members]


def group_duplicates(
    vectors: np.ndarray | torch.Tensor | None = None,
    hashes: Sequence[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    labels: Sequence[int] | np.ndarray | torch.Tensor | None = None,
    exact_limit: int = EXACT_SEARCH_LIMIT,
) -> DuplicateGroups:
    """Group exact copies (equal ``hashes``) and near-duplicates (``vectors`` at cosine ``>= threshold``).

    Args:
        vectors: ``(N, D)`` pixel signatures or embeddings; None groups by hash only.
        hashes: ``N`` content hashes; None groups by the vectors only.
        threshold: near-duplicate cosine similarity, in ``(0, 1]``.
        labels: ``(N,)`` class ids (``-1`` unknown) to flag conflicts; None flags none.
        exact_limit: largest ``N`` searched exhaustively (see :mod:`~monai_debclust.similarity.neighbours`).

    Returns:
        :class:`DuplicateGroups`.
    """
    if vectors is None and hashes is None:
        raise ValueError("group_duplicates needs vectors, hashes or both.")
    count = len(hashes) if vectors is None else len(vectors)
    if hashes is not None and len(hashes) != count:
        raise ValueError(f"{len(hashes)} hashes for {count} vectors.")
    links = [np.zeros((0, 2), dtype=np.int64)]
    if hashes is not None:
        _, hash_id = np.unique(np.asarray(hashes, dtype=str), return_inverse=True)
        first_with_hash = np.unique(hash_id, return_index=True)[1][hash_id]
        links.append(np.stack([first_with_hash, np.arange(count)], axis=1))
    unit = None
    if vectors is not None:
        unit = unit_rows(vectors)
        links.append(near_duplicate_pairs(unit, threshold, exact_limit=exact_limit)[0])
    group = connected_groups(count, np.concatenate(links))
    first = np.unique(group, return_index=True)[1][group]
    same_file = hash_id == hash_id[first] if hashes is not None else np.arange(count) == first
    similarity = np.ones(count, dtype=np.float32)
    if unit is not None:
        similarity = np.where(same_file, 1.0, np.einsum("nd,nd->n", unit, unit[first])).astype(np.float32)
    alone = np.bincount(group)[group] == 1
    kind = np.where(alone, "", np.where(same_file, "exact", "near")).astype("<U5")
    groups = DuplicateGroups(group, first, kind, similarity, np.zeros(count, dtype=bool))
    return groups if labels is None else groups.with_labels(labels)
