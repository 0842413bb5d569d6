"""The README's configuration reference is the one the server prints (--help-config)."""

import os
import re
import unittest

from harness import SOURCE_DIR, run, signpostd_path


class ConfigReferenceTest(unittest.TestCase):
    def test_readme_matches_help_config(self):
        with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        match = re.search(r"<!-- config-reference:begin -->\n(.*?)<!-- config-reference:end -->",
                          readme, re.S)
        self.assertIsNotNone(match, "README.md has no config-reference markers")
        printed = run([signpostd_path(), "--help-config"]).stdout
        self.assertIn("| `dns.domain` |", printed)
        self.assertEqual(match.group(1), printed,
                         "README.md's configuration reference is out of date: paste "
                         "`signpostd --help-config` between its markers")


if __name__ == "__main__":
    unittest.main()
