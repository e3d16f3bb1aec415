"""`python -m genlab ...` (also what torchrun launches: torchrun ... -m genlab train ...)."""

from genlab.cli import main

if __name__ == "__main__":
    main()
