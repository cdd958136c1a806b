"""Where a model's tensors live: this machine's memory and devices, and the planner that splits a model."""
