"""Child processes that read untrusted model files: limits, their own process group, death with the parent.

Everything that reads a model beyond its first bytes — the ONNX checker, shape inference, the graph
cost, onnxruntime itself — runs in a child started here, never in the parent: a 200-byte graph can
ask for a 50 GB tensor, a Loop can run forever. Each child

  * gets its spec on stdin (no temp file that a `kill -9` of the parent would leave in /tmp);
  * runs in its own session / process group, so the whole group is killed on a timeout, on Ctrl-C
    and on any error in the parent — and so is anything it started outside the group (Chromium is
    launched detached), found by a tag in its environment;
  * dies with the parent: `enter()` sets PR_SET_PDEATHSIG (SIGKILL) through prctl, then checks that
    its parent is still the one that started it (the parent may have died before the prctl);
  * caps its own memory with RLIMIT_DATA before importing anything heavy (every malloc and private
    mmap since Linux 4.7; RLIMIT_AS would also count the address space onnxruntime's thread pool
    reserves and never touches), so an allocation beyond it fails inside the child;
  * is killed when it outlives its wall-clock limit, which the parent turns into a result naming
    the limit, never a hang or an internal error.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PARENT_ENV = "EDGEDISTILL_PARENT_PID"
CHILD_ENV = "EDGEDISTILL_CHILD"  # inherited by everything a child starts, detached or not: found and killed after
MIB = 2**20
GIB = 2**30


@dataclass(frozen=True)
class Limits:
    """What one child may use: a memory ceiling (None: none) and a wall-clock limit."""

    memory_bytes: int | None
    seconds: float
    memory_source: str = ""  # where the ceiling comes from, for messages: "mobile-little-core", "host default"

    def to_json(self) -> dict:
        return {"memory_bytes": self.memory_bytes, "seconds": self.seconds}


@dataclass(frozen=True)
class ChildRun:
    """What a child left behind: its last JSON line (or {"error": its last stderr line}) and how it ended."""

    out: dict
    returncode: int
    printed: bool  # it printed a JSON line at all
    timed_out: bool

    @property
    def signal_name(self) -> str | None:
        """SIGKILL, SIGSEGV … when a signal ended the child."""
        if self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"


def host_memory_bytes() -> int:
    """Physical memory of this host (sysconf), or 8 GiB where it cannot be read."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * GIB


def host_ceiling() -> int:
    """The memory ceiling of a child whose profile sets none: half of this host's memory.

    A graph onnxruntime constant-folds into tens of GB must fail inside its child, not push the
    machine (and everyone else's jobs on it) into the OOM killer.
    """
    return host_memory_bytes() // 2


def analysis_ceiling(file_bytes: int) -> int:
    """Memory the checker, shape inference and graph cost of a file may use: 1 GiB + 8 × its size.

    Reading a graph needs a few copies of the protobuf; a graph whose shape inference needs more
    than that is asking for tensors the file does not hold (a ConstantOfShape of 50 GB).
    """
    return min(host_ceiling(), GIB + 8 * file_bytes)


def run(module: str, spec: dict, limits: Limits) -> ChildRun:
    """Run `python -m MODULE` with `spec` on stdin under `limits`; kill its process group on any way out."""
    import uuid

    scratch, tag = _scratch_dir(), uuid.uuid4().hex
    try:
        return _run(module, spec, limits, scratch, tag)
    finally:
        stray = kill_tagged(tag)  # what left the process group (Chromium is started detached) goes too
        _wait_gone(stray)
        if scratch is not None:
            _remove(scratch, settle_s=0.5 if stray else 0.0)  # a killed Chromium may still recreate its profile


def _wait_gone(pids: list[int], patience_s: float = 10.0) -> None:
    """Wait until killed processes have really exited: a dying Chromium can still write into the scratch folder."""
    import time

    end = time.monotonic() + patience_s
    while pids and time.monotonic() < end:
        pids = [p for p in pids if Path(f"/proc/{p}").exists() and _state(p) not in ("Z", "X")]
        if pids:
            time.sleep(0.05)


def _state(pid: int) -> str:
    """A process's state letter from /proc (Z: a zombie, which writes nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def _remove(folder: Path, patience_s: float = 10.0, settle_s: float = 0.5) -> None:
    """rmtree until the folder stays gone for `settle_s`: a Chromium that was just killed (or is shutting
    down because its driver died) can still recreate its profile there for a moment."""
    import time

    end = time.monotonic() + patience_s
    gone_since = None
    while time.monotonic() < end:
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            gone_since = None
        elif gone_since is None:
            gone_since = time.monotonic()
        elif time.monotonic() - gone_since >= settle_s:
            return
        time.sleep(0.05)
    shutil.rmtree(folder, ignore_errors=True)


def _run(module: str, spec: dict, limits: Limits, scratch: Path | None, tag: str) -> ChildRun:
    here = str(Path(__file__).resolve().parents[2])  # the folder holding this edgedistill: the child imports it too
    path = os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, PARENT_ENV: str(os.getpid()), "PYTHONPATH": path, CHILD_ENV: tag}
    env.setdefault("OMP_NUM_THREADS", "1")  # numpy/BLAS in the child must not start a pool per core
    if scratch is not None:  # TMPDIR and working folder: see _scratch_dir (paths in the spec are absolute)
        env["TMPDIR"] = str(scratch)
    proc = subprocess.Popen([sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True, cwd=scratch)
    timed_out = False
    try:
        stdout, stderr = proc.communicate(json.dumps({**spec, "limits": limits.to_json()}), timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        stdout, stderr = proc.communicate()
    except BaseException:  # Ctrl-C, SIGTERM turned into an exception, a bug: the child never outlives us
        kill_group(proc)
        proc.wait()
        raise
    kill_group(proc)  # anything the child started and left behind
    lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
    out = _last_json(lines) if lines else None
    printed = out is not None
    if out is None:
        out = {"error": (stderr.strip().splitlines() or ["no output"])[-1][:500]}
    return ChildRun(out, proc.returncode, printed, timed_out)


STALE_S = 2 * 86_400  # longer than any child may run (time_limit_s ≤ 1 day)
SCRATCH_PREFIX = "edc-"  # short: Chromium's TMPDIR (this folder) must stay under ~55 characters
MAX_SCRATCH_PATH = 40  # a cache path longer than this puts the scratch folders in the system's temp folder


def _scratch_dir() -> Path | None:
    """A fresh folder in edgedistill's cache for one child: its TMPDIR and working folder, removed after it.

    onnxruntime 1.32 writes a telemetry session file (`$TMPDIR/.ses`) on import, symbolic shape
    inference dumps `sym_shape_infer_temp.onnx` into its working folder, Chromium and Playwright keep
    profiles and artifacts in TMPDIR: all of it lands here, never in the user's folder or /tmp.
    Folders left by a parent killed with SIGKILL are swept once they are older than STALE_S.

    Chromium keeps its singleton socket under TMPDIR and cannot start when that path is long (past
    ~60 characters): where the cache's path is too long, the folder is made in the system's temporary
    folder instead (removed after the child the same way)."""
    import tempfile
    import time

    from ..resources import default_cache_dir

    root = default_cache_dir() / "tmp"
    if len(str(root)) > MAX_SCRATCH_PATH:
        root = Path(tempfile.gettempdir() if len(tempfile.gettempdir()) <= MAX_SCRATCH_PATH else "/tmp")
    try:
        root.mkdir(parents=True, exist_ok=True)
        for old in root.glob(SCRATCH_PREFIX + "*"):
            if time.time() - old.stat().st_mtime > STALE_S:
                shutil.rmtree(old, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=root))
    except OSError:  # a read-only cache: TMPDIR and the working folder stay the user's
        return None


def _last_json(lines: list[str]) -> dict | None:
    try:
        out = json.loads(lines[-1])
    except ValueError:
        return None
    return out if isinstance(out, dict) else None


def kill_tagged(tag: str) -> list[int]:
    """SIGKILL every process of ours whose environment carries CHILD_ENV=tag (Linux /proc; elsewhere none)."""
    needle, killed = f"{CHILD_ENV}={tag}".encode(), []
    proc = Path("/proc")
    if not proc.is_dir():
        return killed
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
        except OSError:  # gone, or not ours
            continue
    return killed


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child's process group (it leads its own session); a group already gone is fine."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# ---- child side ---------------------------------------------------------------------------------

def enter() -> dict:
    """First call in a child: die with the parent, read the spec from stdin, apply the memory ceiling."""
    die_with_parent()
    spec = json.loads(sys.stdin.read())
    limit = (spec.get("limits") or {}).get("memory_bytes")
    if limit:
        set_memory_ceiling(int(limit))
    return spec


def die_with_parent() -> None:
    """PR_SET_PDEATHSIG = SIGKILL (Linux), then exit at once if the parent is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    else:  # no prctl: a daemon thread watches the parent instead
        import threading

        threading.Thread(target=_watch_parent, daemon=True).start()
    expected = os.environ.get(PARENT_ENV)
    if expected and os.getppid() != int(expected):
        os._exit(70)


def _watch_parent() -> None:
    import time

    expected = int(os.environ.get(PARENT_ENV) or os.getppid())
    while os.getppid() == expected:
        time.sleep(0.5)
    os._exit(70)


def set_memory_ceiling(limit: int) -> int:
    """RLIMIT_DATA of this process (soft and hard; never above a hard limit set by the user); the value read back."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))
    return resource.getrlimit(resource.RLIMIT_DATA)[0]


def first_line(exc: BaseException, limit: int = 300) -> str:
    """`Type: first line of the message`, whole words only, for a child's one-line error."""
    text = str(exc).strip().splitlines()
    msg = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    if len(msg) > limit:
        msg = msg[:limit].rsplit(" ", 1)[0] + " …"
    return msg
