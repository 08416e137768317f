"""engines of monai-debclust."""
