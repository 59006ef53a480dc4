"""Entry point: `python -m integration_gateway` serves, `python -m integration_gateway migrate` migrates."""

from crm_common.service import main
from integration_gateway.app import DEFINITION, build

if __name__ == "__main__":
    main(DEFINITION, build)
