import sys

from wfga.cli import main

sys.exit(main())
