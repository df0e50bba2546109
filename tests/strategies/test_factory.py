"""build_realizer: kinds, options, clear errors."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from strategies.errors import RealizerError
from strategies.factory import build_realizer
from strategies.graph.realizer import GraphRealizer
from strategies.openai_realizer import OpenAIConfig, OpenAIRealizer
from tests.fakes.chat_server import FakeChatServer, Reply
from tests.strategies.conftest import GOOD_SOURCE

CONF = "conf/realizer/{}.yaml"


def test_openai_from_the_config_file(tmp_path, monkeypatch, task, strategy):
    from strategies.types import RealizeRequest

    with FakeChatServer([Reply.code(GOOD_SOURCE, prompt_tokens=7, completion_tokens=3)]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_MODEL", "served-model")
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # localhost: a dummy key is fine
        options = OmegaConf.to_container(OmegaConf.load(CONF.format("openai")), resolve=True)
        options["cache_dir"] = str(tmp_path)
        realizer = build_realizer(options["name"], options)
        assert isinstance(realizer, OpenAIRealizer) and realizer.name == "openai"
        assert realizer.config.model == "served-model" and realizer.config.base_url == server.url
        result = realizer.realize(RealizeRequest(task=task, strategy=strategy,
                                                 parent_source=task.module_source()))
    assert result.ok and result.cost.tokens == 10
    assert server.requests[0].body["model"] == "served-model"


def test_config_file_matches_the_dataclass():
    options = OmegaConf.to_container(OmegaConf.load(CONF.format("openai")), resolve=False)
    options.pop("name")
    options.pop("repair_turns")  # the tuner's key, in the same section
    options.update(base_url="http://localhost:1/v1", model="m")
    assert OpenAIConfig.from_options(options) == OpenAIConfig(**options)
    assert set(options) == set(OpenAIConfig.__dataclass_fields__)


def test_unknown_kind_and_options_are_one_line_errors():
    with pytest.raises(RealizerError, match="unknown realizer 'claude'"):
        build_realizer("claude", {})
    with pytest.raises(RealizerError, match="unknown openai realizer option"):
        build_realizer("openai", {"name": "openai", "base_url": "http://localhost:1/v1", "temprature": 1})
    with pytest.raises(RealizerError, match="takes no options"):
        build_realizer("offline", {"name": "offline", "model": "x"})


@pytest.mark.parametrize("preset", ["offline", "graph"])
def test_offline_from_the_config_file(preset):
    """``graph`` is another name of the offline realizer (the graph templates for every task):
    the same realizer, under the name its landscapes and runs record."""
    options = OmegaConf.to_container(OmegaConf.load(CONF.format(preset)))
    realizer = build_realizer(options["name"], options)
    assert isinstance(realizer, GraphRealizer) and realizer.deterministic
    assert realizer.name == "offline" and not realizer.allow_tf32
    with pytest.raises(RealizerError, match=f"the {preset} realizer takes no options"):
        build_realizer(preset, {"name": preset, "model": "x"})
