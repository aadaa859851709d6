"""What a hostile or curious client can reach on the running page, and what it cannot.

  * files: ``/gradio_api/file=`` serves only files the app put in Gradio's cache; the system's files,
    the app's own source and its checkpoints are refused (4xx, no content), however the path is spelled;
  * errors: an unexpected exception in a handler (or a model loader) reaches the client as a plain
    message with no traceback, no exception text and no filesystem path; a model's "unavailable"
    reason shown on the page has its paths cut too;
  * the API: only the page's named events are listed, direct POSTs cannot skip the queue, malformed
    queue joins are refused without a traceback, and uploads are refused (tests/test_sessions.py).

Paths are sent byte for byte with http.client (httpx would normalise ``../`` away before sending).
"""
from __future__ import annotations

import http.client
import json
import re
import urllib.parse

import gradio as gr
import httpx
from gradio import processing_utils
import pytest

from benchmarks.classroom_load import QueueSession, controls
from playground import session, ui
from playground.ui.guards import UNEXPECTED, no_paths
from tests.test_bad_inputs import assert_human
from tests.test_ui_api import ENDPOINTS, free_port, model_and_tok, server  # noqa: F401  (fixtures)

ROOT = ui.__file__.rsplit("/playground/", 1)[0]
SECRET_DIR = "/srv/secret-models/boom"
HF_CACHE = "/root/.cache/huggingface/hub"


def raw_get(demo, path: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    """One request with ``path`` exactly as given (no normalisation, no re-encoding)."""
    u = urllib.parse.urlsplit(demo.local_url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body is not None else {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# -- files --------------------------------------------------------------------------------------------------------
TRAVERSALS = [
    "../../etc/passwd", "../../../../../../etc/passwd", "/etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%2f..%2f..%2fetc%2fpasswd", "%252e%252e%252fetc%252fpasswd", "....//....//etc/passwd", "..\\..\\etc\\passwd",
    "file:///etc/passwd", "/proc/self/environ", "~/.bashrc", "//etc/passwd",
    "app.py", "./app.py", "playground/ui/app.py", "playground/../app.py", f"{ROOT}/playground/ui/app.py", f"{ROOT}/app.py",
    "assets/model/config.json", "assets/model/model.safetensors", f"{ROOT}/assets/model/config.json",
    f"{ROOT}/assets/model/tokenizer.json", f"{ROOT}/README.md", "/tmp/gradio/../../etc/passwd",
]
# what the refused files hold (a refusal may echo the path asked for, which is not a leak)
LEAKS = [b"root:x:0", b"def build_demo", b"import gradio", b'"n_layer"', b"PATH=", b'"dtype"', b'"vocab"',
         b"# GPT Playground", b"<|endoftext|>"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_files_outside_the_cache_are_refused(server, path):
    demo, _ = server
    for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file/"):
        status, body = raw_get(demo, prefix + path)
        assert 400 <= status < 500, (prefix + path, status, body[:200])
        assert not any(leak in body for leak in LEAKS), (prefix + path, body[:200])


@pytest.mark.parametrize("path", ["/static/../../etc/passwd", "/assets/../../../etc/passwd",
                                  "/gradio_api/static/../../../app.py", "/favicon.ico/../../app.py"])
def test_static_routes_do_not_climb_out(server, path):
    demo, _ = server
    status, body = raw_get(demo, path)
    assert status >= 400 and not any(leak in body for leak in LEAKS), (path, status, body[:200])


def test_the_file_route_does_serve_the_cache_so_the_refusals_mean_something(server):
    """A file in Gradio's cache comes back (the route works). The page itself writes none there (its figures
    are JSON) and refuses uploads, so the file is written by Gradio's own helper, as a component would."""
    demo, _ = server
    base = demo.local_url.rstrip("/")
    path = processing_utils.save_bytes_to_cache(b"hello, cache", "note.txt", cache_dir=demo.GRADIO_CACHE)
    assert httpx.get(base + "/gradio_api/file=" + path).text == "hello, cache"
    r = httpx.post(base + "/gradio_api/upload", files={"files": ("note.txt", b"hello, cache")})
    assert r.status_code == 403


# -- errors ---------------------------------------------------------------------------------------------------------
def no_secrets(*texts) -> None:
    blob = json.dumps(texts, ensure_ascii=False)
    for secret in (SECRET_DIR, "Input/output error", "disk on fire", "Traceback", ROOT, HF_CACHE):
        assert secret not in blob, (secret, blob[:500])


def test_an_unexpected_exception_in_a_handler_reaches_the_client_without_its_text(server, monkeypatch):
    demo, _ = server
    q = QueueSession(demo.local_url)
    assert q.call("step", controls()).ok

    def broken(self):
        raise RuntimeError(f"cannot write {SECRET_DIR}/cache.bin: disk on fire")

    monkeypatch.setattr(session.Session, "step", broken)
    r = q.call("step", controls())
    assert not r.ok and r.kind == "event_failed"
    assert r.error == UNEXPECTED.format(kind="RuntimeError")
    assert_human(r.error)
    no_secrets(r.error, r.logs)
    monkeypatch.undo()
    r = q.call("step", controls())  # the session was not harmed
    assert r.ok and "Step **2** of 2" in r.status


def test_an_exception_gradio_itself_catches_shows_nothing(server, monkeypatch):
    """Outside our handlers (here while Gradio turns an output into JSON) show_error=False sends no text."""
    demo, _ = server
    assert demo.show_error is False
    q = QueueSession(demo.local_url)

    def broken(self, value):
        raise OSError(f"{SECRET_DIR}/style.css: disk on fire")

    monkeypatch.setattr(gr.Markdown, "postprocess", broken)
    r = q.call("step", controls())
    assert not r.ok and r.kind == "event_failed" and r.error is None  # the browser shows a bare "Error"
    no_secrets(r.logs)
    monkeypatch.undo()
    assert q.call("step", controls()).ok


@pytest.fixture(scope="module")
def boom_server(model_and_tok):
    """A page whose second model's loader fails with an error naming a private path."""
    def loader(name):
        if name == "boom":
            raise RuntimeError(f"cannot mmap {SECRET_DIR}/model.bin: Input/output error")
        return model_and_tok

    demo = ui.build_demo(loader, {"shakespeare": None, "boom": None,
                                  "gpt2": f"gpt2 is not in the Hugging Face cache ({HF_CACHE}) and cannot be downloaded"})
    kw = ui.launch_kwargs()
    kw.update(server_port=free_port(), prevent_thread_lock=True, quiet=True)
    demo.launch(**kw)
    yield demo
    demo.close()


def test_a_loader_that_crashes_is_reported_without_its_path(boom_server):
    q = QueueSession(boom_server.local_url)
    assert q.call("step", controls()).ok
    r = q.call("change_model", controls(model_name="boom"))
    assert r.ok and r.data[1]["value"] == "shakespeare"
    (level, message), = r.logs
    assert level == "warning" and message.startswith("boom could not be loaded: Something went wrong on the server")
    no_secrets(message)
    r = q.call("step", controls(model_name="boom"))
    assert not r.ok and r.error == UNEXPECTED.format(kind="RuntimeError")
    no_secrets(r.error)
    r = q.call("step", controls())
    assert r.ok and "Step **2** of 2" in r.status


def test_unavailable_reasons_on_the_page_have_no_paths(boom_server):
    base = boom_server.local_url.rstrip("/")
    config = httpx.get(base + "/config").text
    assert "unavailable here: gpt2" in config and "Hugging Face cache" in config  # the reason is shown...
    no_secrets(config)  # ...without the cache's path
    q = QueueSession(boom_server.local_url)
    r = q.call("change_model", controls(model_name="gpt2"))
    (level, message), = r.logs
    assert "gpt2 is not available" in message
    no_secrets(message)


def test_no_paths_cuts_paths_to_their_last_part():
    assert no_paths("/a/b/model.safetensors is not readable") == "model.safetensors is not readable"
    assert no_paths(f"not in the cache ({HF_CACHE}) now") == "not in the cache (hub) now"
    assert no_paths("see ./x/y.json: bad; ~/m/n too") == "see y.json: bad; n too"
    kept = "openai-community/gpt2 and 2**63 - 1 and top-p 0.9, 1/2"
    assert no_paths(kept) == kept  # Hub ids and arithmetic are not paths


# -- the API --------------------------------------------------------------------------------------------------------
def test_the_api_lists_only_the_page_events(server):
    demo, _ = server
    base = demo.local_url.rstrip("/")
    info = httpx.get(base + "/gradio_api/info").json()
    assert {n.lstrip("/") for n in info["named_endpoints"]} == ENDPOINTS
    assert not info["unnamed_endpoints"]
    config = httpx.get(base + "/config").json()
    backend = {d["api_name"]: d["api_visibility"] for d in config["dependencies"] if d["backend_fn"]}
    assert {n for n, v in backend.items() if v == "public"} == ENDPOINTS
    # the other server functions: gr.Examples filling the prompt, the share link's box shown (not in the API;
    # they run no model)
    assert {n: v for n, v in backend.items() if v != "public"} == {"load_example": "undocumented",
                                                                    "show_link": "private"}


@pytest.mark.parametrize("api", ["step", "run", "load_page", "train", "predict"])
def test_direct_posts_cannot_skip_the_queue(server, api):
    demo, _ = server
    status, body = raw_get(demo, f"/gradio_api/run/{api}", "POST", b'{"data": []}')
    assert status >= 400 and b"Traceback" not in body and b"File \"" not in body


@pytest.mark.parametrize("body", [
    b'{"data": "x", "fn_index": 0, "session_hash": "abc"}', b'{"fn_index": 0}', b"not json",
    b'{"data": [], "fn_index": 99999, "session_hash": "abc"}', b'{"data": [NaN], "fn_index": "x", "session_hash": 5}',
])
def test_malformed_queue_joins_are_refused_without_a_traceback(server, body):
    demo, _ = server
    status, text = raw_get(demo, "/gradio_api/queue/join", "POST", body)
    assert status >= 400
    assert b"Traceback" not in text and b'File "' not in text and not re.search(rb"(/[\w.-]+){3,}\.py", text)


def test_a_join_with_too_few_values_fails_plainly(server):
    demo, _ = server
    q = QueueSession(demo.local_url)
    r = q.call("step", [None, "shakespeare"])
    assert not r.ok
    no_secrets(r.error, r.logs)
