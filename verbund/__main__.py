import sys

from verbund.cli import main

sys.exit(main())
