#!/usr/bin/env python3
"""run.py: runs every tests/integration/test_*.py against one build dir.

    python3 tests/integration/run.py --build $PWD/build [-k PATTERN] [FILE..]
"""
import argparse
import os
import sys
import unittest

here = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("-k", dest="pattern", action="append")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    os.environ["POSTHORN_BUILD"] = os.path.abspath(args.build)
    sys.path.insert(0, here)
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = ["*%s*" % p for p in args.pattern]
    if args.files:
        suite = unittest.TestSuite()
        for f in args.files:
            name = os.path.splitext(os.path.basename(f))[0]
            suite.addTests(loader.loadTestsFromName(name))
    else:
        suite = loader.discover(here, pattern="test_*.py", top_level_dir=here)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
