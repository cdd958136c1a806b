"""[servers.NAME] in the user's models.toml, and what a server URL may be: mistakes point at the line."""

from __future__ import annotations

import pytest

from deskseek.errors import UsageError
from deskseek.models import registry, servers
from deskseek.models.registry import RegistryError
from tests.conftest import write_registry

GOOD = """
[models.mine]
description = "my model"
repo = "me/Mine-GGUF"
architecture = "llama"
params = 1
reasoning = false
license = "MIT"
quants = { Q4_K_M = { file = "Mine-Q4_K_M.gguf" } }

[servers.homelab]
url = "http://10.0.0.5:11434/"
api_key_env = "HOMELAB_KEY"
model = "deepseek-r1:70b"

[servers.cluster]
url = "https://vllm.example.org/v1"
"""


def test_servers_are_read_from_the_users_file_beside_its_models(home):
    write_registry(home, GOOD)
    found = servers.load()
    assert found == {
        "homelab": servers.ServerSpec("homelab", "http://10.0.0.5:11434", "HOMELAB_KEY", "deepseek-r1:70b"),
        "cluster": servers.ServerSpec("cluster", "https://vllm.example.org/v1"),
    }
    assert "mine" in registry.load()  # the models' parser passes over the servers' tables


def test_no_user_file_means_no_servers(home):
    assert servers.load() == {}


@pytest.mark.parametrize(("text", "line", "message"), [
    ('[servers.a]\nmodel = "x"\n', 1, "servers.a: missing required field url"),
    ('[servers.a]\nurl = "ftp://host"\n', 2, "servers.a.url: 'ftp://host': deskseek speaks http:// and https://"),
    ('[servers.a]\nurl = "http://user:pw@host"\n', 2, "carries credentials"),
    ('[servers.a]\nurl = "http://h"\napi_key = "sk-123"\n', 3, "servers.a.api_key: unknown field"),
    ('[servers.a]\nurl = "http://h"\napi_key_env = "sk-123"\n', 3, "is not an environment variable's name"),
    ('[servers.a]\nurl = 8080\n', 2, "servers.a.url: expected a string, got 8080"),
    ('\n\n[servers."two words"]\nurl = "http://h"\n', 3, "a server's name is letters, digits"),
    ('servers = 3\n', 1, "servers: expected tables like [servers.NAME]"),
    ('[servers.a]\nurl = "http://h"\nmodel = " "\n', 3, "servers.a.model: an empty model name"),
])
def test_a_mistake_points_at_its_line(home, text, line, message):
    write_registry(home, text)
    with pytest.raises(RegistryError) as caught:
        servers.load()
    assert f"models.toml:{line}: " in str(caught.value) and message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("given", "url"), [
    ("localhost:8080", "http://localhost:8080"),
    ("HTTP://Box.lan:11434/", "http://box.lan:11434"),
    ("https://gpu.example.org/v1/", "https://gpu.example.org/v1"),
    ("http://[::1]:8000", "http://[::1]:8000"),
    ("http://10.0.0.5", "http://10.0.0.5"),
])
def test_urls_are_normalised(given, url):
    assert servers.check_url(given) == url


@pytest.mark.parametrize(("given", "message"), [
    ("", "an empty server URL"),
    ("http://", "names no host"),
    ("http://host:99999", "is not a server URL"),
    ("http://host/?key=1", "takes no ?query"),
    ("file:///tmp/x", "not file://"),
])
def test_bad_urls_are_one_line(given, message):
    with pytest.raises(UsageError) as caught:
        servers.check_url(given)
    assert message in str(caught.value)
