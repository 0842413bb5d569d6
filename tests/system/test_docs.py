"""The README's configuration reference is the one the server prints (--help-config)."""

import os
import re
import tempfile
import unittest

from harness import SOURCE_DIR, run, signpost_agent_path, signpostd_path


def readme():
    with open(os.path.join(SOURCE_DIR, "README.md"), encoding="utf-8") as f:
        return f.read()


def between_markers(text, name):
    match = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", text, re.S)
    return match.group(1) if match else None


class ConfigReferenceTest(unittest.TestCase):
    def test_readme_matches_help_config(self):
        table = between_markers(readme(), "config-reference")
        self.assertIsNotNone(table, "README.md has no config-reference markers")
        printed = run([signpostd_path(), "--help-config"]).stdout
        self.assertIn("| `dns.domain` |", printed)
        self.assertEqual(table, printed,
                         "README.md's configuration reference is out of date: paste "
                         "`signpostd --help-config` between its markers")


    def test_readme_matches_agent_help_config(self):
        table = between_markers(readme(), "agent-reference")
        self.assertIsNotNone(table, "README.md has no agent-reference markers")
        printed = run([signpost_agent_path(), "--help-config"]).stdout
        self.assertIn("| `agent.servers` |", printed)
        self.assertEqual(table, printed, "README.md's agent reference is out of date: paste "
                                         "`signpost-agent --help-config` between its markers")

    def test_readme_agent_example_is_valid(self):
        text = readme()
        start = text.index("## The host agent")
        example = re.search(r"```toml\n(.*?)```", text[start:], re.S).group(1)
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write(example)
            f.flush()
            result = run([signpost_agent_path(), "--check-config", f.name])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
