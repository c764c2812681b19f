import sys
from pathlib import Path

# bench/ is not an installed package (pyproject's packages.find leaves it out): import it from the checkout.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
