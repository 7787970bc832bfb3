"""Headless Debian Chromium driven by Playwright, and the loopback server for the runner's page.

Nothing here downloads a browser: Playwright (its driver ships in the wheel) launches the
system's /usr/bin/chromium (`apt-get install -y chromium`), with a fresh temporary profile,
no background networking and no component updates. The page, onnxruntime-web's files (from
`npm ci` in devices/browser) and the blobs to measure are served by a stdlib HTTP server on
127.0.0.1 at an ephemeral port.
"""

from __future__ import annotations

import os
import tempfile
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..errors import StageError
from ..resources import data_dir

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 # performance.memory is bucketed (coarse, delayed) without it; we read the JS heap from it
                 "--enable-precise-memory-info"]
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
         ".wasm": "application/wasm", ".json": "application/json"}
INSTALL_CHROMIUM = "install it: apt-get install -y chromium (as root; `make test` does this)"


def page_dir() -> Path:
    """devices/browser: index.html, bench.js, text.js, package.json, package-lock.json (and node_modules)."""
    return data_dir("devices") / "browser"


def ort_dist() -> Path:
    """onnxruntime-web's dist folder, installed by `npm ci` from the committed package-lock.json."""
    dist = page_dir() / "node_modules" / "onnxruntime-web" / "dist"
    if not (dist / "ort.wasm.min.mjs").is_file():
        raise StageError(f"onnxruntime-web is not installed in {page_dir()} — run: "
                         f"cd {page_dir()} && npm ci --no-audit --no-fund")
    return dist


def tokenizers_dist() -> Path:
    """@huggingface/tokenizers' dist folder (text models are tokenised in the page), installed by `npm ci`."""
    dist = page_dir() / "node_modules" / "@huggingface" / "tokenizers" / "dist"
    if not (dist / "tokenizers.mjs").is_file():
        raise StageError(f"@huggingface/tokenizers is not installed in {page_dir()} — run: "
                         f"cd {page_dir()} && npm ci --no-audit --no-fund")
    return dist


def chromium_path() -> Path:
    """The system Chromium ($EDGEDISTILL_CHROMIUM overrides /usr/bin/chromium); never a downloaded one."""
    path = Path(os.environ.get("EDGEDISTILL_CHROMIUM", CHROMIUM))
    if not path.is_file():
        raise StageError(f"Chromium not found at {path} — {INSTALL_CHROMIUM}")
    return path


def missing() -> str | None:
    """Why the browser runner cannot run here (None when it can): Chromium, Playwright or npm packages."""
    try:
        chromium_path()
        ort_dist()
        import playwright.sync_api  # noqa: F401
    except StageError as exc:
        return str(exc)
    except ImportError:
        return "the playwright Python package is missing — pip install -e . (it is a dependency)"
    return None


MAX_POST_BYTES = 2**31  # one eval batch's output, POSTed back by the page


def _handler(blobs: dict[str, bytes], isolated: bool, posted: dict | None = None):
    """A request handler serving the page, onnxruntime-web's dist files and in-memory blobs, and taking the
    page's POSTs of outputs into `posted` (batch index → (dtype, dims, raw bytes))."""
    static = {"/": page_dir() / "index.html", "/index.html": page_dir() / "index.html",
              "/bench.js": page_dir() / "bench.js", "/text.js": page_dir() / "text.js"}
    dist = ort_dist()
    static.update({f"/ort/{p.name}": p for p in dist.iterdir() if p.is_file()})  # no path traversal
    tok = page_dir() / "node_modules" / "@huggingface" / "tokenizers" / "dist"  # text.js imports it
    if tok.is_dir():
        static.update({f"/tokenizers/{p.name}": p for p in tok.iterdir() if p.is_file()})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path in blobs:
                body, ctype = blobs[path], "application/octet-stream"
            elif path in static:
                body, ctype = static[path].read_bytes(), TYPES.get(static[path].suffix, "application/octet-stream")
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")  # session_create_ms always includes the fetch
            if isolated:  # cross-origin isolation: SharedArrayBuffer, wasm threads, 5 µs timers
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
                self.send_header("Cross-Origin-Resource-Policy", "same-origin")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            try:
                k = int(self.path.split("?", 1)[0].removeprefix("/outputs/"))
                dims = [int(d) for d in self.headers.get("X-Dims", "").split(",") if d != ""]
                dtype = ORT_WEB_NUMPY[self.headers.get("X-Dtype", "")]
                size = int(self.headers.get("Content-Length", "-1"))
            except (ValueError, KeyError):
                self.send_error(400)
                return
            if posted is None or not 0 <= size <= MAX_POST_BYTES:
                self.send_error(413 if posted is not None else 404)
                return
            posted[k] = (dtype, dims, self.rfile.read(size))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):  # quiet: one line per request would drown the progress bar
            pass

    return Handler


# onnxruntime-web tensor type → numpy dtype of the bytes the page POSTs (bool as Uint8Array)
ORT_WEB_NUMPY = {"float32": "float32", "float64": "float64", "float16": "float16", "int64": "int64",
                 "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8", "uint16": "uint16",
                 "uint32": "uint32", "uint64": "uint64", "bool": "bool"}


@contextmanager
def serve(blobs: dict[str, bytes], isolated: bool, posted: dict | None = None):
    """Serve the page and `blobs` (URL path → bytes) on 127.0.0.1:<ephemeral>, collecting POSTed outputs in
    `posted`; yields the base URL."""
    with serving(_handler(blobs, isolated, posted)) as url:
        yield url


@contextmanager
def serving(handler):
    """An HTTP server on 127.0.0.1:<ephemeral> answering with `handler` (a request-handler class), in a daemon
    thread; yields its base URL and stops it on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="edgedistill-page", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def open_page(url: str, cpu_throttle: float = 1.0, ready_timeout_s: float = 60):
    """A fresh headless Chromium showing `url` once its module reports ready; yields (page, errors)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with tempfile.TemporaryDirectory(prefix="edgedistill-chromium-") as profile, sync_playwright() as pw:
        try:
            # 120 s: a loaded 2-core CI machine can take far longer than Playwright's default 30 s to start it
            ctx = pw.chromium.launch_persistent_context(profile, executable_path=str(exe), headless=True,
                                                        args=CHROMIUM_ARGS, timeout=120_000)
        except PlaywrightError as exc:  # the host's browser, not the model: a status, never a crash of the run
            from .outcome import NotRunnable

            raise NotRunnable(f"not runnable on this host: Chromium at {exe} did not start: "
                              f"{first_line(exc.message)}") from None
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            if cpu_throttle > 1:  # DevTools CPU throttling: the renderer runs `rate`× slower (Lighthouse: 4×)
                ctx.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": cpu_throttle})
            page.goto(url)
            try:
                page.wait_for_function("() => window.edgeReady === true", timeout=ready_timeout_s * 1000)
            except PlaywrightError:
                raise StageError(f"the benchmark page at {url} did not load: "
                                 f"{first_line(errors[0]) if errors else 'no error reported'}") from None
            yield page, errors
        finally:
            ctx.close()


def first_line(message: str) -> str:
    """The first informative line of a browser/Playwright error message, without its 'Error: ' prefix."""
    for line in str(message).splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("Error: ")[:300]
    return "no message"
