#!/usr/bin/env python3
"""Run every tests/e2e/test_*.py against $PACKHELPER and print 'N passed, N failed'."""
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


class Result(unittest.TextTestResult):
    pass


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else "test_*.py"
    suite = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here)
    runner = unittest.TextTestRunner(verbosity=2, resultclass=Result)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = res.testsRun - failed - skipped
    line = "e2e: %d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    # a skipped check is a defect here: treat it as a failure
    sys.exit(1 if failed or skipped or res.testsRun == 0 else 0)


if __name__ == "__main__":
    main()
