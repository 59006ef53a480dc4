"""`python -m pipeline` serves; `python -m pipeline migrate` migrates."""

from crm_common.service import main
from pipeline.app import DEFINITION, build

if __name__ == "__main__":
    main(DEFINITION, build)
