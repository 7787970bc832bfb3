"""Transformer fusion: onnxruntime.transformers' BERT optimizer (the maintained successor of
onnxruntime-tools') over an exported fp32 file, kept only when the fused file passes parity.

What fuses on a torch 2.13 dynamo export of a transformers 5.x BertModel (eager attention):
LayerNorm + residual Add → SkipLayerNormalization, bias + erf-GELU → BiasGelu, and Attention (Q/K/V
MatMuls, scaled softmax, mask) once the padding mask is put in a form the optimizer's matcher knows
(`canonical_mask`). EmbedLayerNormalization does not match (position ids come through Slice /
GatherElements) and the embeddings' LayerNormalization stays a standard op.

Fused ops live in the com.microsoft domain: onnxruntime's CPU build runs them, and so does the wasm
build of onnxruntime-web the browser runner uses (1.30 loads and runs the fused MiniLM); runtimes other
than onnxruntime, and onnxruntime builds without contrib ops, cannot. The receipt names the domains the
file needs. Core ML files are converted from torch and never see these ops; files derived by the
quantize stage are made from the unfused graph.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import uses_external_data
from onnx.utils import Extractor

from ..artifacts import current_umask
from ..errors import ParityError
from ..progress import silenced

CONTRIB = "com.microsoft"
MASK = "attention_mask"
# (batch, sequence) masks the rewrite is proven on: right/left padding, holes, a row with no tokens
_PROBES = (np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 1, 0, 1]]), np.array([[1, 1]]),
           np.array([[1] * 7, [0] * 7]))


def fusable(model) -> bool:
    """True for a Hugging Face transformer wrapper (models/hf.py), the only models the BERT optimizer knows."""
    from ..models.hf import TextTransformer

    return isinstance(model, TextTransformer)


def _io(m: onnx.ModelProto) -> list[tuple[str, int]]:
    return [(v.name, v.type.tensor_type.elem_type) for v in (*m.graph.input, *m.graph.output)]


def _additive_masks(m: onnx.ModelProto) -> dict[str, tuple[onnx.NodeProto, list[onnx.NodeProto]]]:
    """Where nodes whose output is added to attention scores just before a Softmax:
    output name → (the Where, the scores' Adds that read it)."""
    made = {o: n for n in m.graph.node for o in n.output}
    found: dict = {}
    for n in m.graph.node:
        add = made.get(n.input[0]) if n.op_type == "Softmax" else None
        for name in add.input if add is not None and add.op_type == "Add" else ():
            if name in made and made[name].op_type == "Where":
                found.setdefault(name, (made[name], []))[1].append(add)
    return found


def _scalar(m: onnx.ModelProto, name: str):
    for i in m.graph.initializer:
        if i.name == name:
            a = numpy_helper.to_array(i)
            return float(a) if a.size == 1 and a.dtype == np.float32 else None
    return None


def _proven(m: onnx.ModelProto, where: onnx.NodeProto, filler: float) -> bool:
    """Run the graph's own mask subgraph on _PROBES: does it equal `0 where mask != 0 else filler`?"""
    import onnxruntime as ort

    try:
        sub = Extractor(m).extract_model([i.name for i in m.graph.input], [where.output[0]])
        sess = ort.InferenceSession(sub.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # a subgraph that does not stand alone is not the plain mask we rewrite
        return False
    wanted = {i.name for i in sess.get_inputs()}
    if wanted - {MASK, "input_ids"}:
        return False
    for mask in _PROBES:
        feed = {MASK: mask.astype(np.int64), "input_ids": np.zeros(mask.shape, np.int64)}
        got = sess.run(None, {k: v for k, v in feed.items() if k in wanted})[0]  # (B, 1, T, T) or (B, 1, 1, T)
        want = np.where(mask[:, None, None, :] != 0, 0.0, filler).astype(np.float32)  # (B, 1, 1, T)
        if got.ndim != 4 or got.shape[-1] != mask.shape[1] or \
                not np.array_equal(got, np.broadcast_to(want, (len(mask), 1, got.shape[2], mask.shape[1]))):
            return False
    return True


def canonical_mask(m: onnx.ModelProto) -> str:
    """Rewrite transformers 5's padding mask `Where(mask[b, k] != 0, 0, min)` (built through GatherND, which
    the optimizer's matcher does not know) into transformers 4's SDPA form, which it does; return what was done.

    The new subgraph (B, T) → (B, 1, 1, T) is `Where(bool(1 - float(mask)), min, 1 - float(mask))`, equal to the
    old one on any 0/1 mask; the rewrite happens only after the old subgraph was run and gave exactly that."""
    masks = _additive_masks(m)
    if not masks or MASK not in {i.name for i in m.graph.input}:
        return "no Where-built additive attention mask: left as exported"
    if len(masks) > 1:
        return f"{len(masks)} different attention masks: left as exported"
    out, (where, adds) = next(iter(masks.items()))
    zero, filler = _scalar(m, where.input[1]), _scalar(m, where.input[2])
    if zero != 0.0 or filler is None or filler >= 0 or not _proven(m, where, filler):
        return "the attention mask is not a plain padding mask: left as exported"
    g, p = m.graph, "canonical_mask_"
    g.initializer.extend([numpy_helper.from_array(np.array(v, dtype), p + k) for k, v, dtype in
                          (("one", 1.0, np.float32), ("filler", filler, np.float32), ("ax1", [1], np.int64),
                           ("ax2", [2], np.int64), ("ones", [1, 1, 1, 1], np.int64))])
    # node chain the matcher follows back from the scores' Add: Where ← Cast ← Sub ← Cast ← Expand ← Unsqueeze²
    chain = [("Unsqueeze", [MASK, p + "ax1"], {}), ("Unsqueeze", [p + "0", p + "ax2"], {}),
             ("Expand", [p + "1", p + "ones"], {}), ("Cast", [p + "2"], {"to": TensorProto.FLOAT}),
             ("Sub", [p + "one", p + "3"], {}), ("Cast", [p + "4"], {"to": TensorProto.BOOL}),
             ("Where", [p + "5", p + "filler", p + "4"], {})]
    nodes = [helper.make_node(op, ins, [p + str(k)], name=p + str(k), **kw) for k, (op, ins, kw) in enumerate(chain)]
    result = nodes[-1].output[0]
    for add in adds:  # only the scores' Adds (B, heads, T, T) read the new mask, which broadcasts to them;
        for k, name in enumerate(add.input):  # ORT prunes the old mask nodes once nothing reads them
            if name == out:
                add.input[k] = result
    rest = list(g.node)
    del g.node[:]
    g.node.extend(nodes + rest)  # the new nodes read graph inputs and initializers only: valid at the top
    return f"transformers 5 padding mask rewritten to the SDPA form (filler {filler:.4g}), proven on " \
           f"{len(_PROBES)} probe masks"


def fuse_transformer(path: Path, heads: int, hidden: int) -> dict:
    """Fuse `path` (BERT-style fp32 ONNX) into a temp file beside it; meta with "path" (None and "why"
    when nothing fused or the optimizer failed), fused-op counts, node counts and the op domains it needs."""
    from onnxruntime import __version__ as ort_version
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    path = Path(path)
    m = onnx.load(str(path))
    before, io = len(m.graph.node), _io(m)
    meta = {"optimizer": f"onnxruntime.transformers {ort_version} (model_type bert, opt_level 0)",
            "nodes": {"before": before}}
    try:
        meta["mask"] = canonical_mask(m)
        options = FusionOptions("bert")
        options.use_raw_attention_mask(True)  # the default 1-D mask index assumes right padding only
        with silenced():  # opt_level 0: ORT's own basic pass first would reshape the graph past the matcher
            opt = optimize_model(m, model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=0,
                                 use_gpu=False, optimization_options=options)
            opt.topological_sort()
            stats = opt.get_fused_operator_statistics()
    except Exception as exc:  # the optimizer's pattern code: a crash means "no fusion", never a failed export
        return {**meta, "path": None, "why": f"onnxruntime.transformers failed: {str(exc).splitlines()[0][:200]}"}
    fused = opt.model
    contrib: dict[str, int] = {}
    for n in fused.graph.node:
        if n.domain == CONTRIB:
            contrib[n.op_type] = contrib.get(n.op_type, 0) + 1
    # the optimizer's own count (its LayerNormalization: standard ops, the export's own) and what it added
    meta.update(optimizer_stats={k: v for k, v in stats.items() if v}, contrib_ops=dict(sorted(contrib.items())),
                domains=sorted({n.domain or "ai.onnx" for n in fused.graph.node}))
    meta["nodes"]["after"] = len(fused.graph.node)
    if why := _refusal(fused, io):
        return {**meta, "path": None, "why": why}
    return {**meta, "path": _write_beside(path, fused)}


def _refusal(fused: onnx.ModelProto, io: list) -> str | None:
    """Why the optimizer's graph cannot stand in for the export (None: it can)."""
    if not any(n.domain == CONTRIB for n in fused.graph.node):
        return "no BERT pattern matched: nothing to fuse"
    if _io(fused) != io:
        return f"the optimizer changed the inputs/outputs {io} → {_io(fused)}"
    if any(uses_external_data(t) for t in fused.graph.initializer):
        return "the optimizer moved weights to external data"
    if CONTRIB not in {o.domain for o in fused.opset_import}:  # ORT adds it only in save_model_to_file
        fused.opset_import.append(helper.make_opsetid(CONTRIB, 1))
    try:
        onnx.checker.check_model(fused)  # com.microsoft ops are not in onnx's schemas: no full_check
    except onnx.checker.ValidationError as exc:
        return f"the fused graph is not valid ONNX: {str(exc).splitlines()[0][:200]}"
    return None


def _write_beside(path: Path, model: onnx.ModelProto) -> Path:
    """`model` as one self-contained hidden temp file in `path`'s folder (so a rename can replace `path`)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.fused.", suffix=".onnx")
    os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; it may become the shipped file
    with os.fdopen(fd, "wb") as fh:
        fh.write(model.SerializeToString())
        fh.flush()
        os.fsync(fh.fileno())
    return Path(tmp)


def fuse_if_parity(path: Path, heads: int, hidden: int, check) -> tuple[dict, dict | None]:
    """Fuse `path` in place when `check(fused path)` (parity.check_file: json, or ParityError) passes.
    Return (receipt meta `{"kept": …, "why": …}` + fusion stats, the fused file's parity json or None)."""
    meta = fuse_transformer(path, heads, hidden)
    tmp = meta.pop("path")
    if tmp is None:
        return {"kept": False, **meta}, None
    try:
        result = check(tmp)
    except ParityError as exc:
        tmp.unlink(missing_ok=True)
        return {"kept": False, "why": f"fused file fails parity: {exc}", **meta}, None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)  # same folder: an atomic swap, readers see either file whole
    return {"kept": True, "why": "fused file passes the preset's parity", **meta}, result


def fuse_export(model, path: Path, meta: dict, check) -> tuple[dict, dict | None]:
    """export_all's step for a transformer's fp32 file: receipt meta with "fusion" (and the fused file's ops
    when kept) and the kept file's parity json (None: the unfused file stays, still to be checked)."""
    from .onnx import describe

    cfg = model.model.config  # 0: the optimizer reads heads / width from the graph's reshapes
    heads, hidden = getattr(cfg, "num_attention_heads", 0), getattr(cfg, "hidden_size", 0)
    fusion, result = fuse_if_parity(path, heads, hidden, check)
    return {**meta, **(describe(path) if result is not None else {}), "fusion": fusion}, result
