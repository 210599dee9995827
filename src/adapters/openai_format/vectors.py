"""Embedding vectors in OpenAI's base64 form: packed little-endian float32."""

from __future__ import annotations

import base64
import sys
from array import array
from collections.abc import Sequence

_BIG_ENDIAN = sys.byteorder == "big"


def decode_vector(text: str) -> array[float]:
    """Raises ValueError (binascii.Error is one) when `text` is not base64 of whole float32s."""
    vector = array("f")
    vector.frombytes(base64.b64decode(text, validate=True))
    if _BIG_ENDIAN:
        vector.byteswap()
    return vector


def encode_vector(vector: Sequence[float]) -> str:
    # An array('f') read from an upstream is packed as it is, without a copy.
    packed = vector if isinstance(vector, array) and vector.typecode == "f" else array("f", vector)
    if _BIG_ENDIAN:
        packed = array("f", packed)
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")
