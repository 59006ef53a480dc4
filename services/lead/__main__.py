"""`python -m lead` serves; `python -m lead migrate` migrates."""

from crm_common.service import main
from lead.app import DEFINITION, build

if __name__ == "__main__":
    main(DEFINITION, build)
