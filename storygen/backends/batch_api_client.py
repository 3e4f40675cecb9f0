"""The provider's Batch API through the openai SDK: upload, create, find, poll, download.

Only this module speaks HTTP for batches; errors come back as storygen's own, with the
key masked, like the live backend's.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any

import openai
from openai.types import Batch

from storygen.backends.config import OPENAI_URL, BackendConfig
from storygen.core.errors import PermanentError, TransientError
from storygen.core.secrets import masked

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
TOKEN_KEY = "storygen_token"  # batch metadata: which submission of ours a batch is


class BatchClient:
    def __init__(self, config: BackendConfig) -> None:
        keys = config.key_values()
        if not keys:
            raise PermanentError("no API key for the Batch API: set OPENAI_API_KEY")
        self._keys = keys
        self.base_url = (config.base_url or OPENAI_URL).rstrip("/")
        self._client = openai.OpenAI(
            api_key=keys[0], base_url=self.base_url, timeout=config.timeout_s, max_retries=3
        )

    def _error(self, exc: openai.OpenAIError) -> Exception:
        text = masked(str(exc), self._keys)
        status = exc.status_code if isinstance(exc, openai.APIStatusError) else 500
        if status < 500 and status != 429:
            return PermanentError(f"the Batch API at {self.base_url} refused: {text[:300]}")
        return TransientError(f"the Batch API at {self.base_url} failed: {text[:300]}")

    def upload(self, name: str, lines: Iterable[dict[str, Any]]) -> str:
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        try:
            f = self._client.files.create(
                file=(name, io.BytesIO(data.encode("utf-8")), "application/jsonl"),
                purpose="batch",
            )
        except openai.OpenAIError as exc:
            raise self._error(exc) from None
        return f.id

    def create(self, file_id: str, token: str) -> Batch:
        try:
            return self._client.batches.create(
                input_file_id=file_id,
                endpoint="/v1/chat/completions",
                completion_window="24h",
                metadata={TOKEN_KEY: token},
            )
        except openai.OpenAIError as exc:
            raise self._error(exc) from None

    def find(self, token: str) -> Batch | None:
        """A batch created with this token, if the create call got through before a kill."""
        try:
            for seen, batch in enumerate(self._client.batches.list(limit=100)):
                if (batch.metadata or {}).get(TOKEN_KEY) == token:
                    return batch
                if seen >= 1000:  # newest first: ours, made minutes ago, is long past
                    break
        except openai.OpenAIError as exc:
            raise self._error(exc) from None
        return None

    def retrieve(self, batch_id: str) -> Batch:
        try:
            return self._client.batches.retrieve(batch_id)
        except openai.OpenAIError as exc:
            raise self._error(exc) from None

    def content(self, file_id: str) -> str:
        try:
            return self._client.files.content(file_id).text
        except openai.OpenAIError as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        self._client.close()
