"""python -m storygen"""

import sys

from storygen.cli.main import main

sys.exit(main())
