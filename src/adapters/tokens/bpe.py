"""OpenAI's BPE encodings, built from rank files shipped in this package: no network, no cache directory.

tiktoken's own `get_encoding` downloads the rank files on first use (or reads TIKTOKEN_CACHE_DIR), which
fails on an offline machine; here the files come with the package and their SHA-256 is checked as
tiktoken checks it.
"""

from __future__ import annotations

import binascii
import gzip
import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tiktoken

CL100K_BASE = "cl100k_base"
O200K_BASE = "o200k_base"

_FILES = Path(__file__).parent / "encodings"


@dataclass(frozen=True, slots=True)
class EncodingSpec:
    """What tiktoken_ext.openai_public declares for an encoding (a unit test keeps the two equal)."""

    name: str
    sha256: str
    """Of the uncompressed rank file, as tiktoken expects it."""
    pat_str: str
    special_tokens: dict[str, int]

    @property
    def path(self) -> Path:
        return _FILES / f"{self.name}.tiktoken.gz"


ENDOFTEXT, ENDOFPROMPT = "<|endoftext|>", "<|endofprompt|>"
FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX = "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"

SPECS = {
    CL100K_BASE: EncodingSpec(
        name=CL100K_BASE,
        sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        pat_str=(
            r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
            r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
        ),
        special_tokens={
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        },
    ),
    O200K_BASE: EncodingSpec(
        name=O200K_BASE,
        sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        pat_str="|".join(
            [
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
                r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
                r"""\p{N}{1,3}""",
                r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
                r"""\s*[\r\n]+""",
                r"""\s+(?!\S)""",
                r"""\s+""",
            ]
        ),
        special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
}

_locks = {name: threading.Lock() for name in SPECS}  # one per encoding: loading one never blocks the other
_loaded: dict[str, tiktoken.Encoding] = {}

# OpenAI's own prefixes for the models still on cl100k_base; every newer family (gpt-4o, gpt-4.1, gpt-4.5,
# gpt-5, o1, o3, o4, gpt-oss) and every model we cannot place gets o200k_base, the closest modern choice.
_CL100K_PREFIXES = ("gpt-4-", "gpt-3.5", "gpt-35", "text-embedding-", "davinci-002", "babbage-002")
_CL100K_NAMES = frozenset({"gpt-4"})


@lru_cache(maxsize=4096)
def encoding_name_for_model(model: str) -> str:
    """`openai/gpt-4o` -> o200k_base, `azure/gpt-35-turbo` -> cl100k_base; provider prefixes and the
    `ft:` of fine-tunes are looked through."""
    name = model.rsplit("/", 1)[-1].strip().lower().removeprefix("ft:")
    if name in _CL100K_NAMES or name.startswith(_CL100K_PREFIXES):
        return CL100K_BASE
    return O200K_BASE


def load_encoding(name: str) -> tiktoken.Encoding:
    """The encoding `name` (cl100k_base or o200k_base), built once per process on first use; safe to
    call from any thread. Loading takes a few hundred milliseconds, hence lazily."""
    encoding = _loaded.get(name)
    if encoding is not None:
        return encoding
    with _locks[name]:
        encoding = _loaded.get(name)
        if encoding is None:
            encoding = _build(SPECS[name])
            _loaded[name] = encoding
    return encoding


def _build(spec: EncodingSpec) -> tiktoken.Encoding:
    import tiktoken  # imported on first use: it costs tens of milliseconds at startup otherwise

    data = gzip.decompress(spec.path.read_bytes())
    if hashlib.sha256(data).hexdigest() != spec.sha256:
        raise RuntimeError(f"{spec.path} is corrupt: its SHA-256 does not match {spec.name}'s")
    # Each line is "<base64 token> <rank>"; splitting the whole file at once is 2.5x faster than by line.
    fields = data.split()
    ranks = dict(zip(map(binascii.a2b_base64, fields[::2]), map(int, fields[1::2]), strict=True))
    return tiktoken.Encoding(
        spec.name, pat_str=spec.pat_str, mergeable_ranks=ranks, special_tokens=spec.special_tokens
    )
