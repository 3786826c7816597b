"""The compiled-code cache of playbook texts and expressions (playbook/codecache.py): a warm
load compiles nothing and behaves the same; the key follows the sandbox's code; a tampered,
foreign or shared cache file is never used."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pytest

from playbook import budget, codecache
from playbook.errors import PlaybookError
from playbook.expressions import GuardedSandbox, compile_expression, compile_template
from playbook.loader import load_playbook
from playbook.probe import probe_playbook

DEFAULT = Path(__file__).resolve().parents[2] / "playbook" / "default" / "playbook.yaml"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "playbooks"
PACKAGE = Path(codecache.__file__).resolve().parent

HOSTILE = """\
playbook: {id: hostile, version: "1", default_locale: nl, timezone: Europe/Amsterdam}
incident_types:
  t: {label: {nl: T}}
rules:
  - id: opblazen
    select: "([('a'*10000)]*10000)|join|length > 0"
    role: affected
    tasks: [t1]
tasks:
  t1: {title: {nl: Een}, due: 1h}
templates:
  groet:
    sms:
      nl: "{% for a in ('x'*10000)|list %}{% for b in ('x'*10000)|list %}{% endfor %}{% endfor %}"
"""


def _fresh_process() -> None:
    """What a new process starts with: no compiled text or expression in memory."""
    codecache.reset()
    compile_template.cache_clear()
    compile_expression.cache_clear()


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty cache folder for this test; the file the cache writes there."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(codecache.FOLDER, raising=False)
    monkeypatch.delenv(codecache.DISABLE, raising=False)
    _fresh_process()
    yield tmp_path / "cache" / "verbinder" / f"code-{codecache.code_key()[:32]}.bin"
    _fresh_process()


def _rendered(path: Path) -> list[str]:
    playbook = load_playbook(path)
    assert probe_playbook(playbook, str(path)) == []
    return [f"{sorted(t.uses)}|{t.template().render(community={'name': 'X'}, incident={})}"
            for template in playbook.templates.values() for t in template.sms.values()]


def test_a_warm_load_compiles_nothing_and_renders_the_same(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = _rendered(DEFAULT)
    assert cache.is_file()
    _fresh_process()
    monkeypatch.setattr(GuardedSandbox, "_generate", _refuse)
    monkeypatch.setattr(GuardedSandbox, "_parse", _refuse)
    assert _rendered(DEFAULT) == cold


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("compiled although the cache holds it")


def test_the_file_is_private(cache: Path) -> None:
    load_playbook(DEFAULT)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700


def test_budgets_apply_to_cached_code_and_problems_stay_located(
        cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stopped clock: the template's loops must trip the step count in cached code as in
    # fresh code, never the wall-clock backstop that a loaded machine reaches first.
    monkeypatch.setattr(budget, "time", SimpleNamespace(monotonic=lambda: 0.0))
    path = tmp_path / "playbook.yaml"
    path.write_text(HOSTILE, encoding="utf-8")
    cold = probe_playbook(load_playbook(path), str(path))
    assert {p.line for p in cold} == {6, 14} and all("budget" in p.message for p in cold)
    assert "steps" in cold[1].message
    _fresh_process()
    assert probe_playbook(load_playbook(path), str(path)) == cold


@pytest.mark.parametrize("name", ["broken_structure.yaml", "broken_rules.yaml"])
def test_a_broken_playbook_reports_the_same_problems_warm(cache: Path, name: str) -> None:
    def problems() -> list[str]:
        with pytest.raises(PlaybookError) as err:
            load_playbook(FIXTURES / name)
        return [str(p) for p in err.value.problems]

    cold = problems()
    _fresh_process()
    assert problems() == cold


def _tamper_payload(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))


def _share(path: Path) -> None:
    path.chmod(0o664)


def _foreign_key(path: Path) -> None:
    """A valid file of another code key put under this key's name."""
    data = path.read_bytes()
    path.write_bytes(data.replace(codecache.code_key().encode(), b"0" * 64, 1))


def _symlink(path: Path) -> None:
    target = path.with_name("elsewhere.bin")
    path.rename(target)
    path.symlink_to(target)


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage")


@pytest.mark.parametrize("spoil", [_tamper_payload, _share, _foreign_key, _symlink, _garbage])
def test_a_spoilt_file_is_ignored_and_replaced(cache: Path, spoil, monkeypatch) -> None:
    load_playbook(DEFAULT)
    spoil(cache)
    _fresh_process()
    compiled: list[str] = []
    original = GuardedSandbox._generate

    def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        compiled.append("x")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(GuardedSandbox, "_generate", counting)
    load_playbook(DEFAULT)
    assert compiled, "the spoilt file was used"
    assert not cache.is_symlink() and stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert codecache._read(cache, codecache.code_key()), "a good file was written back"


def test_an_entry_is_found_only_by_its_own_source(cache: Path) -> None:
    load_playbook(DEFAULT)
    _fresh_process()
    kept = codecache.current()
    assert kept.get("expr", 'community.kind == "faith"') is not None
    assert kept.get("expr", 'community.kind == "faith" ') is None
    assert kept.get("text", 'community.kind == "faith"') is None


def test_the_key_follows_the_sandbox_source_and_jinja(tmp_path: Path) -> None:
    copy = tmp_path / "playbook"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "default"))
    assert codecache.key_of(copy, jinja2.__version__) == codecache.code_key()
    budget = copy / "budget.py"
    budget.write_text(budget.read_text(encoding="utf-8").replace("max_size", "max_size ", 1),
                      encoding="utf-8")
    assert codecache.key_of(copy, jinja2.__version__) != codecache.code_key()
    assert codecache.key_of(PACKAGE, "9.9.9") != codecache.code_key()


def test_the_cache_can_be_turned_off(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(codecache.DISABLE, "off")
    _fresh_process()
    load_playbook(DEFAULT)
    assert not cache.parent.exists()


def test_a_folder_others_may_write_gets_no_file(cache: Path) -> None:
    cache.parent.mkdir(parents=True)
    os.chmod(cache.parent, 0o777)
    load_playbook(DEFAULT)
    assert not cache.exists()


def test_a_chosen_folder_comes_before_the_user_s_cache_folder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv(codecache.FOLDER, str(tmp_path / "chosen"))
    monkeypatch.delenv(codecache.DISABLE, raising=False)
    assert codecache.cache_folder() == tmp_path / "chosen"
    monkeypatch.delenv(codecache.FOLDER)
    assert codecache.cache_folder() == tmp_path / "xdg" / "verbinder"


def test_without_a_home_folder_there_is_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(codecache.FOLDER, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv(codecache.DISABLE, raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert codecache.cache_folder() is None
    _fresh_process()
    try:
        load_playbook(DEFAULT)  # compiles, keeps nothing, no error
    finally:
        _fresh_process()


def test_threads_loading_at_once_leave_one_good_file(cache: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: load_playbook(DEFAULT).digest, range(8)))
    assert len(set(loaded)) == 1
    assert len(codecache._read(cache, codecache.code_key())) >= 100
