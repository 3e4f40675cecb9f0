"""python -m storygen"""

import sys

from storygen.cli import main

sys.exit(main())
