"""What runs a model and streams its reply as events: the local llama.cpp engine and its helpers."""
