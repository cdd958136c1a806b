"""deskseek: DeepSeek-R1 and friends on your own machine, through llama.cpp, with nothing sent anywhere."""

__version__ = "0.1.0"
