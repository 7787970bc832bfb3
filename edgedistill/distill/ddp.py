"""Data-parallel training across processes: torch.distributed, gloo on CPU (nccl on GPU).

Launched by `torchrun --nproc-per-node N -m edgedistill distill RECIPE --out DIR` or by
`edgedistill distill RECIPE --nproc N`, which starts N copies of itself with the environment
torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR, …), so both paths run the same code. Each
process is one rank:

- every rank walks the same global batch order and trains on its own slice of each global batch
  (rows idx[rank::world]), so the step count and learning-rate schedule equal a 1-process run's;
- the student (and any adapters) is wrapped in DistributedDataParallel, which averages gradients
  across ranks in backward; the frozen teacher is not wrapped — it has no gradients to sync;
- each rank reads only its own rows of the teacher-output cache; the cache fill is sharded too;
- losses are all-reduced for the progress line; only rank 0 writes weights, checkpoints, reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Dist:
    """This process's place in the job: rank `rank` of `world` processes."""

    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the only rank that writes files and prints progress."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait until every rank gets here (no-op in a 1-process run)."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def sum(self, *values: float) -> list[float]:
        """Element-wise sum of `values` over all ranks (the values themselves in a 1-process run)."""
        if self.world == 1:
            return list(values)
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def shard(self, idx):
        """This rank's rows of a global batch of row indices.

        A global batch smaller than the world (a last, partial batch) goes whole to every rank:
        averaging identical gradients gives the full batch's, and no rank trains on zero rows.
        """
        return idx if self.world == 1 or len(idx) < self.world else idx[self.rank::self.world]

    def broadcast_buffers(self, module) -> None:
        """Copy rank 0's buffers (BatchNorm running statistics) to every rank.

        DDP broadcasts them before each forward, but the last step's update is each rank's own
        (from its own rows): after training, every rank takes rank 0's — the model rank 0 saves.
        """
        if self.world > 1:
            import torch.distributed as dist

            for b in module.buffers():
                dist.broadcast(b, src=0)

    def wrap(self, module):
        """`module` in DistributedDataParallel when there are several ranks, else itself."""
        if self.world == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module)


SINGLE = Dist()


def from_env() -> Dist:
    """Join the process group torchrun describes in the environment (RANK, WORLD_SIZE, MASTER_ADDR …)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return SINGLE
    import torch
    import torch.distributed as dist

    from ..threads import configure

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    configure()  # the CPUs are shared by the ranks: usable CPUs ÷ LOCAL_WORLD_SIZE threads each (threads.py)
    return Dist(dist.get_rank(), dist.get_world_size())


def finish(d: Dist, clean: bool = True) -> None:
    """Leave the process group in step with the other ranks, while the interpreter is fully alive.

    A rank that tears gloo down while a peer still has traffic in flight (the tail of the last
    all-reduce, a socket the peer has not read yet) can make the peer's gloo threads fail during
    its own teardown — seen as one rank dying with SIGABRT ("terminate called without an active
    exception") at the end of a successful job. So, in order: free what still holds the process
    group (DDP reducers in reference cycles, pending work objects), wait for every rank at a
    barrier, then destroy the group. After a failure (`clean=False`) there is no barrier: the
    peers may never reach it, and the launcher stops them instead.
    """
    if d.world == 1:
        return
    import gc

    import torch.distributed as dist

    if not dist.is_initialized():
        return
    gc.collect()
    if clean:
        dist.barrier()
    dist.destroy_process_group()
    gc.collect()


def launch(nproc: int, argv: list[str]) -> int:
    """Run `python -m edgedistill ARGV` as `nproc` local ranks; the first failing rank's exit code, else 0.

    The ranks get the environment torchrun would give them (RANK, LOCAL_RANK, WORLD_SIZE,
    MASTER_ADDR, MASTER_PORT), so the two launchers run the same code. When a rank fails, the
    others are stopped at once instead of waiting in a collective until gloo's timeout.
    """
    import time

    port = _free_port()
    procs = []
    for rank in range(nproc):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(nproc),
               "LOCAL_WORLD_SIZE": str(nproc), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        procs.append(subprocess.Popen([sys.executable, "-m", "edgedistill", *argv], env=env))
    try:
        while True:
            codes = [p.poll() for p in procs]
            failed = [c for c in codes if c not in (None, 0)]
            if failed or all(c == 0 for c in codes):
                return failed[0] if failed else 0
            time.sleep(0.05)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
