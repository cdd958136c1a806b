"""The one place that reaches into llama.cpp past llama-cpp-python's bindings (ctypes, log, CPU features).

Imports nothing of deskseek but `paths` and `errors`, so every layer above may use it.
"""
