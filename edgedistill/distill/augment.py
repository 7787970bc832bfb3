"""On-the-fly input augmentation, named in a recipe's train table: `augment = { shift = 3, noise = 0.05 }`.

Each function takes a batch (b, …, L) and a strength and draws from torch's global RNG, whose state
every checkpoint stores, so an augmented run resumes bit for bit. Augmented inputs differ every
step, so the teacher must see the same augmented batch as the student: such runs keep the
teacher in the loop (distill/cache.py explains why a cache is refused).
"""

from __future__ import annotations

NAMES = ("shift", "noise")  # torch-free, for recipe validation


def shift(x, strength: float):
    """Roll each row along its last axis by its own random offset in [−strength, strength] samples."""
    import torch

    k, length = int(strength), x.shape[-1]
    offsets = torch.randint(-k, k + 1, (len(x),))  # (b,)
    cols = (torch.arange(length) - offsets[:, None]) % length  # (b, L): out[j] = x[j − offset]
    return x.gather(-1, cols.view(len(x), *[1] * (x.dim() - 2), length).expand_as(x))


def noise(x, strength: float):
    """Add Gaussian noise with standard deviation `strength`."""
    import torch

    return x + strength * torch.randn_like(x)


def apply(x, augment: dict[str, float]):
    """x with each named augmentation applied in the recipe's order (x itself when there are none)."""
    funcs = {"shift": shift, "noise": noise}
    for name, strength in augment.items():
        x = funcs[name](x, strength)
    return x


def batch(x: dict, augment: dict[str, float]) -> dict:
    """A batch of named inputs with the augmentations applied to its float inputs (token ids stay as they are)."""
    if not augment:
        return x
    return {k: apply(v, augment) if v.is_floating_point() else v for k, v in x.items()}
