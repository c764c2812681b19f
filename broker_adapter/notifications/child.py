"""Entry point of the notifier process (started by process.NotifierProcess):

    python -m broker_adapter.notifications.child <parent pid> <wake fd>   (the settings pickled on stdin)

A module of its own so that `-m` does not run process.py a second time as __main__ (the package imports it).
"""

import pickle
import sys

from broker_adapter.notifications.process import run_child

if __name__ == "__main__":
    run_child(pickle.loads(sys.stdin.buffer.read()), int(sys.argv[2]), int(sys.argv[1]))
