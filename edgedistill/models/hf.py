"""Transformers on token ids: a Hugging Face teacher folder, and the `bert` student built from a config.

Both are wrapped in `TextTransformer`, which a task calls by keyword like any model of named inputs:

    input_ids (B, T) int64, attention_mask (B, T) int64  →  logits (B, C)  or  a vector (B, H) (embed)

(one tensor: the task names it — Task.call files it under "logits" or "embedding" — so the `bert` student,
built without knowing the task, serves classify and embed alike; for embed its head maps H to the teacher's D)

A folder's own sequence-classification head is used when it has one; otherwise the token states
(B, T, H) are pooled (mean over the mask, or [CLS]) and a linear head maps them to the classes.
Layer terms read named tap modules (identity) the wrapper calls only while something hooks them:

    hidden.0   the embedding layer's output (B, T, H)      hidden.k   layer k's output (B, T, H), k = 1 … L
    attention.k   layer k's attention probabilities (B, heads, T, T)

so TinyBERT's hidden-state, embedding and attention losses go through the same hooks, cache and
layer checks as every other feature term, and attention maps come from the model's own outputs
(`output_attentions`), never from patched library code.

Loading is offline and data-only: `local_files_only`, no remote code, safetensors weights
(a `pytorch_model.bin` is a pickle: refused unless the recipe says `trusted = true`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, InputFileError

ATTENTION = "eager"  # the one attention implementation that returns its probabilities (attention terms)


class TextTransformer(nn.Module):
    """A Hugging Face encoder (or sequence classifier) + pooling + optional head, with tap modules."""

    def __init__(self, model: nn.Module, classes: int, pooling: str = "mean", output: str = "logits",
                 normalize: bool = False):
        super().__init__()
        self.model, self.pooling, self.output, self.normalize = model, pooling, output, normalize
        cfg = model.config
        layers, width = cfg.num_hidden_layers, cfg.hidden_size
        own_head = hasattr(model, "classifier")  # *ForSequenceClassification: its head gives the logits
        self.head = nn.Linear(width, classes) if classes and output == "logits" and not own_head else None
        self.hidden = nn.ModuleDict({str(k): nn.Identity() for k in range(layers + 1)})
        self.attention = nn.ModuleDict({str(k): nn.Identity() for k in range(1, layers + 1)})

    @property
    def encoder(self) -> nn.Module:
        """The bare encoder (embeddings + layers), whether or not the folder held a classifier."""
        return getattr(self.model, self.model.base_model_prefix, self.model)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hid = any(m._forward_hooks for m in self.hidden.values())  # taps cost nothing unless hooked
        att = any(m._forward_hooks for m in self.attention.values())
        full, tracing = input_ids.shape[1], torch.jit.is_tracing()
        if not (torch.compiler.is_compiling() or tracing):  # eager only: a graph keeps whatever length it is fed
            used = used_length(attention_mask)
            input_ids, attention_mask = input_ids[:, :used], attention_mask[:, :used]
        # traced for Core ML: transformers builds its padding mask with ops coremltools cannot convert
        # (new_ones); a ready (B, 1, 1, T) additive mask is used as given (-1e4: finite in fp16)
        mask = (1.0 - attention_mask[:, None, None, :].float()) * -1e4 if tracing else attention_mask
        out = self.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True,
                         output_attentions=att, return_dict=True)
        pad = full - input_ids.shape[1]  # taps are given at the data's length, zeros past the cut
        if hid:
            for k, h in enumerate(out.hidden_states):  # L + 1 tensors (B, T, H)
                self.hidden[str(k)](F.pad(h, (0, 0, 0, pad)))
        if att:
            for k, a in enumerate(out.attentions, 1):  # L tensors (B, heads, T, T)
                self.attention[str(k)](F.pad(a, (0, pad, 0, pad)))
        if getattr(out, "logits", None) is not None and self.output == "logits":
            return out.logits
        pooled = pool(out.hidden_states[-1], attention_mask, self.pooling)  # (B, H)
        if self.head is not None:
            pooled = self.head(pooled)
        return F.normalize(pooled, dim=-1) if self.normalize else pooled


def used_length(mask: torch.Tensor) -> int:
    """Columns of a (B, T) attention mask up to the last one any row uses: those after it are padding in every
    row and change nothing (masked keys, masked pooling), so a batch of short texts padded to 128 can run at
    its own longest length."""
    return int(mask.any(0).nonzero().max()) + 1 if mask.any() else mask.shape[1]


def pool(tokens: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """(B, T, H) token states → (B, H): the mean over unmasked tokens, or the first ([CLS]) token."""
    if how == "cls":
        return tokens[:, 0]
    m = mask.unsqueeze(-1).to(tokens.dtype)  # (B, T, 1)
    return (tokens * m).sum(1) / m.sum(1).clamp(min=1e-9)


def sentence_head(folder: Path, pooling: str) -> tuple[str, bool]:
    """(pooling, normalize) of a sentence-transformers folder, read from its modules.json and pooling config
    (data only: the module types are compared as strings, never imported); other folders: (pooling, False).
    all-MiniLM-L6-v2: Transformer → Pooling (mean tokens) → Normalize, so ("mean", True)."""
    modules = _json(folder / "modules.json", list) if (folder / "modules.json").is_file() else []
    normalize = False
    for m in modules:
        module = str(m.get("type", "")) if isinstance(m, dict) else ""
        if module.endswith(".Normalize"):
            normalize = True
        elif module.endswith(".Pooling"):
            conf = _json(folder / str(m.get("path", "")) / "config.json", dict)
            modes = [k for k in ("mean_tokens", "cls_token") if conf.get(f"pooling_mode_{k}")]
            others = [k for k, v in conf.items() if k.startswith("pooling_mode_") and v and k[13:] not in modes]
            if len(modes) != 1 or others:
                raise InputFileError(str(folder / str(m.get("path", "")) / "config.json"),
                                     f"pooling {modes + [k[13:] for k in others]} is not one of mean_tokens, cls_token",
                                     "use a sentence-transformers folder with mean or [CLS] pooling")
            pooling = "mean" if modes == ["mean_tokens"] else "cls"
        elif module and not module.endswith(".Transformer"):
            raise InputFileError(str(folder / "modules.json"), f"module {module!r} is not Transformer, Pooling or "
                                 "Normalize", "use a folder whose modules.json has only those (e.g. all-MiniLM-L6-v2)")
    return pooling, normalize


def _json(path: Path, expected: type):
    try:
        got = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(str(path), f"not readable JSON ({exc.__class__.__name__})", "restore the file") from None
    if not isinstance(got, expected):
        raise InputFileError(str(path), f"a JSON {type(got).__name__}, not a {expected.__name__}", "restore the file")
    return got


def load_folder(cfg, num_classes: int, output: str = "logits") -> TextTransformer:
    """The `teacher.path` folder (config.json + weights) as a TextTransformer in eval mode; `output`
    "embedding": pooled (and normalised) as its sentence-transformers config says, no head."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may reach a hub, whatever the folder's config says
    folder = Path(cfg.path)
    config = _read_config(folder)
    pooling, normalize = sentence_head(folder, cfg.pooling) if output == "embedding" else (cfg.pooling, False)
    safe = (folder / "model.safetensors").is_file() or any(folder.glob("model-*.safetensors"))
    if not safe:
        if not (folder / "pytorch_model.bin").is_file():
            raise InputFileError(str(folder), "no model.safetensors (or pytorch_model.bin) in the folder",
                                 "save the model with save_pretrained(folder)")
        if not cfg.trusted:
            raise ConfigError("recipe", "teacher.trusted", f"{folder} holds only pytorch_model.bin, a pickle that "
                              "can run code when loaded", "convert it to model.safetensors, or set trusted = true "
                              "if you trust its author")
    from transformers import AutoModel, AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    classifier = any(a.endswith("ForSequenceClassification") for a in config.get("architectures") or ())
    auto = AutoModelForSequenceClassification if classifier and output == "logits" else AutoModel
    hf_logging.set_verbosity_error()  # "Some weights were not used …" for a classifier loaded as an encoder
    hf_logging.disable_progress_bar()  # "Loading weights: 100%" on every load: our reporter shows progress
    _check_size(folder, auto, trains=cfg.finetune is not None)
    try:
        model = auto.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False,
                                     use_safetensors=safe, attn_implementation=ATTENTION)
    except Exception as exc:  # a broken config or weights: the folder, not our code
        raise InputFileError(str(folder), f"not a loadable Hugging Face model ({str(exc).splitlines()[0][:200]})",
                             "check config.json and the weights file (save_pretrained writes both)") from None
    labels = getattr(model.config, "num_labels", 0) if classifier else 0
    if classifier and labels != num_classes:
        raise InputFileError(str(folder), f"its classifier has {labels} labels, the data {num_classes} classes",
                             "give a folder fine-tuned on these classes, or its encoder with [teacher.finetune]")
    return TextTransformer(model, num_classes, pooling, output, normalize).eval()


def _check_size(folder: Path, auto, trains: bool) -> None:
    """Refuse a config.json whose model cannot fit in memory before allocating it: a folder may come from
    anyone, and `hidden_size = 10**6` would be a SIGKILL. Counted on torch's meta device, as built-in families
    are (models/__init__.py): 4 bytes a parameter to run it, 16 to fine-tune it (gradients, Adam state)."""
    from transformers import AutoConfig

    from ..data.checks import fits_in_memory

    try:
        config = AutoConfig.from_pretrained(str(folder), local_files_only=True, trust_remote_code=False)
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            n = sum(p.numel() for p in auto.from_config(config, attn_implementation=ATTENTION).parameters())
    except Exception as exc:  # a config transformers cannot build: the folder, not our code
        raise InputFileError(str(folder / "config.json"), f"not a buildable model config "
                             f"({str(exc).splitlines()[0][:200]})", "restore the model's own config.json") from None
    fits_in_memory(n * (16 if trains else 4), f"a model of {n:,} parameters",
                   lambda problem: InputFileError(str(folder / "config.json"), problem,
                                                  "give a model folder that fits this machine"))


def _read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not folder.is_dir():
        raise InputFileError(str(folder), "not a folder", "teacher.path names a save_pretrained folder")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(str(path), "missing", "a Hugging Face model folder has config.json") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputFileError(str(path), f"not JSON ({exc.__class__.__name__})", "restore the file") from None
    if not isinstance(config, dict) or "model_type" not in config:
        raise InputFileError(str(path), "no model_type", "a transformers config.json names its model_type")
    if config.get("auto_map"):
        raise InputFileError(str(path), "auto_map names custom model code, which edgedistill never runs",
                             "use a folder of a built-in transformers architecture")
    return config


def build_bert(cfg, input_shape: tuple, num_classes: int, output: str = "logits") -> TextTransformer:
    """The `bert` student family: a BERT encoder of the recipe's size over the tokenizer's vocabulary."""
    from transformers import BertConfig, BertModel

    if not cfg.vocab:
        raise ConfigError("recipe", "student.vocab", "the bert family needs the tokenizer's vocabulary size",
                          "set data.tokenizer (or a huggingface teacher), or student.vocab")
    config = BertConfig(vocab_size=cfg.vocab, hidden_size=cfg.width, num_hidden_layers=cfg.layers,
                        num_attention_heads=cfg.heads, intermediate_size=cfg.intermediate or 4 * cfg.width,
                        max_position_embeddings=input_shape[-1], attn_implementation=ATTENTION)
    return TextTransformer(BertModel(config, add_pooling_layer=False), num_classes, cfg.pooling, output)
