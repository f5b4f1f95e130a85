"""The README and docs/*.md cannot drift from the code, point nowhere, or speak of history.

What is checked:

1. **README Python snippets.** Every fenced ``python`` block of README.md runs, in a fresh
   process, in a temporary folder that holds a link to ``examples/`` (so files it writes land
   there). Tiny-size rule: every ``size=<number>`` becomes ``size=32`` and every
   ``steps=<number>`` becomes ``steps=2`` before it runs, so a snippet may show a useful size.
2. **README command lines.** Every command in a fenced ``bash`` block (continuation lines
   joined, ``&&`` chains split, comments dropped) and every inline code span that starts with
   ``python -m nst_core`` or ``python app.py``:

   - ``python -m nst_core ...`` runs for real at a tiny size: ``--size N`` -> ``--size 32``,
     ``--min-size N`` -> ``--min-size 32``, ``--steps N`` -> ``--steps 2``,
     ``--budget-seconds N`` -> ``--budget-seconds 2``, and a ``compare`` line without a budget
     in seconds gets ``--budget-seconds 2`` (each method then stops after 2 s of its own work,
     a Deep Image Prior's warm-up included, which would otherwise take its 300 steps); a line
     that asks for ``--help`` runs as is;
   - ``python app.py ...`` runs with ``--help`` only (it would serve forever), and every option
     the line uses must appear in that help;
   - ``pip install -r FILE`` needs FILE to exist, and the README's test command
     (``pip install -r requirements-dev.txt && python -m pytest -q``) must be the one ``.ci/run``
     runs, character for character; the app command is ``pip install -r requirements.txt &&
     python app.py``;
   - ``python -m pytest ...`` is not run again from here (it would run this file);
   - commands of other programs (``git``, ``git-lfs``, ``apt-get``, ``ray``) are deployment steps
     and are not run.
3. **Links.** Every relative link and image in README.md and docs/*.md (outside code) names an
   existing file; a ``#anchor`` (alone or after a ``.md`` file) must be a heading of that page,
   slugged as GitHub does (lowercase, punctuation dropped, spaces to hyphens).
4. **No history.** The pages describe the product as it is, never how the work went. Each
   pattern in :data:`HISTORY` is a phrase of that kind; the words that also have a product
   meaning are matched only in their history sense:

   - ``session``/``issue``/``agent``/``goal`` and ``lent``/``lending``: anywhere, except the
     quoted label of the page's *Share this session* button (:data:`ALLOWED`);
   - ``target`` only as an objective to meet ("the 0.6x target", "target 1 s", "per-step
     target", "the target is met"): a loss's target ("style targets", "the content target",
     "target image") is what the losses are built on and stays allowed;
   - "was/were the default", "the default then", "still meant", "first version", "this task".
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
TIMEOUT = 600

FENCE = re.compile(r"^(\s*)```([\w-]*)\s*$")
HISTORY = [
    re.compile(r"\bsessions?\b", re.I),
    re.compile(r"\bissues?\b", re.I),
    re.compile(r"\bagents?\b", re.I),
    re.compile(r"\bgoals?\b", re.I),
    re.compile(r"\b(lent|lending)\b", re.I),
    re.compile(r"\btargets?\b[^.\n]{0,40}\b(is|are|was|were|not) (met|missed|reached)", re.I),
    re.compile(r"(≤|<=|under|within|of)\s*[\d.]+\s*(x|×|s|%|ms|min|minutes)?\s+targets?\b", re.I),
    re.compile(r"\btargets?\s*[:=(]?\s*(≤|<=|<)?\s*[\d.]+\s*(x|×|s|%|ms|min)\b", re.I),
    re.compile(r"\b(per-step|speed|timing|GPU|performance|[\d.]+-minute|quality)\s+targets?\b",
               re.I),
    re.compile(r"\b(was|were) the default\b", re.I),
    re.compile(r"\bthe default (then|at the time)\b", re.I),
    re.compile(r"\bstill meant\b", re.I),
    re.compile(r"\bfirst version\b", re.I),
    re.compile(r"\bthis task\b", re.I),
]
ALLOWED = ["Share this session"]


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced code block, indented ones included."""
    out, lang, body = [], None, []
    for line in text.splitlines():
        m = FENCE.match(line)
        if m and lang is None:
            lang, body = m.group(2) or "text", []
        elif m:
            out.append((lang, "\n".join(body)))
            lang = None
        elif lang is not None:
            body.append(line)
    return out


def prose(text: str) -> str:
    """The text outside fenced code, HTML comments and inline code spans."""
    out = re.sub(r"<!--.*?-->", "", prose_keep_code(text), flags=re.S)
    return re.sub(r"`[^`\n]*`", "``", out)


def commands(body: str) -> list[str]:
    """The commands of a bash block: continuations joined, comments dropped, && split."""
    joined = re.sub(r"\\\n\s*", " ", body)
    out = []
    for line in joined.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        out += [part.strip() for part in line.split("&&") if part.strip()]
    return out


def inline_commands(text: str) -> list[str]:
    spans = re.findall(r"`([^`\n]+)`", prose_keep_code(text))
    return [s for s in spans if s.startswith(("python -m nst_core", "python app.py"))]


def prose_keep_code(text: str) -> str:
    """The text outside fenced code blocks (inline code spans kept)."""
    kept, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            continue
        kept.append("" if inside else line)
    return "\n".join(kept)


def tiny(command: str) -> str:
    for option, value in (("--size", "32"), ("--min-size", "32"), ("--steps", "2"),
                          ("--budget-seconds", "2")):
        command = re.sub(rf"{option}\s+\d+(\.\d+)?", f"{option} {value}", command)
    if command.startswith("python -m nst_core compare") and "--budget-seconds" not in command:
        command += " --budget-seconds 2"
    return command


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder to run in: examples/ linked in, outputs stay out of the repository."""
    path = tmp_path_factory.mktemp("readme")
    (path / "examples").symlink_to(ROOT / "examples")
    return path


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False")
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)


README_TEXT = README.read_text()
PY_SNIPPETS = [body for lang, body in blocks(README_TEXT) if lang == "python"]
SHELL = [c for lang, body in blocks(README_TEXT) if lang in ("bash", "sh", "shell")
         for c in commands(body)]
NST = [c for c in SHELL + inline_commands(README_TEXT) if c.startswith("python -m nst_core")]
APP = [c for c in SHELL + inline_commands(README_TEXT) if c.startswith("python app.py")]


def test_the_readme_has_snippets_and_commands():
    assert len(PY_SNIPPETS) >= 2 and len(NST) >= 4 and APP


@pytest.mark.parametrize("snippet", PY_SNIPPETS, ids=lambda s: s.splitlines()[0][:40])
def test_python_snippet_runs(snippet, workdir):
    code = re.sub(r"\bsize=\d+", "size=32", snippet)
    code = re.sub(r"\bsteps=\d+", "steps=2", code)
    done = run([sys.executable, "-c", code], workdir)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("command", sorted(set(NST)), ids=lambda c: c[:60])
def test_cli_line_runs(command, workdir):
    argv = shlex.split(command if "--help" in command else tiny(command))
    done = run([sys.executable, *argv[1:]], workdir)
    assert done.returncode == 0, f"{argv}\n{done.stderr[-3000:]}"
    out = re.search(r"--out\s+(\S+)", command)
    if out and "--help" not in command:
        assert (workdir / out.group(1)).exists(), f"{out.group(1)} was not written"


@pytest.mark.parametrize("command", sorted(set(APP)), ids=lambda c: c[:60])
def test_app_line_options_exist(command, workdir):
    done = run([sys.executable, str(ROOT / "app.py"), "--help"], workdir)
    assert done.returncode == 0, done.stderr[-3000:]
    for option in re.findall(r"(--[\w-]+)", command):
        assert option in done.stdout, f"{option} is not an option of app.py"


def test_setup_commands_are_the_ones_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    tests = "pip install -r requirements-dev.txt && python -m pytest -q"
    app = "pip install -r requirements.txt && python app.py"
    assert tests in ci
    first = [body for lang, body in blocks(README_TEXT) if lang == "bash"][0]
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in first.splitlines()]
    assert lines == [app, tests], "the quick start's two commands"
    for command in SHELL:
        if command.startswith("pip install -r"):
            assert (ROOT / command.split()[3]).is_file(), command


def slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found, seen = set(), {}
    for line in prose_keep_code(page.read_text()).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: Path) -> list[str]:
    text = prose(page.read_text())
    return re.findall(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_and_images_resolve(page):
    broken = []
    for target in links(page):
        if re.match(r"^[a-z]+:", target):
            continue  # http(s), mailto: not walked
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.name}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_history_words(page):
    text = page.read_text()
    for allowed in ALLOWED:
        text = text.replace(allowed, "")
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        found += [f"line {number}: {m.group(0)!r}" for rx in HISTORY for m in rx.finditer(line)]
    assert not found, f"{page.name}: " + "; ".join(found)


def test_the_patterns_tell_history_from_product():
    product = ["style targets are computed once", "the content target of a tile",
               "a target image", "Gram targets", "computing the targets in fp32"]
    history = ["the per-step target (0.6x)", "target 1 s", "the 30-minute goal",
               "no GPU was lent", "other agents' test suites", "fp32 was the default",
               "the target is met by bf16 only", "within 60 s target"]
    assert not [s for s in product if any(rx.search(s) for rx in HISTORY)]
    assert all(any(rx.search(s) for rx in HISTORY) for s in history)
