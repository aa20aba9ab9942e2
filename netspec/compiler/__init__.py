"""Compiling: the expanded graph -> a torch.fx GraphModule (build.py), and weight
initialisation (init.py)."""
