"""networks of monai-debclust."""
