"""Run folders: never overwritten without --force, never left half-written, progress honours --quiet."""

from __future__ import annotations

import io

import pytest
from conftest import TINY_HOST

from edgedistill.errors import UsageError
from edgedistill.pipeline import claim_out, publish
from edgedistill.progress import Reporter


def test_existing_run_folder_is_refused_without_force(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "report.json").write_text("{}")
    with pytest.raises(UsageError, match="--force") as exc:
        claim_out(out, force=False)
    assert exc.value.exit_code == 2 and (out / "report.json").read_text() == "{}"


def test_force_replaces_only_when_the_new_run_is_complete(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "old").write_text("old")
    staging = claim_out(out, force=True)
    assert (out / "old").exists()  # the old run survives while the new one is being written
    (staging / "new").write_text("new")
    publish(staging, out, force=True)
    assert (out / "new").exists() and not (out / "old").exists() and not staging.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging or trash left behind


def test_two_runs_get_distinct_staging_and_a_late_collision_is_refused(tmp_path):
    out = tmp_path / "run"
    first, second = claim_out(out, force=False), claim_out(out, force=False)
    assert first != second and first.exists() and second.exists()
    publish(first, out, force=False)
    with pytest.raises(UsageError, match="appeared during the run"):
        publish(second, out, force=False)
    assert second.exists()  # the loser's results are kept, not deleted


def test_a_failing_stage_leaves_no_run_folder_only_resumable_checkpoints(tmp_path, cache_dir, monkeypatch, capsys):
    import edgedistill.export.stage as export_stage
    from edgedistill.pipeline import run

    def broken(*args, **kwargs):  # fault injection: the export stage dies half-way
        raise RuntimeError("disk full")

    monkeypatch.setattr(export_stage, "export_all", broken)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="disk full"):
        run(TINY_HOST, out=out, reporter=Reporter(quiet=True), cache_dir=cache_dir)
    # no run folder, no staging; only the hidden training checkpoints, so no training is lost
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == [".run.checkpoints"]
    assert "--resume" in capsys.readouterr().err
    monkeypatch.undo()
    done = run(TINY_HOST, out=out, reporter=Reporter(quiet=True), cache_dir=cache_dir, resume=True)
    assert done.out == out and [p.name for p in tmp_path.iterdir()] == ["run"]


def test_reporter_plain_lines_when_not_a_tty_and_silent_when_quiet():
    stream = io.StringIO()
    with Reporter(stream=stream).task("teacher", 2) as advance:
        advance(epoch=1, loss=0.5)
        advance(epoch=2, loss=0.25)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("teacher: 1/2 epoch=1 loss=0.5") and lines[1].startswith("teacher: 2/2")
    quiet = io.StringIO()
    with Reporter(quiet=True, stream=quiet).task("teacher", 2) as advance:
        advance(epoch=1)
    Reporter(quiet=True, stream=quiet).info("hello")
    assert quiet.getvalue() == ""
