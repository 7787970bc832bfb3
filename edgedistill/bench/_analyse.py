"""Child process: check, describe and cost one model file under the parent's memory and time limits.

Run by bench/analysis.py as `python -m edgedistill.bench._analyse` with a JSON spec on stdin
({"model", "format", "batches", "shapes", "rows", "limits"}; rows: the eval set's row dims); prints one JSON object:
  {"format", "inputs": [{"name", "dtype", "dims"}], "outputs": [names], "external_data",
   "costs": {batch: GraphCost wire form | {"error"}}}
or {"error", "cause"} with cause "invalid" (the checker or loader refused it) or "memory".
Imports no torch.
"""

from __future__ import annotations

import json
import sys

from .sandbox import enter, first_line


def describe_onnx(model) -> dict:
    """Graph inputs (initializers excluded) with numpy dtype names and dims (None = dynamic), outputs."""
    import onnx

    inits = {t.name for t in model.graph.initializer}
    inputs = []
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        dtype, dims = None, []
        if inp.type.HasField("tensor_type"):
            tt = inp.type.tensor_type
            try:
                dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name
            except Exception:  # UNDEFINED, string, a type numpy has no name for
                dtype = None
            dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in tt.shape.dim]
        inputs.append({"name": inp.name, "dtype": dtype, "dims": dims})
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    return {"inputs": inputs, "outputs": [o.name for o in model.graph.output], "external_data": external}


def describe_ort(path: str) -> dict:
    """Inputs and outputs of an ORT-format file, read by onnxruntime itself (no ONNX graph to cost)."""
    import onnxruntime as ort

    _ORT = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
            "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(uint8)": "uint8", "tensor(int8)": "int8",
            "tensor(bool)": "bool", "tensor(int16)": "int16", "tensor(uint16)": "uint16"}
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    inputs = [{"name": i.name, "dtype": _ORT.get(i.type),
               "dims": [d if isinstance(d, int) and d > 0 else None for d in i.shape]} for i in sess.get_inputs()]
    return {"inputs": inputs, "outputs": [o.name for o in sess.get_outputs()], "external_data": False}


def analyse(spec: dict) -> dict:
    """Check the file, describe its inputs and outputs, cost it at each requested batch."""
    path = spec["model"]
    if spec["format"] == "ort":
        return {"format": "ort", **describe_ort(path), "costs": {}}
    import onnx

    from .cost import model_cost
    from .shapes import SYMBOLIC_BUDGET_S

    onnx.checker.check_model(path)  # by path: external data locations are checked too, > 2 GB files load
    model = onnx.load(path, load_external_data=False)
    out = {"format": "onnx", **describe_onnx(model), "costs": {}}
    batches = spec.get("batches") or [1]
    # symbolic inference can loop for ever on a broken Loop body: a quarter of the child's time over all
    # batches, so ONNX's inference still runs within the limit instead of the file being refused
    budget = min(SYMBOLIC_BUDGET_S, (spec.get("limits") or {}).get("seconds", 240) / (4 * len(batches)))
    for batch in batches:
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        try:
            out["costs"][str(batch)] = model_cost(copy, int(batch), spec.get("shapes"), budget,
                                                   spec.get("rows")).to_wire()
        except MemoryError:
            raise
        except Exception as exc:  # a graph the cost model cannot walk: cost unavailable, the bench goes on
            out["costs"][str(batch)] = {"error": first_line(exc, 200)}
    return out


_OOM_WORDS = ("memoryerror", "bad_alloc", "failed to allocate", "cannot allocate", "out of memory")


def main() -> int:
    """Analyse, print one JSON line; an error is {"error", "cause"}."""
    spec = enter()
    try:
        print(json.dumps(analyse(spec)), flush=True)
        return 0
    except BaseException as exc:  # noqa: BLE001 — every failure is the file's, reported by the parent
        if isinstance(exc, KeyboardInterrupt):
            raise
        text = first_line(exc)
        oom = isinstance(exc, MemoryError) or any(w in text.lower() for w in _OOM_WORDS)
        print(json.dumps({"error": text, "cause": "memory" if oom else "invalid"}), flush=True)
        return 3


if __name__ == "__main__":
    sys.exit(main())
