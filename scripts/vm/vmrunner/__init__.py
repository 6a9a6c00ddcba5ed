"""The dm-thin VM runner behind scripts/vm/run-in-vm (scripts/vm/README.md lists its modules)."""

import os

# The guest's shell stages (stage1-init.sh, stage2.sh) live beside the package.
VM_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
