"""What every runner feeds a model: one array per graph input, from the eval set or synthesised.

Shared by the native child, the A/B child and the browser runner, so all three feed a model the
same way (numpy only: the children import no torch).

Dims: `--shape NAME=…` wins; else a dynamic leading dim is the batch and any other dynamic dim is 1.
Values: an input the eval set holds (by graph input name; `x` feeds a single-input model) is taken
from it, rows repeated to the batch; any other input is synthesised — floats N(0, 1), integers and
booleans ones, so token ids and masks stay in range for any vocabulary.
"""

from __future__ import annotations

import numpy as np

EVAL_BATCH = 256  # rows per run when evaluating over the eval set (a fixed leading dim wins)


def dims_for(inp: dict, batch: int, shapes: dict) -> list[int]:
    """Concrete dims of one input (`inp`: {"name", "dtype", "dims"} with None for dynamic)."""
    if inp["name"] in shapes:
        return [int(d) for d in shapes[inp["name"]]]
    return [d if d is not None else (batch if i == 0 else 1) for i, d in enumerate(inp["dims"])]


def synth(dtype: str, dims: list[int], seed: int = 0) -> np.ndarray:
    """A synthetic input: N(0, 1) for floats, ones for integers and booleans."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.floating):
        rng = np.random.default_rng(seed)
        return rng.standard_normal(dims, dtype=np.float32).astype(dtype, copy=False)
    return np.ones(dims, dtype=dtype)


def source_of(inp: dict, inputs: list[dict], arrays) -> str | None:
    """The eval-set array that feeds `inp`: its own name, or `x` for a single-input model; None: synthesised."""
    if inp["name"] in arrays:
        return inp["name"]
    if len(inputs) == 1 and "x" in arrays:
        return "x"
    return None


def feed(inputs: list[dict], batch: int, shapes: dict, arrays=None) -> dict[str, np.ndarray]:
    """One array per input at `batch` rows: eval rows repeated to the batch where the eval set has them."""
    out = {}
    for inp in inputs:
        dims = dims_for(inp, batch, shapes)
        src = source_of(inp, inputs, arrays) if arrays is not None else None
        if src is not None and dims:
            rows = np.asarray(arrays[src])
            out[inp["name"]] = np.resize(rows, (dims[0], *rows.shape[1:])).astype(inp["dtype"], copy=False)
        else:
            out[inp["name"]] = synth(inp["dtype"], dims)
    return out


def batch_of(feeds: dict[str, np.ndarray]) -> int:
    """The batch that actually runs: the leading dim of the first input with one (1 for scalars only)."""
    return next((int(a.shape[0]) for a in feeds.values() if a.ndim), 1)


def eval_batches(inputs: list[dict], arrays, shapes: dict):
    """(rows, feeds) chunks covering the whole eval set, every input fed (synthesised where the set lacks it)."""
    n = eval_rows(inputs, arrays)
    fixed = next((i["dims"][0] for i in inputs if i["dims"] and i["dims"][0] is not None), None)
    step = fixed or EVAL_BATCH
    # per-position references (lm: y, teacher_pred (N, T)) need the output at every position: no cutting
    cut = not any(k in arrays and np.ndim(arrays[k]) == 2 for k in ("y", "teacher_pred"))
    for start in range(0, n, step):
        b = min(step, n - start)
        chunk = {}
        for inp in inputs:
            src = source_of(inp, inputs, arrays)
            if src is not None:
                chunk[inp["name"]] = np.asarray(arrays[src][start:start + b]).astype(inp["dtype"], copy=False)
            else:
                chunk[inp["name"]] = synth(inp["dtype"], dims_for(inp, b, shapes))
        yield b, unpadded(chunk, inputs) if cut else chunk


TOKENS = ("input_ids", "attention_mask", "token_type_ids")  # (batch, sequence) inputs of a text model


def unpadded(chunk: dict, inputs: list[dict]) -> dict:
    """A text model's batch without the trailing columns that are padding in every row: those change nothing
    (masked keys, masked pooling) but cost compute — eval rows padded to 128 tokens hold ~15-token sentences.
    Only where the model's sequence axis is dynamic; other models' batches pass through."""
    mask = chunk.get("attention_mask")
    if mask is None or mask.ndim != 2 or not all(
            i["name"] not in TOKENS or (len(i["dims"]) == 2 and not isinstance(i["dims"][1], int)) for i in inputs):
        return chunk
    used = np.flatnonzero(mask.any(0))
    keep = int(used[-1]) + 1 if len(used) else mask.shape[1]
    if keep == mask.shape[1]:
        return chunk
    return {k: v[:, :keep] if k in TOKENS and v.ndim == 2 else v for k, v in chunk.items()}


def eval_rows(inputs: list[dict], arrays) -> int:
    """Rows of the eval set (the leading dim of the arrays that feed the model)."""
    srcs = [s for s in (source_of(i, inputs, arrays) for i in inputs) if s is not None]
    return int(np.shape(arrays[srcs[0]])[0]) if srcs else 0


def refs_of(inputs: list[dict], arrays) -> dict:
    """The eval set's reference arrays: everything that does not feed the model."""
    used = {source_of(i, inputs, arrays) for i in inputs}
    return {k: np.asarray(arrays[k]) for k in arrays if k not in used}
