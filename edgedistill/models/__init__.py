"""Teacher/student registry: `MODELS.get(arch)(cfg, input_shape, num_classes) -> nn.Module`.

Filled here, explicitly; factories import torch lazily so recipe validation and
`edgedistill --help` never pay for it. A recipe may instead name its own factory
(`factory = "package.module:function"`, see imports.py); pretrained teachers given as files
load through teachers.py.
"""

from __future__ import annotations

from ..errors import ConfigError, EdgeDistillError
from ..registry import Registry
from .imports import first_line

MODELS: Registry = Registry("model architecture")
# what each built-in family takes: "signal" (L,), "image" (C, H, W), "any"
INPUTS = {"cnn1d": "signal", "textcnn": "signal", "cnn2d": "image", "mlp": "any", "gpt": "signal", "bert": "signal",
          "static": "signal"}
NEEDS_CHANNELS = frozenset({"cnn1d", "cnn2d", "textcnn"})
# where a teacher comes from (teachers.py loads all but "train"); hookless ones give outputs only
TEACHER_SOURCES = ("train", "import", "torchscript", "onnx", "safetensors", "huggingface")
HOOKLESS = frozenset({"onnx", "torchscript"})


def _cnn1d(cfg, input_shape, num_classes):
    from .cnn1d import CNN1d

    return CNN1d(input_shape[-1], num_classes, cfg.channels, cfg.kernel)


def _cnn2d(cfg, input_shape, num_classes):
    from .cnn2d import CNN2d

    return CNN2d(input_shape[0], num_classes, cfg.channels, cfg.kernel)


def _mlp(cfg, input_shape, num_classes):
    from .mlp import MLP

    return MLP(input_shape, num_classes, cfg.width, cfg.depth)


def _textcnn(cfg, input_shape, num_classes):
    from .textcnn import TextCNN

    return TextCNN(num_classes, cfg.channels, cfg.kernel, cfg.width)


def _gpt(cfg, input_shape, num_classes):
    from .gpt import CharGPT

    return CharGPT(cfg.width, cfg.layers, cfg.heads, context=input_shape[-1], vocab=num_classes)


def _bert(cfg, input_shape, num_classes):
    from .hf import build_bert

    return build_bert(cfg, input_shape, num_classes)


def _static(cfg, input_shape, num_classes):
    from .static import build_static

    return build_static(cfg, input_shape, num_classes)


MODELS.register("cnn1d", _cnn1d)
MODELS.register("cnn2d", _cnn2d)
MODELS.register("mlp", _mlp)
MODELS.register("textcnn", _textcnn)
MODELS.register("gpt", _gpt)
MODELS.register("bert", _bert)
MODELS.register("static", _static)  # token table + masked mean: the embed task's static student


def build_model(cfg, input_shape, num_classes):
    """Instantiate `cfg.factory` (an import path) or the built-in family `cfg.arch` (a validated ModelConfig)."""
    role = "teacher" if hasattr(cfg, "source") else "student"
    if cfg.factory:
        from .imports import ImportSpecError, call_factory, call_failure, load_callable

        try:
            fn = load_callable(cfg.factory)
        except ImportSpecError as exc:
            raise ConfigError("recipe", f"{role}.factory", *exc.args) from None
        try:  # the user's code raising is their mistake (exit 2, its first line and file:line), not ours (4)
            model = call_factory(fn, dict(cfg.params), input_shape=tuple(input_shape), num_classes=num_classes)
        except EdgeDistillError:
            raise
        except (Exception, SystemExit) as exc:
            raise ConfigError("recipe", f"{role}.factory", *call_failure(cfg.factory, exc)) from exc
        from torch import nn

        if not isinstance(model, nn.Module):
            raise ConfigError("recipe", f"{role}.factory", f"{cfg.factory} returned {type(model).__name__}, "
                              "not a torch nn.Module", "return the model itself")
        return model
    check_input(cfg.arch, tuple(input_shape), f"{role}.arch")
    _check_size(cfg, tuple(input_shape), num_classes, role)
    return MODELS.get(cfg.arch)(cfg, tuple(input_shape), num_classes)


def _check_size(cfg, input_shape: tuple, num_classes: int, role: str) -> None:
    """Refuse a built-in model whose weights, gradients and two Adam moments (16 bytes a parameter) cannot
    fit in memory, before allocating it: sizes may come from someone else's recipe or run folder
    (`channels = [1e9, 1e9]` was a SIGKILL). Counted on the meta device: nothing allocated, no RNG drawn."""
    import torch

    from ..data.checks import fits_in_memory, recipe_size

    knob = "channels" if cfg.arch in NEEDS_CHANNELS else "width"
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            n = sum(p.numel() for p in MODELS.get(cfg.arch)(cfg, input_shape, num_classes).parameters())
    except RuntimeError as exc:  # "Storage size calculation overflowed": past 2⁶³ bytes
        raise ConfigError("recipe", f"{role}.{knob}", f"a {cfg.arch} this size cannot exist ({first_line(exc)})",
                          "make the model smaller") from None
    fits_in_memory(n * 16, f"a {cfg.arch} of {n:,} parameters (weights, gradients, optimizer state)",
                   recipe_size(f"{role}.{knob}", "make the model smaller"))


def check_input(arch: str, input_shape: tuple, key: str, source: str = "recipe") -> None:
    """ConfigError when a built-in family cannot take the data's input shape (e.g. cnn1d on images)."""
    want = INPUTS.get(arch, "any")
    if (want == "signal" and len(input_shape) != 1) or (want == "image" and len(input_shape) != 3):
        rank = {1: "signal", 3: "image"}.get(len(input_shape))
        fits = sorted(a for a, w in INPUTS.items() if w in ("any", rank))
        shape = "(L,)" if want == "signal" else "(C, H, W)"
        raise ConfigError(source, key, f"{arch} takes inputs of shape {shape}, the data's are {input_shape}",
                          f"use one of: {', '.join(fits)}")


def save_weights(model, path) -> None:
    """state_dict → safetensors (no pickle), written beside and renamed into place."""
    import os
    import tempfile

    from safetensors.torch import save_file

    from ..artifacts import current_umask

    # a temp name of its own: two runs filling one cache entry never write into the same temp file
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=f".{os.path.basename(path)}.",
                               suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp's 0600 → what a plain open() would give
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_weights(path, fix: str) -> dict:
    """A safetensors file → {name: tensor}; one that cannot be read (cut short, not safetensors) is a rejected
    input (exit 3) with `fix`. Never unpickles."""
    from safetensors.torch import load_file

    from ..errors import InputFileError

    try:
        return load_file(str(path))
    except Exception as exc:  # SafetensorError, OSError, ValueError …: the file, not the recipe
        raise InputFileError(str(path), f"not a readable safetensors file ({first_line(exc)})", fix) from None


def count_params(model) -> int:
    """Number of parameters, frozen ones included (an ONNX teacher: the elements of its initializers)."""
    fixed = getattr(model, "param_count", None)
    if fixed is not None:
        return fixed
    return sum(p.numel() for p in model.parameters())


__all__ = ["MODELS", "build_model", "check_input", "count_params", "read_weights", "save_weights"]
