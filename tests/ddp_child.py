"""One rank of a data-parallel training job for tests/test_ddp.py (run as a script, 1 or 2 processes).

Trains a small student with Hinton KD on a learnable synthetic task (labels = a random teacher's
argmax) and writes this rank's final weights and result. `--no-sync` trains the same shards
without DistributedDataParallel: the control that shows the ranks' weights differ unless
gradients are synchronised.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from pathlib import Path

import torch

from edgedistill.distill import ddp
from edgedistill.distill.cache import CachedOutputs, Stored
from edgedistill.distill.train import fit
from edgedistill.models import save_weights
from edgedistill.models.cnn1d import CNN1d
from edgedistill.progress import Reporter
from edgedistill.recipe import TrainConfig


class _NoSync(ddp.Dist):
    def wrap(self, module):
        return module


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--no-sync", action="store_true")
    args = ap.parse_args(argv)
    dist = ddp.from_env()
    if args.no_sync:
        dist = _NoSync(dist.rank, dist.world)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3072, 40, generator=g)
    torch.manual_seed(0)
    teacher = CNN1d(40, 10, [16, 32]).eval()
    with torch.no_grad():
        logits = teacher(x)
    y = logits.argmax(1)
    torch.manual_seed(1)
    student = CNN1d(40, 10, [8, 16])
    outputs = CachedOutputs({"": logits[:2560].numpy()}, Stored(), 10)
    result = fit(student, x[:2560], y[:2560], cfg=TrainConfig(epochs=4, lr=1e-2, batch_size=64), loss="hinton_kd",
                 loss_params={"temperature": 4.0, "alpha": 0.9}, x_test=x[2560:], y_test=y[2560:], seed=3,
                 label="ddp", reporter=Reporter(quiet=True), outputs=outputs, dist=dist)
    args.out.mkdir(parents=True, exist_ok=True)
    save_weights(student, args.out / f"rank{dist.rank}.safetensors")
    (args.out / f"rank{dist.rank}.json").write_text(json.dumps({**asdict(replace(result)), "world": dist.world}))
    ddp.finish(dist)


if __name__ == "__main__":
    main()
