"""data of monai-debclust."""
