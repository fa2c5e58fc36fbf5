"""The QR code cache: a code is made once per config, kept sealed by the stack's seed, and never trusted blindly."""

from __future__ import annotations

import os
import stat
import time

import pytest

import wgsites.qr_cache as qr_cache
from wgsites.keys import generate_private_key
from wgsites.qr import qr_code
from wgsites.qr_cache import PRUNE_DAYS, QrCache, qr_forms

SEED = "c2VlZCBvZiB0aGUgd2dzaXRlcyBxciBjYWNoZSB0ZXN0cy4="  # 35 bytes, base64
OTHER_SEED = "YW5vdGhlciBzZWVkIG9mIHRoZSBxciBjYWNoZSB0ZXN0cw=="


def config_with_key() -> tuple[str, str]:
    key = generate_private_key()
    return f"[Interface]\nPrivateKey = {key}\nAddress = 10.99.0.10/24\n", key


@pytest.fixture
def made(monkeypatch) -> list[str]:
    """Every config a code was made for (not read back), in order."""
    calls: list[str] = []
    real = qr_cache.qr_code

    def counting(config: str):
        calls.append(config)
        return real(config)

    monkeypatch.setattr(qr_cache, "qr_code", counting)
    return calls


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("WGSITES_QR_CACHE", str(tmp_path / "qr"))
    monkeypatch.setattr(qr_cache, "_pruned", set())
    return tmp_path / "qr"


def test_a_code_is_made_once_and_read_back_the_same_as_segno_makes_it(folder, made):
    config, _ = config_with_key()
    first = qr_forms(config, SEED)
    again = qr_forms(config, SEED)
    assert made == [config]  # the second came from the cache
    fresh = qr_code(config)
    assert first == again
    assert again.svg == fresh.svg() and again.text == fresh.text()


def test_a_changed_config_gets_its_own_code(folder, made):
    config, _ = config_with_key()
    changed = config.replace("10.99.0.10", "10.99.0.11")
    assert qr_forms(config, SEED) != qr_forms(changed, SEED)
    assert made == [config, changed]
    assert len(list(folder.glob("*.qr"))) == 2


def test_the_disk_holds_neither_the_key_nor_the_config_and_only_the_owner_reads_it(folder):
    config, key = config_with_key()
    qr_forms(config, SEED)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    entries = list(folder.iterdir())
    assert len(entries) == 1 and entries[0].suffix == ".qr"  # no temporary file left behind
    sealed = entries[0].read_bytes()
    assert stat.S_IMODE(entries[0].stat().st_mode) == 0o600
    for plain in (key, config, "PrivateKey", "<svg", "10.99.0.10"):
        assert plain.encode() not in sealed
    assert key[:20] not in entries[0].name and "10.99" not in entries[0].name


def test_another_seed_neither_finds_nor_opens_the_entry(folder, made):
    config, _ = config_with_key()
    qr_forms(config, SEED)
    mine, theirs = QrCache(folder, SEED), QrCache(folder, OTHER_SEED)
    assert mine.entry(config) != theirs.entry(config)
    # even placed where the other seed looks, the sealed entry does not open: the code is made again
    mine.entry(config).rename(theirs.entry(config))
    assert theirs.forms(config).svg == qr_code(config).svg()
    assert made == [config, config]


def test_a_tampered_or_torn_entry_is_made_again_and_replaced(folder, made):
    config, _ = config_with_key()
    qr_forms(config, SEED)
    entry = QrCache(folder, SEED).entry(config)
    sealed = bytearray(entry.read_bytes())
    sealed[40] ^= 0x01
    entry.write_bytes(bytes(sealed))
    assert qr_forms(config, SEED).text == qr_code(config).text()
    entry.write_bytes(entry.read_bytes()[:30])  # a write cut short
    assert qr_forms(config, SEED).svg == qr_code(config).svg()
    assert made == [config, config, config]
    qr_forms(config, SEED)
    assert made == [config, config, config]  # replaced by a good one, read back from now on


def test_off_keeps_nothing_on_disk(tmp_path, monkeypatch, made):
    monkeypatch.setenv("WGSITES_QR_CACHE", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config, _ = config_with_key()
    qr_forms(config, SEED)
    qr_forms(config, SEED)
    assert made == [config, config]
    assert list(tmp_path.iterdir()) == []


def test_no_seed_makes_the_code_every_time(folder, made):
    config, _ = config_with_key()
    qr_forms(config, None)
    qr_forms(config, None)
    assert made == [config, config] and not folder.exists()


def test_an_entry_unused_for_the_prune_period_is_removed_and_a_used_one_stays(folder, monkeypatch):
    old_config, _ = config_with_key()
    used_config, _ = config_with_key()
    qr_forms(old_config, SEED)
    qr_forms(used_config, SEED)
    cache = QrCache(folder, SEED)
    long_ago = time.time() - (PRUNE_DAYS + 1) * 86400
    for config in (old_config, used_config):
        os.utime(cache.entry(config), (long_ago, long_ago))
    qr_forms(used_config, SEED)  # read back (touched), but this process pruned already
    assert cache.entry(old_config).exists()
    monkeypatch.setattr(qr_cache, "_pruned", set())  # the next run
    qr_forms(used_config, SEED)
    assert not cache.entry(old_config).exists() and cache.entry(used_config).exists()


def test_the_default_folder_is_under_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("WGSITES_QR_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert qr_cache.cache_folder() == tmp_path / "wgsites" / "qr"
