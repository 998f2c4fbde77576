#!/usr/bin/env python3
"""Run every tests/e2e/test_*.py against $PACKHELPER and print 'N passed, N failed'.

    run.py [PATTERN] [-j N]

With -j N the test modules run in N processes at once (each module's tests in
order, in one process), which is how `make check` stays under a minute; every
server a test starts has its own port and store, so modules do not meet.
PH_SUITE_PREFIX goes before the summary's name ("arm64-e2e", tests/arm64.sh)."""
import concurrent.futures
import os
import re
import subprocess
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

NAME = os.environ.get("PH_SUITE_PREFIX", "") + "e2e"
SUMMARY = re.compile(r"^%s: (\d+) passed, (\d+) failed(?:, (\d+) skipped)?$" % re.escape(NAME),
                     re.M)


def run_here(pattern):
    """Run the matching tests in this process; returns (passed, failed, skipped)."""
    suite = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here)
    runner = unittest.TextTestRunner(verbosity=2)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    return res.testsRun - failed - skipped, failed, skipped


def run_module(name):
    """One module in a child process; returns (name, output, (passed, failed, skipped))."""
    p = subprocess.run([sys.executable, os.path.abspath(__file__), name],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    m = SUMMARY.search(p.stdout)
    counts = (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else (0, 1, 0)
    if p.returncode != 0 and counts[1] == 0 and counts[2] == 0:
        counts = (counts[0], 1, 0)  # died without saying why: count it
    return name, p.stdout, counts


def main():
    args = sys.argv[1:]
    jobs = 1
    if "-j" in args:
        i = args.index("-j")
        jobs = int(args[i + 1])
        del args[i:i + 2]
    pattern = args[0] if args else "test_*.py"
    if jobs > 1:
        import fnmatch
        mods = sorted(f for f in os.listdir(here) if fnmatch.fnmatch(f, pattern))
        passed = failed = skipped = 0
        with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
            for name, out, (p, f, s) in pool.map(run_module, mods):
                # the children's own totals would be counted twice by .ci/run
                sys.stdout.write(SUMMARY.sub(lambda m: "(%s)" % m.group(0), out))
                sys.stdout.flush()
                passed, failed, skipped = passed + p, failed + f, skipped + s
    else:
        passed, failed, skipped = run_here(pattern)
    line = "%s: %d passed, %d failed" % (NAME, passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    # a skipped check is a defect here: treat it as a failure
    sys.exit(1 if failed or skipped or passed == 0 else 0)


if __name__ == "__main__":
    main()
