"""A response's text with its encoding read from the Content-Type once per distinct header value.

Locust's `FastResponse.text` asks requests' `get_encoding_from_headers` on every response that
has no encoding yet: a header parse per request (about 1 % of the load generator's CPU,
profiled). The answer depends on the Content-Type value alone, and a portal sends a handful of
them, so it is looked up once per value and set on the response before `.text` reads it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from requests.utils import get_encoding_from_headers


@lru_cache(maxsize=64)
def _encoding(content_type: str) -> str | None:
    return get_encoding_from_headers({"content-type": content_type})  # type: ignore[arg-type]


def response_text(resp: Any) -> str | None:
    """`resp.text`, the same string (the encoding requests would name, else Locust's own detection)."""
    if getattr(resp, "encoding", None) is None and resp.headers is not None:
        content_type = resp.headers.get("content-type")
        if content_type:
            encoding = _encoding(content_type)
            if encoding:
                resp.encoding = encoding
    return resp.text  # type: ignore[no-any-return]


def response_json(resp: Any) -> Any:
    """`resp.json()` over `response_text` (what Locust's `FastResponse.json` does over `.text`)."""
    return json.loads(response_text(resp))  # type: ignore[arg-type]
