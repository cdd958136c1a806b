"""Models on disk and how they get there: the registry, the store, pulls, and GGUF headers.

Needs no llama.cpp: downloading and listing work on a machine where it is not even built.
"""
