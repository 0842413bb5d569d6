"""The Debian package: cpack builds it from the tree CTest built (SIGNPOST_BUILD_DIR),
without building anything; its contents, control fields and conffiles are checked; then,
as root, it is installed with dpkg -i, the installed programs check the installed example
configs as the service user would, and a purge removes everything it made. The purge runs
in a `finally`, so a failing test leaves the machine as it found it. The package starts
no service."""

import glob
import grp
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

SBIN = "/usr/sbin"
CONFIG_DIR = "/etc/signpost"
STATE_DIR = "/var/lib/signpost"
UNIT_DIR = "/usr/lib/systemd/system"
PROGRAMS = ("signpostd", "signpost-agent")
UNITS = ("signpostd.service", "signpost-agent.service")
CONFFILES = (f"{CONFIG_DIR}/signpostd.toml", f"{CONFIG_DIR}/agent.toml")
CPACK_TIMEOUT = 240
DPKG_TIMEOUT = 120
LOCK_WAIT = 120  # other installs on the machine hold dpkg's lock for a while at most


def command(args, timeout=60, check=True, **kwargs):
    result = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited with {result.returncode}:\n"
                             f"{result.stdout}{result.stderr}")
    return result


def dpkg(*args):
    """dpkg as root, waiting (bounded) while another dpkg or apt holds the lock."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        result = command(["dpkg", *args], timeout=DPKG_TIMEOUT, check=False)
        # "dpkg frontend lock was locked by another process with pid ..."
        locked = "lock" in result.stderr and "another process" in result.stderr
        if not locked or time.monotonic() > deadline:
            return result
        time.sleep(1)


def installed():
    result = command(["dpkg-query", "-W", "-f=${Status}", "signpost"], check=False)
    return result.returncode == 0 and "installed" in result.stdout.split()[-1:]


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def running_programs():
    """Pids of processes running an installed program (not the build tree's, which other
    tests run at the same time)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
        except OSError:
            continue
        if exe in {f"{SBIN}/{program}" for program in PROGRAMS}:
            pids.append(int(entry))
    return pids


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.build_dir = os.environ.get("SIGNPOST_BUILD_DIR", "")
        if not os.path.isfile(os.path.join(cls.build_dir, "CPackConfig.cmake")):
            raise AssertionError(f"SIGNPOST_BUILD_DIR does not name a configured build folder: "
                                 f"{cls.build_dir!r}")
        for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is missing (.ci/setup --test installs it)")
        cls.workdir = tempfile.mkdtemp(prefix="signpost-package-")
        started = time.monotonic()
        result = command(["cpack", "-G", "DEB", "--config",
                          os.path.join(cls.build_dir, "CPackConfig.cmake"), "-B", cls.workdir],
                         timeout=CPACK_TIMEOUT, check=False, cwd=cls.build_dir)
        cls.cpack_seconds = time.monotonic() - started
        if result.returncode != 0:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise AssertionError(f"cpack failed:\n{result.stdout}{result.stderr}")
        debs = glob.glob(os.path.join(cls.workdir, "*.deb"))
        if len(debs) != 1:
            shutil.rmtree(cls.workdir, ignore_errors=True)
            raise AssertionError(f"cpack made {debs}, not one .deb:\n{result.stdout}")
        cls.deb = debs[0]
        cls.contents = {line.split()[-1].lstrip(".").rstrip("/") or "/"
                        for line in command(["dpkg-deb", "-c", cls.deb]).stdout.splitlines()}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def field(self, name):
        return command(["dpkg-deb", "-f", self.deb, name]).stdout.strip()

    def member(self, path):
        """A file of the package's data, as text."""
        tar = subprocess.run(f"dpkg-deb --fsys-tarfile '{self.deb}' | tar -xO '.{path}'",
                             shell=True, capture_output=True, text=True, timeout=60)
        self.assertEqual(tar.returncode, 0, tar.stderr)
        return tar.stdout

    def test_cpack_took_the_tree_as_built(self):
        # Packaging strips and scans the programs; building anything would take minutes.
        self.assertLess(self.cpack_seconds, 120, f"cpack took {self.cpack_seconds:.0f}s")

    def test_control_fields(self):
        self.assertEqual(self.field("Package"), "signpost")
        self.assertEqual(self.field("Section"), "net")
        self.assertIn("@", self.field("Maintainer"))
        self.assertTrue(self.field("Description"))
        depends = [d.strip().split()[0] for d in self.field("Depends").split(",")]
        # adduser for postinst; the rest computed by dpkg-shlibdeps from the programs.
        for package in ("adduser", "libc6", "libstdc++6", "libldns3"):
            self.assertIn(package, depends, self.field("Depends"))
        conffiles = command(["dpkg-deb", "-I", self.deb, "conffiles"]).stdout.split()
        self.assertEqual(sorted(conffiles), sorted(CONFFILES))
        for script in ("postinst", "prerm", "postrm"):
            self.assertTrue(command(["dpkg-deb", "-I", self.deb, script]).stdout.startswith(
                "#!/bin/sh"), script)

    def test_contents(self):
        expected = [f"{SBIN}/{program}" for program in PROGRAMS]
        expected += list(CONFFILES) + [f"{CONFIG_DIR}/zones"]
        expected += [f"{UNIT_DIR}/{unit}" for unit in UNITS]
        expected += ["/usr/share/signpost/zones/example.test.zone",
                     "/usr/share/doc/signpost/README.md", "/usr/share/doc/signpost/operations.md"]
        for path in expected:
            self.assertIn(path, self.contents)
        self.assertFalse([p for p in self.contents if p.startswith("/usr/local")])

    def test_contents_hold_the_cli(self):
        # The `signpost` command is installed by registry/cli's own rule; this fails until
        # that target is part of the tree.
        self.assertIn("/usr/bin/signpost", self.contents)

    def test_units_are_hardened_and_name_the_installed_files(self):
        server = self.member(f"{UNIT_DIR}/signpostd.service")
        for line in ("ExecStart=/usr/sbin/signpostd --config /etc/signpost/signpostd.toml",
                     "ExecStartPre=/usr/sbin/signpostd --check-config /etc/signpost/signpostd.toml",
                     "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                     "User=signpost", "Group=signpost", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                     "PrivateDevices=yes", "StateDirectory=signpost",
                     "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                     "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                     "SystemCallFilter=@system-service"):
            self.assertIn(line + "\n", server)
        self.assertRegex(server, r"\nRestrictAddressFamilies=AF_INET AF_INET6")
        agent = self.member(f"{UNIT_DIR}/signpost-agent.service")
        for line in ("ExecStart=/usr/sbin/signpost-agent --config /etc/signpost/agent.toml",
                     "User=signpost", "NoNewPrivileges=yes", "ProtectSystem=strict",
                     "CapabilityBoundingSet=", "Restart=on-failure"):
            self.assertIn(line + "\n", agent)
        self.assertNotIn("ReadWritePaths", server + agent)  # the state directory only

    def test_install_check_and_purge(self):
        if os.geteuid() != 0:
            self.skipTest("installing the package needs root (CI runs as root)")
        # Never touch an installation or a user that the test did not make.
        self.assertFalse(installed(), "a signpost package is already installed here")
        self.assertFalse(user_exists("signpost"), "a user 'signpost' already exists here")
        self.assertFalse(os.path.exists(CONFIG_DIR), f"{CONFIG_DIR} already exists here")
        try:
            result = dpkg("-i", self.deb)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.check_installed()
        finally:
            purged = dpkg("--purge", "signpost")
        self.assertEqual(purged.returncode, 0, purged.stdout + purged.stderr)
        self.check_purged()

    def check_installed(self):
        self.assertTrue(installed())
        user = pwd.getpwnam("signpost")
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, "signpost")
        state = os.stat(STATE_DIR)
        self.assertEqual((state.st_uid, stat.S_IMODE(state.st_mode)), (user.pw_uid, 0o750))
        key = os.stat(f"{CONFIG_DIR}/agent.key")
        self.assertEqual((key.st_uid, key.st_gid, stat.S_IMODE(key.st_mode)),
                         (0, user.pw_gid, 0o640))
        for unit in UNITS:
            self.assertTrue(os.path.isfile(f"{UNIT_DIR}/{unit}"), unit)
        # The checks the units run before every start, as the service user.
        for program, config in zip(PROGRAMS, CONFFILES):
            result = command(["runuser", "-u", "signpost", "--", f"{SBIN}/{program}",
                              "--check-config", config], check=False, cwd="/")
            self.assertEqual(result.returncode, 0,
                             f"{program} --check-config {config}:\n{result.stdout}{result.stderr}")
        self.assertEqual(running_programs(), [], "installing started a service")
        # systemd's own check of the units (their syntax, and that the programs they run
        # exist); it runs without a running systemd, but a host may lack systemd itself.
        if shutil.which("systemd-analyze"):
            result = command(["systemd-analyze", "verify",
                              *[f"{UNIT_DIR}/{unit}" for unit in UNITS]], check=False)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            self.assertNotIn(".service:", result.stderr)  # warnings name the unit file

    def check_purged(self):
        self.assertFalse(installed())
        for path in [f"{SBIN}/{p}" for p in PROGRAMS] + [f"{UNIT_DIR}/{u}" for u in UNITS] + \
                [CONFIG_DIR, STATE_DIR, "/usr/share/signpost", "/usr/share/doc/signpost"]:
            self.assertFalse(os.path.exists(path), f"{path} is left after the purge")
        self.assertFalse(user_exists("signpost"), "the purge left the signpost user")
        with self.assertRaises(KeyError):
            grp.getgrnam("signpost")


if __name__ == "__main__":
    unittest.main()
