"""Serving more than one class: replicas behind HAProxy with cookie-sticky sessions (deploy/).

* The recipe, read: the HAProxy config renders and HAProxy accepts it; the compose file parses and names the
  project's image, its port, the same health check and one server line per app service.
* A tab moved from a replica that stopped (in-process, tiny model): told its session expired, in its page's
  language, and restarted from the prompt and settings its page sent.
* End to end (two ``python app.py`` replicas of the embedded model and HAProxy on loopback, Debian's haproxy
  installed by scripts/test.sh, two browsers in Chromium): each browser stays on one replica through step, back
  and a share link; when one replica is killed the other browser goes on untouched and the moved tabs say
  their session expired and continue, with no error.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Page, expect

from benchmarks.classroom_load import QueueSession, controls
from deploy import replicas
from deploy.replicas import Deployment, compose_files, haproxy_config, torch_threads
from playground import i18n
from playground.ui.sessions import REPLICA_COOKIE
from tests.test_browser import TIMEOUT, chips, shoot, status
from tests.test_sessions import page, warnings
from tests.test_ui_api import model_and_tok  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def haproxy_check(cfg: str, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "haproxy.cfg"
    path.write_text(cfg)
    return subprocess.run([replicas.haproxy_path(), "-c", "-f", str(path)], capture_output=True, text=True)


# -- the recipe, read ------------------------------------------------------------------------------------------
def test_the_haproxy_config_is_valid_and_sticks_by_the_apps_cookie(tmp_path):
    cfg = haproxy_config([("r1", "127.0.0.1:7861"), ("r2", "127.0.0.1:7862"), ("r3", "127.0.0.1:7863")], "127.0.0.1:8080")
    done = haproxy_check(cfg, tmp_path)
    assert done.returncode == 0 and "Configuration file is valid" in done.stdout + done.stderr, done.stderr
    (cookie,) = re.findall(r"^\s+cookie (.+)$", cfg, re.M)
    assert cookie.split()[:3] == [REPLICA_COOKIE, "insert", "nocache"]  # the name sessions.adopt reads...
    assert "indirect" not in cookie  # ...which it can: HAProxy does not take it out of the requests
    servers = re.findall(r"^\s+server (\S+) (\S+) cookie (\S+)$", cfg, re.M)
    assert servers == [("r1", "127.0.0.1:7861", "r1"), ("r2", "127.0.0.1:7862", "r2"), ("r3", "127.0.0.1:7863", "r3")]
    assert re.search(rf"http-check send meth GET uri {re.escape(replicas.HEALTH)}$", cfg, re.M)
    assert re.search(r"^\s+default-server check\b", cfg, re.M) and "option redispatch" in cfg
    with pytest.raises(ValueError, match="distinct names"):
        haproxy_config([("r1", "a:1"), ("r1", "b:2")], ":8080")


def test_torch_threads_share_the_cores_between_queue_slots():
    assert torch_threads(2, cores=2) == 1 and torch_threads(1, cores=2) == 1
    assert torch_threads(4, cores=16) == 2 and torch_threads(2, cores=16) == 4 and torch_threads(8, cores=4) == 1
    assert 'env_number("PLAYGROUND_TORCH_THREADS"' in (ROOT / "app.py").read_text()  # the variable app.py reads


def test_the_compose_recipe_matches_the_image_and_the_haproxy_config(tmp_path):
    """deploy/compose.yaml and haproxy.compose.cfg are what `python -m deploy compose` writes, and agree with
    the Dockerfile (image tag of the README, port) and with each other (services, health check, port)."""
    files = compose_files(2)
    for name, text in files.items():
        assert (DEPLOY / name).read_text() == text, f"deploy/{name} is stale: run python -m deploy compose"
    spec = yaml.safe_load(files["compose.yaml"])
    cfg = files["haproxy.compose.cfg"]
    dockerfile, readme = (ROOT / "Dockerfile").read_text(), (ROOT / "README.md").read_text()
    assert f"docker build -t {replicas.IMAGE} ." in readme
    assert f"EXPOSE {replicas.APP_PORT}" in dockerfile and f"GRADIO_SERVER_PORT={replicas.APP_PORT}" in dockerfile
    assert f"curl -fsS http://127.0.0.1:{replicas.APP_PORT}{replicas.HEALTH} " in dockerfile  # the image's own check
    apps = {k: v for k, v in spec["services"].items() if k != "proxy"}
    assert sorted(apps) == ["app1", "app2"]
    for app in apps.values():
        assert app["image"] == replicas.IMAGE and app["build"] == ".." and (DEPLOY / app["build"] / "Dockerfile").is_file()
        assert app["expose"] == [str(replicas.APP_PORT)] and "ports" not in app  # only HAProxy reaches a replica
        assert app["environment"]["PLAYGROUND_TORCH_THREADS"] == "1"
        test = app["healthcheck"]["test"]
        assert test[:3] == ["CMD", "curl", "-fsS"] and urlsplit(test[3]).path == replicas.HEALTH
        assert urlsplit(test[3]).port == replicas.APP_PORT
        assert 'apt-get install -y --no-install-recommends fonts-wqy-microhei curl' in dockerfile  # curl is in it
    servers = re.findall(r"^\s+server (\S+) (\S+) cookie (\S+)$", cfg, re.M)
    assert servers == [("r1", f"app1:{replicas.APP_PORT}", "r1"), ("r2", f"app2:{replicas.APP_PORT}", "r2")]
    proxy = spec["services"]["proxy"]
    assert proxy["image"].startswith("haproxy:2.")
    assert proxy["depends_on"] == {name: {"condition": "service_healthy"} for name in apps}
    (bind,) = re.findall(r"^\s+bind :(\d+)$", cfg, re.M)
    assert proxy["ports"] == [f"{bind}:{bind}"]
    mount = proxy["volumes"][0].split(":")
    assert (DEPLOY / mount[0]).resolve() == DEPLOY / "haproxy.compose.cfg" and mount[1] == "/usr/local/etc/haproxy/haproxy.cfg"
    done = haproxy_check(cfg, tmp_path)  # the app hosts resolve only inside compose: a warning, not an error
    assert done.returncode == 0 and "Configuration file is valid" in done.stdout + done.stderr, done.stderr


# -- a tab that moved, in-process ------------------------------------------------------------------------------
def moved_tab(demo, lang_query: str = "") -> QueueSession:
    """A tab of a browser that the load balancer sent to another replica: it has the cookie, this server never
    saw its session."""
    http = httpx.Client(timeout=120, cookies={REPLICA_COOKIE: "r9"},
                        headers={"Referer": demo.local_url + lang_query, "Accept-Language": "en-GB,en;q=0.9"})
    return QueueSession(demo.local_url, http=http)


def steps(r) -> int:
    """How many steps the tab's session holds, from its status line ("Step **k** of n")."""
    return int(re.search(r"Step \*\*\d+\*\* of (\d+)", r.status).group(1))


def test_a_moved_tab_is_told_and_restarts_from_its_prompt(model_and_tok, monkeypatch):  # noqa: F811
    """Its first event here is a Step showing step 4, layer 3, head 7 (ranges of its old page: this model has
    one step, 2 layers and 4 heads): it is told once, in its page's language, and starts again from the prompt
    and settings it sent. A tab of this server sending the same values is still refused; a new tab with the
    cookie that opens its page here, and an API client without it, are told nothing."""
    with page(model_and_tok, monkeypatch) as demo:
        prompt = "KING LEAR:\nBlow, winds"
        shown = controls(prompt=prompt, seed=7, view_step=4, view_layer=3, view_head=7)
        en, zh = moved_tab(demo), moved_tab(demo, "?prompt=x&lang=zh")
        r = en.call("step", shown)
        assert r.ok and steps(r) == 1 and r.text.startswith(prompt), (r.error, r.status)
        assert warnings(r) == [i18n.t("session.moved", "en")]
        assert "session expired" in warnings(r)[0] and "restored" in warnings(r)[0]
        r = en.call("step", controls(prompt=prompt, seed=7))
        assert r.ok and steps(r) == 2 and not warnings(r), (r.error, r.logs)
        r = zh.call("resample", shown)  # a slider released
        assert r.ok and warnings(r) == [i18n.t("session.moved", "zh")], r.logs
        known = moved_tab(demo)
        assert known.call("load_page", controls(prompt=prompt, seed=7)).ok  # opened here: not moved
        assert steps(known.call("step", controls(prompt=prompt, seed=7))) == 1
        r = known.call("step", shown)
        assert not r.ok and "greater than maximum" in r.error, r.error  # its own step slider: at most 1
        r = known.call("step", controls(prompt=prompt, seed=7))
        assert r.ok and steps(r) == 2 and not warnings(r)
        api = QueueSession(demo.local_url)  # no cookie: an API client's first event, as before
        r = api.call("step", controls(prompt=prompt, seed=7))
        assert r.ok and steps(r) == 1 and not warnings(r)


# -- end to end: two replicas, HAProxy, two browsers ----------------------------------------------------------
@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    with Deployment(2, log_dir=tmp_path_factory.mktemp("replicas")) as dep:
        yield dep


def new_browser(browser: Browser) -> tuple[BrowserContext, list]:
    """A student's browser (its own cookies) and the (path, replica) of every answer it gets from the proxy."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-US")
    seen: list[tuple[str, str | None]] = []
    ctx.on("response", lambda r: seen.append((urlsplit(r.url).path, r.headers.get("x-playground-replica"))))
    return ctx, seen


def open_page(pg: Page, url: str) -> None:
    pg.goto(url)
    expect(pg.locator("#chips .tok.prompt").first).to_be_visible(timeout=TIMEOUT)


def replica_of(ctx: BrowserContext) -> str:
    (value,) = [c["value"] for c in ctx.cookies() if c["name"] == REPLICA_COOKIE]
    return value


def set_prompt(pg: Page, prompt: str) -> None:
    box = pg.locator("#prompt textarea")
    box.fill(prompt)
    box.press("Enter")
    expect(pg.locator("#text textarea")).to_have_value(prompt, timeout=TIMEOUT)


def step(pg: Page, n_after: int) -> None:
    pg.locator("#step").click()
    expect(chips(pg)).to_have_count(n_after, timeout=TIMEOUT)
    expect(status(pg)).to_contain_text(re.compile(rf"Step \d+ of {n_after}\b"), timeout=TIMEOUT)


def toasts(pg: Page):
    return pg.locator("[data-testid=toast-body]")


def no_error(pg: Page) -> None:
    """One notice and no error: no error toast, no Gradio "Connection errored out"."""
    assert toasts(pg).count() <= 1 and not pg.locator("[data-testid=toast-body].error").count()
    assert not pg.get_by_text("Connection errored").count()


def replicas_seen(seen: list, since: int = 0) -> set:
    return {replica for path, replica in seen[since:] if path.startswith("/gradio_api/")}


def test_two_browsers_stay_on_their_replicas_and_one_survives_the_other_stopping(browser: Browser, deployment):
    dep = deployment
    (ctx_a, seen_a), (ctx_b, seen_b) = new_browser(browser), new_browser(browser)
    try:
        a, b = ctx_a.new_page(), ctx_b.new_page()
        open_page(a, dep.url)
        open_page(b, dep.url)
        ra, rb = replica_of(ctx_a), replica_of(ctx_b)
        assert {ra, rb} == {"r1", "r2"}  # round robin: the second new browser went to the other replica
        set_prompt(a, "JULIET:\nO Romeo")
        set_prompt(b, "KING LEAR:\nBlow, winds")
        for k in range(1, 4):  # the two students click in turn
            step(a, k)
            step(b, k)
        a.locator("#back").click()
        expect(chips(a)).to_have_count(2, timeout=TIMEOUT)
        expect(status(a)).to_contain_text(re.compile(r"Step \d+ of 2\b"), timeout=TIMEOUT)
        text_a, text_b = (p.locator("#text textarea").input_value() for p in (a, b))
        assert text_a.startswith("JULIET:\nO Romeo") and len(text_a) > len("JULIET:\nO Romeo")
        assert text_b.startswith("KING LEAR:\nBlow, winds")

        # A's share link, opened in a second tab of the same browser, in 中文: the same text, on the same replica
        a.locator("#share_btn").click()
        link_box = a.locator("#link textarea, #link input").first
        expect(link_box).to_have_value(re.compile(r"steps=2"), timeout=TIMEOUT)
        link = link_box.input_value()
        assert link.startswith(dep.url + "/?")
        query = {**dict(parse_qsl(urlsplit(link).query)), "lang": "zh"}
        zh = ctx_a.new_page()
        open_page(zh, f"{dep.url}/?{urlencode(query)}")
        expect(chips(zh)).to_have_count(2, timeout=TIMEOUT)
        expect(zh.locator("#text textarea")).to_have_value(text_a, timeout=TIMEOUT)
        expect(status(zh)).to_contain_text("（共 2 步）", timeout=TIMEOUT)

        # every request of a browser reached its replica: the queue joins and their event streams alike
        for seen, replica in ((seen_a, ra), (seen_b, rb)):
            paths = {path for path, _ in seen}
            assert {"/gradio_api/queue/join", "/gradio_api/queue/data"} <= paths
            assert replicas_seen(seen) == {replica}
        assert not toasts(a).count() and not toasts(b).count() and not toasts(zh).count()

        # A's replica stops (a crash): B goes on as if nothing happened
        dep.kill(ra)
        # Playwright hands response events to Python only while it waits: let those of answers sent before the kill
        # arrive, so that what follows the marks is what came after it
        a.wait_for_timeout(500)
        mark_a, mark_b = len(seen_a), len(seen_b)
        step(b, 4)
        assert b.locator("#text textarea").input_value().startswith(text_b) and not toasts(b).count()
        assert replicas_seen(seen_b, mark_b) == {rb}

        # A's tabs move to B's replica: told their session expired, restarted from the page's prompt and settings
        step(a, 1)
        expect(toasts(a).first).to_contain_text("session expired", timeout=TIMEOUT)
        expect(toasts(a).first).to_contain_text("prompt and settings were restored")
        no_error(a)
        expect(a.locator("#text textarea")).to_have_value(re.compile(r"^JULIET:\nO Romeo"))
        shoot(a, "replicas-moved-tab-en")
        zh.locator("#step").click()
        expect(chips(zh)).to_have_count(1, timeout=TIMEOUT)
        expect(toasts(zh).first).to_contain_text("会话已过期", timeout=TIMEOUT)
        no_error(zh)
        shoot(zh, "replicas-moved-tab-zh")
        assert replica_of(ctx_a) == rb and replicas_seen(seen_a, mark_a) == {rb}
        step(a, 2)  # and goes on
        no_error(a)
    finally:
        ctx_a.close()
        ctx_b.close()
