"""The bible call of the OpenAI-compatible backend: the same JSON and structured-output path
as the outline, against a third-party mock (llmock) that answers from the schema we send."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import fast_policy
from llmock.testing import LLMockServer

from storygen import ScriptRequest, generate
from storygen.backends.config import BackendConfig
from storygen.backends.openai_compat import OpenAIBackend
from storygen.core.prompts import schema_for

KEY = "sk-llmock-0123456789"


@pytest.fixture(scope="module")
def mock() -> Iterator[LLMockServer]:
    with LLMockServer() as server:
        yield server


def test_the_bible_call_goes_first_with_its_schema_and_every_scene_quotes_it(
    mock: LLMockServer,
) -> None:
    config = BackendConfig.build_config(
        kind="openai", base_url=mock.base_url("openai"), model="gpt-4o-mini", api_keys=[KEY]
    )
    request = ScriptRequest(idea="A fox opens a bakery", duration_s=40, bible=True)
    script = generate(request, OpenAIBackend(config), policy=fast_policy())
    records = [r for r in mock.state.journal.records(wait=5) if r.path.endswith("chat/completions")]
    assert len(records) == 1 + 5
    first, scenes = records[0].body, [r.body for r in records[1:]]
    assert first["response_format"]["json_schema"]["name"] == "bible"
    assert first["response_format"]["json_schema"]["schema"] == schema_for("bible")
    assert "Write the story bible" in first["messages"][1]["content"]
    assert script.bible is not None and script.bible.characters
    name = script.bible.characters[0].name
    for body in scenes:
        prompt = body["messages"][1]["content"]
        assert "Story bible (keep every name and look exactly):" in prompt
        assert f"  Character: {name} (" in prompt
        assert "Narration: at most 20 words (spoken in 8 s)." in prompt
    assert script.meta.bible_prompt_tokens > 0 and script.meta.bible_completion_tokens > 0
