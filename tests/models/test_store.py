"""What the store records about a model from its own header: quantization and whether it thinks."""

from __future__ import annotations

from deskseek.models import pull
from tests.conftest import write_registry
from tests.fixtures.app_stores import tiny_models  # noqa: F401  (session fixture)
from tests.models.test_pull import REPO, registry_entry


def test_an_hf_pull_no_registry_entry_speaks_for_thinks_by_its_template(hub, tiny_models):  # noqa: F811
    hub.add_file(REPO, "R1-Q4_K_M.gguf", tiny_models.r1.read_bytes())
    hub.add_file(REPO, "Plain-Q8_0.gguf", tiny_models.plain.read_bytes())
    hub.add_file("acme/Other-GGUF", "model.gguf", tiny_models.bare.read_bytes())
    r1, _ = pull.pull(f"{REPO}/R1-Q4_K_M.gguf")
    by_repo, _ = pull.pull(f"hf.co/{REPO}:Q8_0")
    nameless, _ = pull.pull("acme/Other-GGUF/model.gguf")
    assert (r1.reasoning, by_repo.reasoning, nameless.reasoning) == (True, False, False)
    assert (r1.quant, by_repo.quant, nameless.quant) == ("Q4_K_M", "Q8_0", "F16")  # the last from general.file_type


def test_a_registry_entry_still_speaks_for_its_model(hub, home, tiny_models):  # noqa: F811
    hub.add_file(REPO, "Tiny-R1-Q4_K_M.gguf", tiny_models.plain.read_bytes())
    write_registry(home, registry_entry().replace("size = 3145728", f"size = {tiny_models.plain.stat().st_size}"))
    item, _ = pull.pull("tiny")
    assert item.alias == "tiny" and item.reasoning is True  # models.toml says it reasons; its template does not
