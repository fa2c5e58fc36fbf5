import sys

from wgsites.cli import main

sys.exit(main())
