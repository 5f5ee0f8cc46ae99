import gc
import os
import signal
import sys

from wfga.cli import main

# One command, then exit.  A plan's hundreds of thousands of objects live to the end, so the cyclic
# collector would only walk them again and again, and tearing the interpreter down would free them
# one by one (seconds for a large plan); the operating system takes the whole process back at once.
gc.disable()
try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:
    # The reader went away (`wfga plan | head`): nothing more to say, as a tool killed by SIGPIPE.
    code = 128 + signal.SIGPIPE
sys.stderr.flush()
os._exit(code)
