import sys

from lunet.cli import main

sys.exit(main())
