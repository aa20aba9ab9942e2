"""`python -m netspec` (also what `torchrun -m netspec train ...` runs)."""

from netspec.cli.main import main

if __name__ == "__main__":
    main()
