"""A real training process for the resume tests: `python tests/resume_child.py FOLDER OUT [--resume] [--every N]
[--seconds FILE]`.

Trains a small CNN student with Hinton KD against fixed random soft targets (3 epochs, 16 steps
each), checkpointing into FOLDER, and writes the final weights to OUT (safetensors) and the training
seconds it reports (TrainResult.seconds) to FILE.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from edgedistill.distill.cache import CachedOutputs, LiveOutputs, Stored
from edgedistill.distill.checkpoint import Checkpointer
from edgedistill.distill.train import fit
from edgedistill.models import save_weights
from edgedistill.models.cnn1d import CNN1d
from edgedistill.progress import Reporter
from edgedistill.recipe import TrainConfig

FINGERPRINT = {"student": {"channels": [4, 8]}, "lr": 0.01}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--augment", action="store_true", help="shift + noise each batch, teacher run live")
    ap.add_argument("--seconds", type=Path, help="write the reported training seconds here")
    args = ap.parse_args(argv)
    from edgedistill.threads import configure

    configure()  # the pool the CLI and the test process size (threads.py): the same sums, so the same weights
    g = torch.Generator().manual_seed(123)
    x, y = torch.randn(512, 40, generator=g), torch.randint(0, 10, (512,), generator=g)
    teacher_logits = 3 * torch.randn(512, 10, generator=g)
    torch.manual_seed(0)
    teacher = CNN1d(40, 10, [8, 8]).eval()
    outputs = LiveOutputs(teacher) if args.augment else CachedOutputs({"": teacher_logits.numpy()}, Stored(), 10)
    torch.manual_seed(1)
    model = CNN1d(40, 10, [4, 8])
    ckpt = Checkpointer(args.folder, {**FINGERPRINT, "lr": args.lr}, every=args.every, keep=3, resume=args.resume,
                        force=False)
    augment = {"shift": 3, "noise": 0.1} if args.augment else {}
    result = fit(model, x, y, cfg=TrainConfig(epochs=3, lr=args.lr, batch_size=32, augment=augment), loss="hinton_kd",
                 loss_params={"temperature": 4.0, "alpha": 0.9}, x_test=x[:64], y_test=y[:64], seed=7, label="child",
                 reporter=Reporter(quiet=True), outputs=outputs, checkpoints=ckpt)
    save_weights(model, args.out)
    if args.seconds:
        args.seconds.write_text(repr(result.seconds))
    return result


if __name__ == "__main__":
    main()
