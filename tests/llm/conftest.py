"""Fixtures for the language-model tests: a local OpenAI-compatible server (see fake_openai_server.py)."""

from __future__ import annotations

import pytest
from fake_openai_server import FakeOpenAIServer


@pytest.fixture
def openai_server():
    """A started :class:`FakeOpenAIServer` on 127.0.0.1 (model name ``"planted"``), stopped after the test."""
    server = FakeOpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()
