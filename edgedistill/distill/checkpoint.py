"""Checkpoints that make a killed training run resumable bit for bit.

One checkpoint is a folder `step-00001234/` holding
    state.safetensors   model + adapter weights and buffers, optimizer tensors, torch RNG states
    meta.json           step, epoch, sampler position, running loss, optimizer hyper-parameters,
                        scheduler state, numpy and python RNG states, the run's fingerprint, the
                        training seconds so far, and the sha256 of state.safetensors
written into a temporary folder, fsynced, and renamed into place (then the parent is fsynced), so
a kill at any instant leaves either the previous checkpoint set or the new one — never half of
one. The N most recent are kept. On load, the newest whose sha256 matches is used; a corrupt or
truncated one is skipped with a warning, and if none is usable the run stops with an error
instead of silently starting again from scratch.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..artifacts import raise_unusable, sha256_path
from ..errors import InputFileError, UsageError

STATE, META = "state.safetensors", "meta.json"


@dataclass(frozen=True)
class Position:
    """Where the loop stands: `epoch`, the next batch offset in it, its batch order and running loss,
    and the training wall time spent to get there (summed over every process that trained it)."""

    step: int
    epoch: int
    offset: int
    order: torch.Tensor  # (N,) this epoch's permutation
    total: float  # running sum of loss · batch size in this epoch
    seconds: float = 0.0  # training wall time up to this step, across interruptions


class Checkpointer:
    """Save every `every` steps into `folder`, keeping the `keep` newest; restore on `resume`."""

    def __init__(self, folder: Path, fingerprint: dict, every: int = 200, keep: int = 3, resume: bool = False,
                 force: bool = False, warn=print):
        self.folder, self.fingerprint = Path(folder), fingerprint
        self.every, self.keep, self.resume, self.force, self.warn = every, keep, resume, force, warn

    def due(self, step: int) -> bool:
        return self.every > 0 and step % self.every == 0

    # --- save ------------------------------------------------------------------------------
    def save(self, pos: Position, model, objective, opt, sched, gen: torch.Generator) -> Path:
        """Write one checkpoint atomically; prune old ones. A full or read-only disk leaves no temporary
        folder behind and raises OutputPathError naming the folder (exit 3)."""
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.folder))
            final = self._write(tmp, pos, model, objective, opt, sched, gen)
        except BaseException as exc:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise_unusable(exc, self.folder)  # a full or read-only disk: one line naming the path
            raise
        for old in self.checkpoints()[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def _write(self, tmp: Path, pos: Position, model, objective, opt, sched, gen: torch.Generator) -> Path:
        """The checkpoint's files into `tmp`, fsynced, then renamed to `step-NNNNNNNN`."""
        from safetensors.torch import save_file

        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        tensors |= {f"objective.{k}": v for k, v in objective.state_dict().items()}
        opt_sd = opt.state_dict()
        for idx, st in opt_sd["state"].items():
            tensors |= {f"optim.{idx}.{k}": v for k, v in st.items()}
        tensors |= {"rng.torch": torch.get_rng_state(), "rng.sampler": gen.get_state(), "order": pos.order}
        save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()}, str(tmp / STATE))
        np_state = np.random.get_state()
        meta = {"step": pos.step, "epoch": pos.epoch, "offset": pos.offset, "total": pos.total, "seconds": pos.seconds,
                "param_groups": opt_sd["param_groups"], "scheduler": sched.state_dict(),
                "rng_numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
                "rng_python": _jsonable(random.getstate()), "fingerprint": self.fingerprint,
                "sha256": sha256_path(tmp / STATE)}
        (tmp / META).write_text(json.dumps(meta), encoding="utf-8")
        for f in (tmp / STATE, tmp / META):
            _fsync(f)
        final = self.folder / f"step-{pos.step:08d}"
        if final.exists():  # a rerun of the same step after a resume: replace it
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync(self.folder)
        return final

    def checkpoints(self) -> list[Path]:
        """Complete checkpoint folders, oldest first (temporary folders of a killed save are ignored)."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("step-*") if p.is_dir())

    # --- restore ---------------------------------------------------------------------------
    def restore(self, model, objective, opt, sched, gen: torch.Generator) -> Position | None:
        """Load the newest good checkpoint into the given objects; None when not resuming."""
        found = self.checkpoints()
        if not self.resume:
            if found and not self.force:
                raise UsageError(f"{self.folder} holds checkpoints of an interrupted run — pass --resume to "
                                 "continue it, or --force to start over")
            shutil.rmtree(self.folder, ignore_errors=True)
            return None
        for path in reversed(found):
            meta = self._verified_meta(path)
            if meta is not None:
                self._check_fingerprint(meta["fingerprint"], path)
                return self._load(path, meta, model, objective, opt, sched, gen)
        if found:
            raise InputFileError(str(self.folder), "no usable checkpoint (all fail their sha256 check)",
                                 "rerun without --resume and with --force to start over")
        return None  # nothing saved yet for this stage: it starts from its first step

    def _verified_meta(self, path: Path) -> dict | None:
        try:
            meta = json.loads((path / META).read_text(encoding="utf-8"))
            if sha256_path(path / STATE) != meta["sha256"]:
                problem = "sha256 mismatch"
            elif not _valid_seconds(meta.get("seconds", 0.0)):  # absent in checkpoints of older versions
                problem = f"seconds {meta['seconds']!r} is not a number of seconds"
            else:
                return meta
        except (OSError, ValueError, KeyError) as exc:
            problem = type(exc).__name__
        self.warn(f"warning: checkpoint {path} is corrupt or truncated ({problem}); falling back to an older one")
        return None

    def _check_fingerprint(self, saved: dict, path: Path) -> None:
        changed = diff(saved, self.fingerprint)
        if changed and not self.force:
            raise UsageError(f"the recipe or teacher changed since {path} was written: " + "; ".join(changed)
                             + " — pass --force to resume anyway")

    def _load(self, path, meta, model, objective, opt, sched, gen) -> Position:
        from safetensors.torch import load_file

        t = load_file(str(path / STATE))
        model.load_state_dict({k[6:]: v for k, v in t.items() if k.startswith("model.")})
        objective.load_state_dict({k[10:]: v for k, v in t.items() if k.startswith("objective.")})
        groups = [{**g, "betas": tuple(g["betas"])} if "betas" in g else g for g in meta["param_groups"]]
        state: dict[int, dict] = {}
        for k, v in t.items():
            if k.startswith("optim."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        opt.load_state_dict({"state": state, "param_groups": groups})
        sched.load_state_dict(meta["scheduler"])
        torch.set_rng_state(t["rng.torch"])
        gen.set_state(t["rng.sampler"])
        n = meta["rng_numpy"]
        np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), *n[2:]))
        random.setstate(_tupled(meta["rng_python"]))
        return Position(meta["step"], meta["epoch"], meta["offset"], t["order"], meta["total"],
                        float(meta.get("seconds", 0.0)))


def diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Key paths whose values differ between two nested dicts: ["student.train.lr: 0.01 → 0.02", …]."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b, path = old.get(key), new.get(key), f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out += diff(a, b, path + ".")
        elif a != b:
            out.append(f"{path}: {a!r} → {b!r}")
    return out


def _valid_seconds(x) -> bool:
    """A finite, non-negative number (meta.json is not covered by the sha256: it may have been edited)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x < float("inf")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _jsonable(x):
    return [_jsonable(v) for v in x] if isinstance(x, tuple | list) else x


def _tupled(x):
    return tuple(_tupled(v) for v in x) if isinstance(x, list) else x
