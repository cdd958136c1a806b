from deskseek.models import gguf_names


def test_quant_of_common_names():
    assert gguf_names.quant_of("DeepSeek-R1-Distill-Qwen-7B-Q4_K_M.gguf") == "Q4_K_M"
    assert gguf_names.quant_of("SmolLM2-135M-Instruct.Q4_1.gguf") == "Q4_1"
    assert gguf_names.quant_of("x/DeepSeek-R1-UD-IQ1_S-00001-of-00003.gguf") == "UD-IQ1_S"
    assert gguf_names.quant_of("Qwen3-30B-A3B-UD-Q4_K_XL.gguf") == "UD-Q4_K_XL"
    assert gguf_names.quant_of("model-bf16.gguf") == "BF16"
    assert gguf_names.quant_of("model.gguf") is None


def test_q4_k_does_not_match_q4_k_m():
    assert gguf_names.quant_of("m-Q4_K_M.gguf") != "Q4_K"


def test_split_parts():
    assert gguf_names.split_parts("d/M-Q8_0-00001-of-00003.gguf") == [
        "d/M-Q8_0-00001-of-00003.gguf", "d/M-Q8_0-00002-of-00003.gguf", "d/M-Q8_0-00003-of-00003.gguf"]
    assert gguf_names.split_parts("m.gguf") == ["m.gguf"]


def test_model_files_exclude_projectors_and_later_parts():
    assert gguf_names.is_model_file("M-Q4_K_M-00001-of-00002.gguf")
    assert not gguf_names.is_model_file("M-Q4_K_M-00002-of-00002.gguf")
    assert not gguf_names.is_model_file("mmproj-M-f16.gguf")
    assert not gguf_names.is_model_file("README.md")
