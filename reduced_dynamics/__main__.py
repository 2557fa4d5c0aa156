import sys

from reduced_dynamics.cli.main import main

sys.exit(main())
