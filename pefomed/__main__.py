"""``python -m pefomed ...`` is the ``pefomed`` command (what worker processes are started with)."""
from pefomed.cli import main

if __name__ == "__main__":
    main()
