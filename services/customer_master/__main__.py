"""`python -m customer_master` serves; `python -m customer_master migrate` migrates."""

from crm_common.service import main
from customer_master.app import DEFINITION, build

if __name__ == "__main__":
    main(DEFINITION, build)
