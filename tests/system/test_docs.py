"""The documentation says what the programs do.

The option references in docs/ are exactly what the programs print (--help-config); every
TOML example in README.md and docs/ is a valid config; README.md stays a short front door
whose links resolve; and its dig and nsupdate examples work, as written, against a server
on the embedded default config (on a free port rather than 8053).
"""

import os
import re
import subprocess
import tempfile
import unittest

import dns.rcode

from harness import (LOOPBACK, SOURCE_DIR, ZONES_DIR, Server, ask_udp, free_port, query_message,
                     run, signpost_agent_path, signpostd_path, wait_for)

README_LIMIT = 12000  # characters: a page a platform engineer reads in five minutes
DOCS_DIR = os.path.join(SOURCE_DIR, "docs")
DEFAULT_PORT = "8053"  # the embedded default config's port, as the examples write it
DEFAULT_HTTP_PORT = "8054"  # and its HTTP API's


def read(relative):
    with open(os.path.join(SOURCE_DIR, relative), encoding="utf-8") as f:
        return f.read()


def documents():
    """README.md and every page in docs/, as paths relative to the source tree."""
    pages = sorted("docs/" + name for name in os.listdir(DOCS_DIR) if name.endswith(".md"))
    return ["README.md"] + pages


def between_markers(text, name):
    match = re.search(rf"<!-- {name}:begin -->\n(.*?)<!-- {name}:end -->", text, re.S)
    return match.group(1) if match else None


def code_blocks(text, language):
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def section(text, heading):
    """The text from `heading` (a whole line) to the next heading of the same level."""
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    end = text.find("\n" + level + " ", start + len(heading))
    return text[start:] if end < 0 else text[start:end]


def slug(heading):
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def default_config_text():
    """The embedded default config, from the header that holds it."""
    header = read("dns/daemon/default_config.hpp")
    return re.search(r'R"toml\((.*?)\)toml"', header, re.S).group(1)


class DefaultConfigServer(Server):
    """signpostd on the embedded default config, moved to a free port."""

    def write_config(self):
        text = default_config_text()
        listen = f'listen = ["{LOOPBACK}:{DEFAULT_PORT}"]'
        self.assert_has(text, listen)
        text = text.replace(listen, f'listen = ["{LOOPBACK}:{self.port}"]')
        http_listen = f'listen = ["{LOOPBACK}:{DEFAULT_HTTP_PORT}"]'
        self.assert_has(text, http_listen)
        self.http_port = free_port()
        text = text.replace(http_listen, f'listen = ["{LOOPBACK}:{self.http_port}"]')
        self.assert_has(text, 'zones_dir = "zones"')
        text = text.replace('zones_dir = "zones"', f'zones_dir = "{ZONES_DIR}"')
        self.assert_absent(text, "[registry]")
        text += f'\n[registry]\nstate_file = "{self.state_path}"\n'
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text)

    @staticmethod
    def assert_absent(text, line):
        if line in text:
            raise AssertionError(f"the default config now holds {line!r}")

    @staticmethod
    def assert_has(text, line):
        if line not in text:
            raise AssertionError(f"the default config no longer holds {line!r}")


class ReferenceTest(unittest.TestCase):
    def test_configuration_matches_help_config(self):
        table = between_markers(read("docs/configuration.md"), "config-reference")
        self.assertIsNotNone(table, "docs/configuration.md has no config-reference markers")
        printed = run([signpostd_path(), "--help-config"]).stdout
        self.assertIn("| `dns.domain` |", printed)
        self.assertEqual(table, printed,
                         "docs/configuration.md's reference is out of date: put the output "
                         "of `signpostd --help-config` between its markers")

    def test_agent_matches_agent_help_config(self):
        table = between_markers(read("docs/agent.md"), "agent-reference")
        self.assertIsNotNone(table, "docs/agent.md has no agent-reference markers")
        printed = run([signpost_agent_path(), "--help-config"]).stdout
        self.assertIn("| `agent.servers` |", printed)
        self.assertEqual(table, printed,
                         "docs/agent.md's reference is out of date: put the output of "
                         "`signpost-agent --help-config` between its markers")


class ExamplesAreValidTest(unittest.TestCase):
    """Every ```toml block is a config that --check-config accepts: an agent's when it has an
    [agent] table, the server's otherwise (checked from the source tree, where zones/ is)."""

    def check(self, program, text, where):
        if program == signpost_agent_path() and not re.search(r"^addresses\s*=", text, re.M):
            # The agent takes the host's addresses by default; a test host may have none
            # but loopback, which the agent refuses.
            text = text.replace("[agent]\n", '[agent]\naddresses = ["192.0.2.1"]\n', 1)
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write(text)
            f.flush()
            result = subprocess.run([program, "--check-config", f.name], cwd=SOURCE_DIR,
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=15)
        self.assertEqual(result.returncode, 0,
                         f"{where}:\n{text}\n{result.stdout}{result.stderr}")

    def test_toml_examples(self):
        checked = {"agent": 0, "server": 0}
        for document in documents():
            for block in code_blocks(read(document), "toml"):
                is_agent = re.search(r"^\[agent\]$", block, re.M) is not None
                program = signpost_agent_path() if is_agent else signpostd_path()
                self.check(program, block, document)
                checked["agent" if is_agent else "server"] += 1
        self.assertGreaterEqual(checked["agent"], 2, checked)  # README and docs/agent.md
        self.assertGreaterEqual(checked["server"], 3, checked)


class ReadmeTest(unittest.TestCase):
    def test_readme_is_short(self):
        length = len(read("README.md"))
        self.assertLess(length, README_LIMIT,
                        f"README.md has {length} characters: keep it under {README_LIMIT} "
                        "and move reference material into docs/")

    def test_links_resolve(self):
        for document in documents():
            text = read(document)
            base = os.path.dirname(os.path.join(SOURCE_DIR, document))
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"[a-z]+:", target):
                    continue  # http:, https:, mailto:
                path, _, anchor = target.partition("#")
                full = os.path.normpath(os.path.join(base, path)) if path else \
                    os.path.join(SOURCE_DIR, document)
                self.assertTrue(os.path.exists(full), f"{document}: link {target} is broken")
                if anchor and full.endswith(".md"):
                    with open(full, encoding="utf-8") as f:
                        anchors = {slug(line.lstrip("#")) for line in f if line.startswith("#")}
                    self.assertIn(anchor, anchors, f"{document}: link {target}: no such heading")

    def test_readme_links_every_page_of_docs(self):
        text = read("README.md")
        for document in documents()[1:]:
            self.assertTrue(f"]({document})" in text, f"README.md does not link {document}")


class ReadmeAgainstDefaultConfigTest(unittest.TestCase):
    """The README's dig and nsupdate lines, run against the embedded default config."""

    @classmethod
    def setUpClass(cls):
        cls.server = DefaultConfigServer()
        try:
            cls.server.start()
        except BaseException:
            cls.server.cleanup()
            raise
        cls.port = cls.server.port
        cls.readme = read("README.md")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def shell(self, script):
        script = script.replace(f"-p {DEFAULT_PORT}", f"-p {self.port}")
        script = script.replace(f"server 127.0.0.1 {DEFAULT_PORT}", f"server 127.0.0.1 {self.port}")
        self.assertNotIn(DEFAULT_PORT, script)
        return subprocess.run(["bash", "-euo", "pipefail", "-c", script],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=30)

    def records(self, name, rdtype):
        response = ask_udp(self.port, query_message(name, rdtype))
        self.assertIsNotNone(response, f"no answer to {name} {rdtype}")
        return response, {r.to_text() for rrset in response.answer for r in rrset}

    def test_what_to_dig(self):
        block = code_blocks(section(self.readme, "## What to dig"), "sh")[0]
        lines = [line.split("#")[0].split() for line in block.splitlines() if line.strip()]
        self.assertGreaterEqual(len(lines), 3)
        for words in lines:
            self.assertEqual(words[:4], ["dig", "@127.0.0.1", "-p", DEFAULT_PORT], words)
            name, rdtype = words[4], words[5]
            response, answer = self.records(name, rdtype)
            self.assertEqual(response.rcode(), dns.rcode.NOERROR, f"{name} {rdtype}")
            self.assertTrue(answer, f"{name} {rdtype} has no answer")

    def test_nsupdate_example_adds_an_instance_next_to_the_static_ones(self):
        _, static = self.records("_web._tcp.svc.internal", "SRV")
        block = code_blocks(section(self.readme, "## Registering an instance with nsupdate"),
                            "sh")[0]
        result = self.shell(block)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        # web-9 comes in, and every static instance stays as it was.
        _, srv = self.records("_web._tcp.svc.internal", "SRV")
        self.assertEqual(len(srv), len(static) + 1, srv)
        self.assertTrue(static < srv, f"the example changed a static instance: {srv}")
        self.assertIn("0 1 8080 host-9.node.svc.internal.", srv)
        self.assertEqual(self.records("v2.web.svc.internal", "A")[1], {"127.0.0.19"})
        self.assertIn("host-9.node.svc.internal.", result.stdout)  # the dig lines ran

        # docs/heartbeats.md deregisters it again.
        heartbeats = code_blocks(section(read("docs/heartbeats.md"), "## With nsupdate"), "sh")
        deletion = [b for b in heartbeats if "update delete" in b]
        self.assertEqual(len(deletion), 1)
        result = self.shell(deletion[0])
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertTrue(wait_for(lambda: self.records("_web._tcp.svc.internal", "SRV")[1] == static, 2),
                        self.server.log())


if __name__ == "__main__":
    unittest.main()
