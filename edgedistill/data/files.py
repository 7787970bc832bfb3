"""File sources: a folder of images (one subfolder per class) and a text file (one example per line).

Images are decoded with Pillow, converted to RGB (or grey with `data.grayscale`), resized to
`data.image_size` and scaled to [0, 1]: inputs (N, C, H, W) float32.

Text lines are `label<TAB>text`; an unlabelled file is plain text, one example per line. Text
becomes its UTF-8 bytes, cut or zero-padded to `data.max_len`: inputs (N, max_len) float32
byte ids 1…255 (0 = padding), the input of the `textcnn` family.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputFileError
from . import checks
from .base import Dataset, assemble

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def decode_images(paths: list[Path], cfg) -> np.ndarray:
    """Image files → (N, C, H, W) float32 in [0, 1]; an undecodable file is named in the error."""
    from PIL import Image, UnidentifiedImageError

    h, w = cfg.image_size
    c = 1 if cfg.grayscale else 3
    checks.fits_in_memory(len(paths) * c * h * w * 4, f"{len(paths):,} images of {c}×{h}×{w} float32",
                          checks.recipe_size("data.image_size", "lower data.image_size"))
    out = np.empty((len(paths), c, h, w), np.float32)
    for i, p in enumerate(paths):
        try:
            with checks.open_image(p) as im:  # a decompression bomb is refused here, naming the file
                im = im.convert("L" if cfg.grayscale else "RGB").resize((w, h), Image.Resampling.BILINEAR)
                a = np.asarray(im, np.float32) / 255.0  # (H, W) or (H, W, 3)
        except (UnidentifiedImageError, OSError) as exc:
            raise InputFileError(str(p), f"not a readable image ({exc.__class__.__name__})",
                                 "remove or re-save the file") from None
        out[i] = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return out


def load_image_folder(cfg, cache_dir) -> Dataset:
    """`data.path`/<class>/*.png → Dataset; class ids follow the sorted subfolder names."""
    root = Path(cfg.path)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise InputFileError(str(root), "no class subfolders", "put each class's images in a subfolder named after it")
    paths, y = [], []
    for c, name in enumerate(classes):
        found = _images(root / name)
        if not found:
            raise InputFileError(str(root / name), "no images in this class folder",
                                 f"add images ({', '.join(sorted(IMAGE_SUFFIXES))}) or remove the folder")
        paths += found
        y += [c] * len(found)
    return assemble("image_folder", cfg, str(root), decode_images(paths, cfg), np.array(y), classes=tuple(classes))


def unlabeled_images(folder: Path, cfg) -> np.ndarray:
    """Every image under `folder` (any depth; subfolder names are not labels here)."""
    paths = _images(Path(folder))
    if not paths:
        raise InputFileError(str(folder), "no images found", f"use files ending in {', '.join(sorted(IMAGE_SUFFIXES))}")
    return decode_images(paths, cfg)


def encode_text(lines: list[str], max_len: int) -> np.ndarray:
    """Strings → (N, max_len) float32 UTF-8 byte ids, cut or zero-padded."""
    checks.fits_in_memory(len(lines) * max_len * 4, f"{len(lines):,} lines of {max_len:,} byte ids (float32)",
                          checks.recipe_size("data.max_len", "lower data.max_len"))
    out = np.zeros((len(lines), max_len), np.float32)
    for i, s in enumerate(lines):
        b = np.frombuffer(s.encode("utf-8")[:max_len], np.uint8)
        out[i, :len(b)] = b
    return out


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(str(path), f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from None
    return [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]


def load_text_lines(cfg, cache_dir) -> Dataset:
    """`label<TAB>text` per line → Dataset; class ids follow the sorted label names."""
    rows = []
    for n, ln in _lines(Path(cfg.path)):
        if "\t" not in ln:
            raise InputFileError(f"{cfg.path}:{n}", "no tab between label and text",
                                 "write 'label<TAB>text'; plain unlabelled lines belong in data.unlabeled")
        label, text = ln.split("\t", 1)
        rows.append((label.strip(), text))
    if not rows:
        raise InputFileError(cfg.path, "no examples", "write one 'label<TAB>text' per line")
    classes = sorted({lab for lab, _ in rows})
    ids = {c: i for i, c in enumerate(classes)}
    x = encode_text([t for _, t in rows], cfg.max_len)
    return assemble("text_lines", cfg, cfg.path, x, np.array([ids[lab] for lab, _ in rows]), classes=tuple(classes))


def unlabeled_text(path: Path, cfg) -> np.ndarray:
    """Plain text, one example per non-empty line → (N, max_len) byte ids."""
    return encode_text([ln for _, ln in _lines(path)], cfg.max_len)
