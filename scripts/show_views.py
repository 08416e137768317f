"""Write a PNG grid of plain images and two random views each, for the fundus and dermoscopy presets.

Real images come from ``../shared/data/fundus4`` and ``../shared/data/isic9/Train`` beside the
checkout (one image per class, round robin); where those folders are absent, the product's own
synthetic fundus and dermoscopy images are drawn instead.

    python scripts/show_views.py --out /tmp/views.png --n 4 --image-size 128 --seed 0
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from monai_debclust.data.readers import IMAGE_EXTENSIONS, read_image  # noqa: E402
from monai_debclust.data.synthetic.dermoscopy import DERMOSCOPY_CLASSES, render_dermoscopy  # noqa: E402
from monai_debclust.data.synthetic.fundus import render_fundus  # noqa: E402
from monai_debclust.transforms import TwoViewd  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = {"fundus": DATA / "fundus4", "dermoscopy": DATA / "isic9" / "Train"}


def real_images(root: Path, n: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """``n`` (name, image) pairs: a random file from each class folder in turn."""
    folders = sorted(d for d in root.iterdir() if d.is_dir())
    classes = [sorted(p for p in d.iterdir() if p.name.lower().endswith(IMAGE_EXTENSIONS)) for d in folders]
    classes = [files for files in classes if files]
    picks = [files[rng.integers(len(files))] for files in (classes[i % len(classes)] for i in range(n))]
    return [(f"{path.parent.name}/{path.name}", read_image(path)) for path in picks]


def synthetic_images(preset: str, n: int, size: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """``n`` (name, image) pairs drawn by the synthetic cohort generators."""
    labels = ("glaucoma", "normal") if preset == "fundus" else DERMOSCOPY_CLASSES
    render = render_fundus if preset == "fundus" else render_dermoscopy
    pairs = []
    for i in range(n):
        label = labels[i % len(labels)]
        pairs.append((f"synthetic {label}", render(label, size, rng).transpose(2, 0, 1).astype(np.float32) / 255))
    return pairs


def resize(image: np.ndarray, size: int) -> torch.Tensor:
    """Square ``(C, size, size)`` float tensor, bilinear with antialiasing."""
    tensor = torch.as_tensor(image, dtype=torch.float32)[None]
    return F.interpolate(tensor, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0].clamp(0, 1)


def to_rgb(image: torch.Tensor) -> np.ndarray:
    return image.expand(3, -1, -1).permute(1, 2, 0).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/views.png"), help="PNG file to write")
    parser.add_argument("--n", type=int, default=4, help="images per preset")
    parser.add_argument("--image-size", type=int, default=128, help="side of the resized images")
    parser.add_argument("--seed", type=int, default=0, help="seed of the image choice and of the views")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    presets = ("fundus", "dermoscopy")
    fig, axes = plt.subplots(args.n, 3 * len(presets), figsize=(2.2 * 3 * len(presets), 2.3 * args.n), squeeze=False)
    for column, preset in enumerate(presets):
        root = SOURCES[preset]
        if root.is_dir():
            images = real_images(root, args.n, rng)
        else:
            images = synthetic_images(preset, args.n, args.image_size, rng)
        transform = TwoViewd(preset=preset).set_random_state(args.seed)
        for row, (name, image) in enumerate(images):
            sample = transform({"image": resize(image, args.image_size)})
            for offset, key in enumerate(("image", "view1", "view2")):
                ax = axes[row, 3 * column + offset]
                ax.imshow(to_rgb(sample[key]), interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"{preset}: {name}" if key == "image" else key, fontsize=6 if key == "image" else 8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
