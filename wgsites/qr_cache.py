"""QR codes made once per config, not on every `pulumi up`: a cache on the operator's disk.

Making one code is segno's best-mask search (eight masks scored module by module, pure Python):
about 15 ms, most of a 1000-peer program's time when every run made every code again. A config
changes rarely, so its code is kept, keyed and sealed by the stack's secret seed:

- an entry's file name is a keyed BLAKE2b of the config (nothing about the config shows in it),
- its content is the SVG and terminal art in a SecretBox (XSalsa20-Poly1305) whose key is derived
  from the seed: the codes hold the private key, so the disk holds only what the seed opens,
- an entry that does not open (another seed, a torn write, an edit) is made again and replaced;
  one unused for PRUNE_DAYS is removed, so a removed peer's code does not stay.

`WGSITES_QR_CACHE` names the folder (default `$XDG_CACHE_HOME/wgsites/qr`, i.e. ~/.cache/wgsites/qr);
`WGSITES_QR_CACHE=off` makes every code on every run, keeping nothing on disk.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.secret

from .keys import seed_bytes
from .operator_files import check_folder, nearest_folder, write_file
from .qr import qr_code
from .reader import ConfigError

ENVIRONMENT = "WGSITES_QR_CACHE"
PRUNE_DAYS = 30
_BOX_PERSON = b"wgsites-qr-box"  # BLAKE2b personalizations: the box key and the name key differ from every key wgsites makes
_NAME_PERSON = b"wgsites-qr-name"
_pruned: set[Path] = set()  # folders pruned by this process (once per run is enough)
_caches: dict[tuple[Path, str], QrCache] = {}  # qr_forms' caches, by folder and seed


@dataclass(frozen=True)
class QrForms:
    """What the Pulumi layer exports of one code: the SVG and the terminal art."""

    svg: str
    text: str


def made_now(config: str) -> QrForms:
    """CONFIG's code, made here."""
    code = qr_code(config)
    return QrForms(svg=code.svg(), text=code.text())


def cache_folder() -> Path | None:
    """The folder `WGSITES_QR_CACHE` names, or the default one; None when it says `off`."""
    named = os.environ.get(ENVIRONMENT, "")
    if named == "off":
        return None
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wgsites" / "qr"


class QrCache:
    """Codes sealed under one seed, in one folder."""

    def __init__(self, folder: Path, seed: str) -> None:
        raw = seed_bytes(seed)
        self.folder = folder
        self._box = nacl.secret.SecretBox(_derive(raw, _BOX_PERSON))
        self._name_key = _derive(raw, _NAME_PERSON)

    def entry(self, config: str) -> Path:
        digest = nacl.hash.blake2b(config.encode(), key=self._name_key, person=_NAME_PERSON, encoder=nacl.encoding.HexEncoder)
        return self.folder / f"{digest.decode()}.qr"

    def forms(self, config: str) -> QrForms:
        """CONFIG's code: from its entry when that opens to this config's code, else made and stored."""
        self._prune_once()
        path = self.entry(config)
        found = self._read(path, config)
        if found is not None:
            return found
        made = made_now(config)
        self._write(path, config, made)
        return made

    def _read(self, path: Path, config: str) -> QrForms | None:
        try:
            sealed = path.read_bytes()
            document = json.loads(self._box.decrypt(sealed))
            os.utime(path)  # used: kept past the next prune
        except (OSError, ValueError, nacl.exceptions.CryptoError):
            return None
        if not isinstance(document, dict) or document.get("config") != config:
            return None
        svg, text = document.get("svg"), document.get("text")
        return QrForms(svg=svg, text=text) if isinstance(svg, str) and isinstance(text, str) else None

    def _write(self, path: Path, config: str, forms: QrForms) -> None:
        """Best effort: a folder that cannot be written only means the code is made again next run."""
        # UTF-8, not \u escapes: the terminal art is block characters; a third smaller, it opens and parses faster
        text = json.dumps({"config": config, "svg": forms.svg, "text": forms.text}, ensure_ascii=False)
        document = text.encode("utf-8", "surrogatepass")  # as json.loads decodes bytes
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_file(path, self._box.encrypt(document), 0o600, ENVIRONMENT)  # a fresh name, never a planted one
        except (OSError, ConfigError):
            pass

    def _prune_once(self) -> None:
        if self.folder in _pruned:
            return
        _pruned.add(self.folder)
        cutoff = time.time() - PRUNE_DAYS * 86400
        try:
            entries = list(self.folder.glob("*.qr"))
        except OSError:
            return
        for entry in entries:
            try:
                if entry.stat().st_mtime < cutoff:
                    entry.unlink()
            except OSError:
                continue


def check_cache_folder() -> None:
    """ConfigError naming WGSITES_QR_CACHE when its folder (or the one it would be made in) is writable by others:
    they could not read a sealed entry, but could plant links where it is written."""
    folder = cache_folder()
    if folder is not None:
        check_folder(folder if folder.is_dir() else nearest_folder(folder), ENVIRONMENT)


def _derive(seed: bytes, person: bytes) -> bytes:
    return nacl.hash.blake2b(b"", key=seed, person=person, digest_size=32, encoder=nacl.encoding.RawEncoder)


def qr_forms(config: str, seed: str | None) -> QrForms:
    """CONFIG's code, through the cache when there is a seed to seal it with and a folder to keep it in."""
    folder = cache_folder()
    if seed is None or folder is None:
        return made_now(config)
    cache = _caches.get((folder, seed))
    if cache is None:  # one per folder and seed: its keys are derived once, not once per peer
        cache = _caches[(folder, seed)] = QrCache(folder, seed)
    return cache.forms(config)
