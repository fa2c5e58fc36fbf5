import sys

from wgsites.operations.cli import main

sys.exit(main())
