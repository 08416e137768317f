"""Tests of monai_debclust.transforms."""
