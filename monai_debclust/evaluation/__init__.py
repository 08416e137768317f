"""evaluation of monai-debclust."""
