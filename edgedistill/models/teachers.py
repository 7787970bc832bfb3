"""Pretrained teachers from outside the run, each handed on as an eval-mode `nn.Module`.

    source        loads                                          layer hooks (feature terms)
    import        factory(...) → a ready nn.Module (user code)   yes
    safetensors   `arch` or `factory`, then the weights file     yes
    torchscript   torch.jit.load — a program, trust it as code   no (ScriptModules take no hooks)
    onnx          an onnxruntime session run inside forward      no (outputs only, never gradients)
    huggingface   a save_pretrained folder (models/hf.py)         yes (hidden.k, attention.k taps)

Teachers without torch weights expose `content_hash` (sha256 of the file's bytes) for cache keys.
Safetensors and ONNX files cannot run code; a TorchScript archive is a program (PyTorch's
SECURITY.md: treat it like code from its provider), so loading one is the user's explicit choice.
"""

from __future__ import annotations

import hashlib
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..artifacts import sha256_path
from ..errors import ConfigError, InputFileError

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32}


class OnnxTeacher(nn.Module):
    """An ONNX file run by onnxruntime (CPU) in forward: (B, *input) tensor → (B, C) float32 tensor, no grad."""

    def __init__(self, path: Path):
        super().__init__()
        import onnx
        import onnxruntime as ort

        self.path = Path(path)
        data = self.path.read_bytes()
        self.content_hash = hashlib.sha256(data).hexdigest()
        try:
            graph = onnx.load_from_string(data).graph
            self._sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        except Exception as exc:  # protobuf or onnxruntime: one line is enough to see which
            raise InputFileError(str(path), f"not a loadable ONNX model ({str(exc).splitlines()[0][:200]})",
                                 "export the teacher again with torch.onnx.export") from None
        inputs = self._sess.get_inputs()
        if len(inputs) != 1:
            raise InputFileError(str(path), f"the model has {len(inputs)} inputs; a teacher takes one batch tensor")
        self._input = inputs[0]
        if isinstance(self._input.shape[0], int):
            raise InputFileError(str(path), f"the batch axis is fixed to {self._input.shape[0]}",
                                 "export with a dynamic batch axis (dynamic_axes={'input': {0: 'batch'}})")
        self._dtype = _ORT_TYPES.get(self._input.type, np.float32)
        self.param_count = sum(int(np.prod(t.dims)) for t in graph.initializer)  # weights, for the report

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # onnxruntime is outside autograd: the output never carries a gradient back to the teacher
        feed = {self._input.name: x.detach().cpu().numpy().astype(self._dtype, copy=False)}
        return torch.from_numpy(np.asarray(self._sess.run(None, feed)[0], dtype=np.float32))

    def write_onnx(self, path: Path, opset: int) -> dict:
        """The teacher's ONNX file for the benchmarks is the user's file itself, byte for byte."""
        from ..export.onnx import describe

        shutil.copyfile(self.path, path)
        return describe(path)


class ScriptTeacher(nn.Module):
    """A TorchScript archive (torch.jit.load) wrapped so it is an ordinary submodule with a content hash."""

    def __init__(self, path: Path, input_shape: tuple[int, ...]):
        super().__init__()
        self.path, self.content_hash, self.input_shape = Path(path), sha256_path(Path(path)), tuple(input_shape)
        try:
            with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript in favour of torch.export
                warnings.simplefilter("ignore")
                self.model = torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:
            raise InputFileError(str(path), f"not a TorchScript archive ({str(exc).splitlines()[0][:200]})",
                                 "save it with torch.jit.save(torch.jit.script(model), path)") from None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def write_onnx(self, path: Path, opset: int) -> dict:
        """torch.export cannot trace a ScriptModule; the TorchScript-based exporter can."""
        import contextlib
        import io

        from ..export.onnx import describe

        example = torch.zeros(2, *self.input_shape)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(self.model, (example,), str(path), dynamo=False, input_names=["input"],
                              output_names=["logits"], opset_version=min(opset, 18),
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        return describe(path)


def load_pretrained(cfg, input_shape, num_classes: int, output: str = "logits") -> nn.Module:
    """The teacher a [teacher] section with source != "train" names, in eval mode (not yet checked on data);
    `output`: the task's primary output (a huggingface folder gives "embedding" vectors without a head)."""
    path = Path(cfg.path) if cfg.path else None
    if cfg.source == "onnx":
        model = OnnxTeacher(path)
    elif cfg.source == "torchscript":
        model = ScriptTeacher(path, input_shape)
    elif cfg.source == "safetensors":
        from . import build_model

        model = build_model(cfg, input_shape, num_classes)
        _load_weights(model, path, cfg)
    elif cfg.source == "huggingface":
        from .hf import load_folder

        model = load_folder(cfg, num_classes, output)
    elif cfg.source == "import":
        from . import build_model

        model = build_model(cfg, input_shape, num_classes)
    else:
        raise ValueError(f"teacher source {cfg.source!r} is trained, not loaded")
    if not isinstance(model, nn.Module):
        raise ConfigError("recipe", "teacher.factory", f"returned {type(model).__name__}, not a torch nn.Module",
                          "return the model itself (weights loaded)")
    return model.eval()


def _load_weights(model: nn.Module, path: Path, cfg) -> None:
    from . import read_weights

    state = read_weights(path, "save with safetensors.torch.save_file(model.state_dict(), path)")
    missing, unexpected = _diff(model.state_dict(), state)
    if missing or unexpected:
        what = cfg.factory or f"teacher.arch {cfg.arch!r}"
        raise InputFileError(str(path), f"weights do not fit {what}: missing {missing[:3]}, "
                                        f"unexpected {unexpected[:3]}",
                             "set teacher.arch/channels (or teacher.factory) to the architecture they came from")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:  # same names, other shapes
        raise InputFileError(str(path), f"weights do not fit: {str(exc).splitlines()[-1].strip()[:200]}",
                             "set the teacher's size knobs to those it was trained with") from None


def _diff(expected: dict, got: dict) -> tuple[list, list]:
    return sorted(set(expected) - set(got)), sorted(set(got) - set(expected))


def check_on_data(model: nn.Module, ds, task, where: str, role: str = "teacher", code: bool = False) -> None:
    """A teacher or student must map two test rows to the task's primary output: classify (B, classes),
    lm (B, T, vocabulary), embed (B, D) — a teacher's D then sets the students' width. A loaded teacher
    that fails is a rejected input (exit 3); a model the recipe's factory built (`code`), its code (exit 2)."""
    from ..distill.rows import Rows

    def fail(problem: str, fix: str):
        return ConfigError("recipe", f"{role}.factory", problem, fix) if code else InputFileError(where, problem, fix)

    probe = Rows(ds.x_test).head(2)
    shown = ", ".join(f"{'shape' if len(probe) == 1 else k} {tuple(v.shape)} {str(v.dtype).removeprefix('torch.')}"
                      for k, v in probe.items())
    try:
        # fork_rng: a dropout in train mode draws nothing from the run's RNG
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            out = task.forward(model, probe)
    except Exception as exc:
        if code:
            from .imports import call_failure

            raise fail(*call_failure(f"{where}'s model on a batch of {shown}", exc)) from exc
        raise fail(f"the {role} fails on a batch of {shown}: {str(exc).strip().splitlines()[0][:200]}",
                   f"give a {role} for this data's inputs") from None
    b = len(next(iter(probe.values())))
    want = {"classify": (b, ds.num_classes), "lm": (b, *ds.y_test.shape[1:], ds.num_classes)}.get(task.name)
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if task.name == "embed":
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != b:
            raise fail(f"the {role} returns {got} for a batch of {b}; vectors ({b}, dim) expected",
                       f"give a {role} whose output is one vector per input")
    elif not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
        what = "classes" if task.name == "classify" else "tokens in the vocabulary"
        raise fail(f"the {role} returns {got} for a batch of {b}; logits {want} expected "
                   f"(the data has {ds.num_classes} {what})",
                   f"set data.num_classes, or give a {role} whose output is one logit per class")
