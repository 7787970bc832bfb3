"""The shippable browser bundle of a sentence embedder: model, tokenizer, embed.js and a demo page.

`write_bundle(out, model, tokenizer, sentences)` writes `out/bundle/`:

    embed.js                      the API for apps, an ES module: `await load()`, `await embed(texts)`
    model.onnx  tokenizer.json    the model (input_ids, attention_mask → embedding) and its tokenizer
    sentences.json                {"title", "sentences"}: what the demo searches
    ort.wasm.bundle.min.mjs  ort-wasm-simd-threaded.wasm  tokenizers.min.mjs
                                  the runtime (onnxruntime-web, @huggingface/tokenizers), copied from
                                  devices/browser/node_modules as its package-lock.json pins them
    index.html  demo.js           the demo: semantic search, entirely in the page
    offline/<file>.js             the files above as classic scripts (text as a JS string, bytes as
                                  base64), because a page opened from file:// may load nothing else:
                                  the top of bundle_files/embed.js says why and how
    LICENSE.tokenizers.txt        (onnxruntime-web's MIT notice is in the head of its .mjs)

The folder is built beside its destination and renamed into place, so a reader never sees half a
bundle. Sentences are untrusted text: they are only ever serialised as JSON (ASCII-escaped), never
pasted into HTML, and the page shows them with textContent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from pathlib import Path

from ..artifacts import make_folder, printable, raise_unusable
from ..errors import InputFileError, UsageError
from ..resources import data_dir

FOLDER = "bundle"
FILES = Path(__file__).resolve().parent / "bundle_files"
PAGE_FILES = ("embed.js", "index.html", "demo.js")  # ours, copied as they are
# bundle name → path under devices/browser/node_modules
RUNTIME = {"ort.wasm.bundle.min.mjs": "onnxruntime-web/dist/ort.wasm.bundle.min.mjs",
           "ort-wasm-simd-threaded.wasm": "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
           "tokenizers.min.mjs": "@huggingface/tokenizers/dist/tokenizers.min.mjs"}
LICENSES = {"LICENSE.tokenizers.txt": "@huggingface/tokenizers/LICENSE"}
# what offline/ carries, and how: the files demo.js reads (index.html names each one's script)
OFFLINE_TEXT = ("sentences.json", "tokenizer.json", "embed.js", "tokenizers.min.mjs", "ort.wasm.bundle.min.mjs")
OFFLINE_BYTES = ("ort-wasm-simd-threaded.wasm", "model.onnx")
INT64, FLOAT = 7, 1  # onnx.TensorProto element types


DEMO_SENTENCES = 300  # held-out sentences the demo page searches


def bundle_stage(recipe, trained, artifacts: dict, out: Path, reporter) -> dict | None:
    """`export.bundle`: that exported file, the shipped tokenizer.json and held-out sentences as out/bundle/;
    its receipt with paths relative to the run folder (None when the recipe names no bundle)."""
    from ..errors import ConfigError

    name = recipe.export.bundle
    if not name:
        return None
    art = artifacts.get(name)
    if art is None or not str(name).endswith(".onnx"):
        raise ConfigError(f"recipe {recipe.name}", "export.bundle", f"{name!r} is not an ONNX file this run exports",
                          f"name one of: {', '.join(sorted(n for n in artifacts if n.endswith('.onnx')))}")
    refs = trained.references
    rows = refs["nn_row"] if "nn_row" in refs else slice(None)
    sentences = [str(t) for t in refs["text"][rows][:DEMO_SENTENCES]]
    got = write_bundle(out, art.path, out / "tokenizer.json", sentences, title=f"{recipe.name}: semantic search")
    got.update(path=FOLDER, index=f"{FOLDER}/index.html", model=name)
    reporter.info(f"bundle: {FOLDER}/ ({got['bytes'] / 1e6:.1f} MB: {name}, tokenizer.json, embed.js, index.html "
                  f"searching {len(sentences)} held-out sentences)")
    return got


def write_bundle(out: Path, model: Path, tokenizer: Path, sentences: list[str], title: str = "Semantic search",
                 force: bool = False) -> dict:
    """Write out/bundle/ (model, tokenizer.json, embed.js, demo page, runtime); return its receipt."""
    out, model, tokenizer = Path(out), Path(model), Path(tokenizer)
    dest = out / FOLDER
    if dest.exists() and not force:
        raise UsageError(f"{dest}: a bundle is already there — pass force=True (--force) to replace it")
    _check_sentences(sentences, title)
    max_length = _check_tokenizer(tokenizer)
    _check_model(model)
    runtime = runtime_files()
    out.mkdir(parents=True, exist_ok=True)
    tmp = make_folder(f".{FOLDER}.", out)
    try:
        files = _fill(tmp, model, tokenizer, sentences, title, runtime)
        _install(tmp, dest)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise_unusable(exc, out)
        raise
    return {"path": str(dest), "index": str(dest / "index.html"), "files": files,
            "bytes": sum(f["bytes"] for f in files.values()), "sentences": len(sentences),
            "max_length": max_length}


def runtime_files() -> dict[str, Path]:
    """Bundle name → the installed file, for onnxruntime-web's and tokenizers.js's files (and licences)."""
    browser = data_dir("devices") / "browser"
    found = {name: browser / "node_modules" / rel for name, rel in {**RUNTIME, **LICENSES}.items()}
    gone = [str(p) for p in found.values() if not p.is_file()]
    if gone:  # the checkout's setup, not our bug: exit 2, and the pipeline asks before any training
        from ..errors import ConfigError

        raise ConfigError("recipe", "export.bundle", f"{gone[0]} is missing, so the browser bundle cannot be "
                          "written", f"run `make` (or: cd {browser} && npm ci --no-audit --no-fund), or remove "
                          "export.bundle")
    return found


def _fill(folder: Path, model: Path, tokenizer: Path, sentences: list[str], title: str,
          runtime: dict[str, Path]) -> dict[str, dict]:
    """Write every file of the bundle into `folder`; {relative path: {bytes, sha256}}."""
    data = {name: (FILES / name).read_bytes() for name in PAGE_FILES}
    data["model.onnx"] = model.read_bytes()
    data["tokenizer.json"] = tokenizer.read_bytes()
    data["sentences.json"] = script_json({"title": title, "sentences": list(sentences)}, indent=1).encode("ascii")
    data.update({name: path.read_bytes() for name, path in runtime.items()})
    (folder / "offline").mkdir()
    for name in OFFLINE_TEXT + OFFLINE_BYTES:
        data[f"offline/{name}.js"] = offline_script(name, data[name], text=name in OFFLINE_TEXT)
    files = {}
    for rel in sorted(data):
        (folder / rel).write_bytes(data[rel])
        files[rel] = {"bytes": len(data[rel]), "sha256": hashlib.sha256(data[rel]).hexdigest()}
    return files


def offline_script(name: str, content: bytes, text: bool) -> bytes:
    """A classic script putting one bundle file on globalThis.edgeBundle: {text} (a JS string) or {base64}.

    The name and the text are escaped JS string literals (script_json), so nothing in them can end the
    string or the script."""
    value = {"text": content.decode("utf-8")} if text else {"base64": base64.b64encode(content).decode("ascii")}
    return (f"// {name} as a classic script, for pages opened from file:// (see embed.js). Written by edgedistill.\n"
            f"(globalThis.edgeBundle ??= {{}})[{script_json(name)}] = {script_json(value)};\n").encode("ascii")


def script_json(obj, indent: int | None = None) -> str:
    """JSON that is also safe JS anywhere, even pasted inside a <script> element: ASCII only (no U+2028, no
    lone surrogate reaches a page raw) and no `<` (written \\u003c, so no `</script>` or `<!--`)."""
    # `<` can only occur inside JSON strings, where \u003c means the same character
    return json.dumps(obj, ensure_ascii=True, indent=indent).replace("<", "\\u003c")


def _install(tmp: Path, dest: Path) -> None:
    """Rename the finished folder into place; an old bundle (force) is moved aside first, then deleted."""
    old = None
    if dest.exists():
        old = make_folder(f".{FOLDER}.old.", dest.parent)
        os.replace(dest, old / FOLDER)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _check_sentences(sentences: list[str], title: str) -> None:
    if isinstance(sentences, str) or not sentences or not all(isinstance(s, str) for s in sentences):
        raise UsageError("write_bundle: sentences must be a non-empty list of strings (the demo's search corpus)")
    if not isinstance(title, str):
        raise UsageError("write_bundle: title must be a string")


def _check_tokenizer(path: Path) -> int:
    """truncation.max_length of a tokenizer.json: the length embed.js cuts at, as Python cut the training data."""
    fix = "ship the tokenizer with edgedistill/export/tokenizer.py (it sets truncation at the recipe's max_len)"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(str(path), "no such file", fix) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(str(path), f"not a tokenizer.json ({printable(str(exc))[:120]})", fix) from None
    max_length = (doc.get("truncation") or {}).get("max_length") if isinstance(doc, dict) else None
    if not isinstance(max_length, int) or max_length < 3:
        raise InputFileError(str(path), "truncation.max_length is missing (the page would not know where to cut)",
                             fix)
    return max_length


def _check_model(path: Path) -> None:
    """The model meets embed.js's contract: one file; int64 input_ids and attention_mask, float embedding."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except FileNotFoundError:
        raise InputFileError(str(path), "no such file") from None
    except Exception as exc:  # onnx raises DecodeError, ValueError, … for a file that is not ONNX
        raise InputFileError(str(path), f"not an ONNX model ({printable(str(exc))[:120]})") from None
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer):
        raise InputFileError(str(path), "keeps its weights in external data files; a page loads one file",
                             "export it as a single file (weights under 2 GB)")
    inputs = {v.name: v.type.tensor_type.elem_type for v in proto.graph.input}
    outputs = {v.name: v.type.tensor_type.elem_type for v in proto.graph.output}
    for name, want, have in (("input_ids", INT64, inputs), ("attention_mask", INT64, inputs),
                             ("embedding", FLOAT, outputs)):
        if have.get(name) != want:
            side = "input" if have is inputs else "output"
            raise InputFileError(str(path), f"needs {side} {name!r} of type {onnx.TensorProto.DataType.Name(want)} "
                                 f"(inputs: {sorted(inputs)}, outputs: {sorted(outputs)})",
                                 "export the embed task's model (input_ids, attention_mask → embedding)")
