"""transforms of monai-debclust."""
