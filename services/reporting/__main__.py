"""`python -m reporting` serves; `python -m reporting migrate` migrates."""

from crm_common.service import main
from reporting.app import DEFINITION, build

if __name__ == "__main__":
    main(DEFINITION, build)
