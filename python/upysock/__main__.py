"""`python3 -m upysock [options] script.py [args]`: run a device script (see upysock.cli)."""
import sys

from upysock.runner import main

if __name__ == "__main__":
    sys.exit(main())
