"""The project's settings, plus the fault hooks of `tests.faults_support`.

Only processes that tests/test_faults.py starts to inject a fault at an
exact moment use this module; each hook does nothing unless its FAULT_*
variable is set (see tests/faults_support.py).
"""

from catalogue.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.faults_support.FaultsConfig"]  # noqa: F405
