"""Entry point: `python -m notification` serves, `python -m notification migrate` migrates."""

from crm_common.service import main
from notification.app import DEFINITION, build

if __name__ == "__main__":
    main(DEFINITION, build)
