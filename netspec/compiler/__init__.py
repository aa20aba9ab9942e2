"""Compiling: the expanded graph -> a torch.fx GraphModule, and weight initialisation."""
