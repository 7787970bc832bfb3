"""Staging folders: a completed run removes the leftovers of killed runs of the same name, never a live run's."""

from __future__ import annotations

import subprocess
import sys

from edgedistill.pipeline import claim_out, publish

HOLD = ("import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(60)\n")


def test_completed_run_removes_killed_runs_leftovers_and_keeps_a_live_runs_folder(tmp_path):
    out = tmp_path / "run"
    killed = tmp_path / ".run.partial-killed"  # what SIGKILL leaves: nobody holds it any more
    (killed / "sub").mkdir(parents=True)
    (killed / "sub" / "student.onnx").write_bytes(b"x")
    live = tmp_path / ".run.partial-live"  # another run, still writing
    live.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(live)], stdout=subprocess.PIPE, text=True)
    other = tmp_path / ".other.partial-x"  # a different run name: not ours to touch
    other.mkdir()
    try:
        assert holder.stdout.readline().strip() == "locked"
        staging = claim_out(out, force=False)
        (staging / "report.json").write_text("{}")
        publish(staging, out, force=False)
    finally:
        holder.kill()
        holder.wait()
    assert (out / "report.json").exists()
    assert not killed.exists() and live.is_dir() and other.is_dir()


def test_a_second_staging_of_the_same_name_is_not_swept_while_its_writer_lives(tmp_path):
    out = tmp_path / "run"
    first, second = claim_out(out, force=False), claim_out(out, force=False)  # both held by this process
    publish(first, out, force=False)
    assert second.is_dir()  # our own other staging folder is live
