"""losses of monai-debclust."""
