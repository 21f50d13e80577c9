import sys

from zbmcp.cli import main

sys.exit(main())
