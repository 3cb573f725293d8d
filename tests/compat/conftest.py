import sys
from pathlib import Path

# the seeded random COCO cases and the pycocotools oracle of the metrics tests
sys.path.insert(0, str(Path(__file__).parents[1] / "metrics"))
