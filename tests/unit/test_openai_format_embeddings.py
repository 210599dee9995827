"""The OpenAI wire codec for embeddings requests: the four input shapes, and fields named on error."""

from __future__ import annotations

import pytest

from adapters.openai_format import embedding_request_body, parse_embedding_request
from domain.embeddings import EncodingFormat
from domain.errors import BadRequestError


@pytest.mark.parametrize(
    ("given", "inputs"),
    [
        ("hello", ("hello",)),
        (["a", "b"], ("a", "b")),
        ([1, 2, 3], ((1, 2, 3),)),
        ([[1, 2], [3]], ((1, 2), (3,))),
    ],
)
def test_embedding_input_takes_each_of_its_four_shapes(given: object, inputs: tuple[object, ...]) -> None:
    request = parse_embedding_request({"model": "e", "input": given})

    assert request.inputs == inputs
    assert request.encoding_format is EncodingFormat.FLOAT


def test_an_embedding_request_reads_format_dimensions_user_and_passthrough() -> None:
    request = parse_embedding_request(
        {
            "model": "e",
            "input": "x",
            "encoding_format": "base64",
            "dimensions": 256,
            "user": "u",
            "ttl": 5,
            "z": 1,
        }
    )

    assert request.encoding_format is EncodingFormat.BASE64
    assert (request.dimensions, request.user) == (256, "u")
    assert request.controls == {"ttl": 5}
    assert request.extra_body == {"z": 1}
    assert embedding_request_body(request, model="text-embedding-3-small") == {
        "model": "text-embedding-3-small",
        "input": ["x"],
        "encoding_format": "base64",
        "dimensions": 256,
        "user": "u",
        "z": 1,
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "e"}, "input"),
        ({"model": "e", "input": ""}, "input"),
        ({"model": "e", "input": []}, "input"),
        ({"model": "e", "input": None}, "input"),
        ({"model": "e", "input": {"text": "x"}}, "input"),
        ({"model": "e", "input": ["a", 1]}, "input[1]"),
        ({"model": "e", "input": ["a", ""]}, "input[1]"),
        ({"model": "e", "input": [1, "a"]}, "input[1]"),
        ({"model": "e", "input": [-1]}, "input[0]"),
        ({"model": "e", "input": [True]}, "input[0]"),
        ({"model": "e", "input": [[1], "a"]}, "input[1]"),
        ({"model": "e", "input": [[]]}, "input[0]"),
        ({"model": "e", "input": [[1.5]]}, "input[0][0]"),
        ({"model": "e", "input": [None]}, "input[0]"),
        ({"model": "e", "input": ["a"] * 2049}, "input"),
        ({"model": "e", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"model": "e", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "e", "input": "x", "dimensions": "8"}, "dimensions"),
        ({"input": "x"}, "model"),
        ({"model": "e", "input": "x", "mock_response": ["a"]}, "mock_response[0]"),
    ],
)
def test_an_invalid_embedding_request_is_refused_naming_the_field(body: object, param: str) -> None:
    with pytest.raises(BadRequestError) as raised:
        parse_embedding_request(body)

    assert raised.value.param == param
