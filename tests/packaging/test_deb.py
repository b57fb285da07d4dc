"""The Debian package, built and unpacked the way a packager and an admin would.

1. A plain Release build (no -Werror, no tests, no benchmarks) in its own build directory
   ($DESK_BINARY_DIR/package-release, kept between runs so a rerun only rebuilds what changed; ccache
   is used when installed), with CMAKE_INSTALL_PREFIX=/usr, then `cpack -G DEB`.
2. The package's control data: Depends computed by dpkg-shlibdeps (libmilter, LMDB, GMime,
   libsystemd, ...), the config as a conffile, the maintainer scripts.
3. `dpkg -x` into a scratch root: every file where docs/OPERATIONS.md says; the unit's Exec binary
   and -c file exist in the root; the config is the example with the packaged paths.
4. The installed `deskmilter -n -c ROOT/etc/deskmilter/deskmilter.toml` passes, and so does the
   installed deskctl reading it; the installed man pages open with man.
5. The postinst, run against the scratch root with DPKG_ROOT (as dpkg --root does), creates the
   deskmilter user in ROOT/etc/passwd and the directories of the tmpfiles.d file.
6. `cmake --install` with DESTDIR over an existing config keeps the admin's file.

Environment: DESK_SOURCE_DIR, DESK_BINARY_DIR. Needs cmake, cpack, dpkg-deb, dpkg-shlibdeps
(dpkg-dev), man, systemd-sysusers and systemd-tmpfiles (systemd).
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

SOURCE_DIR = os.path.abspath(
    os.environ.get("DESK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
BINARY_DIR = os.path.abspath(os.environ.get("DESK_BINARY_DIR", os.path.join(SOURCE_DIR, "build")))
BUILD = os.path.join(BINARY_DIR, "package-release")
CONFIG = "/etc/deskmilter/deskmilter.toml"


def run(*cmd, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=kw.pop("timeout", 1200),
                       **kw)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-4000:]}"
                             f"{r.stderr[-4000:]}")
    return r


class DebPackageTest(unittest.TestCase):
    deb = None

    @classmethod
    def setUpClass(cls):
        for tool in ("cmake", "cpack", "dpkg-deb", "dpkg-shlibdeps", "man", "systemd-sysusers",
                     "systemd-tmpfiles"):
            if shutil.which(tool) is None:
                raise AssertionError(f"{tool} is not installed (scripts/install-deps.sh installs it)")
        configure = ["cmake", "-S", SOURCE_DIR, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release",
                     "-DCMAKE_INSTALL_PREFIX=/usr", "-DDESK_TESTS=OFF", "-DDESK_BENCH=OFF",
                     "-DDESK_WERROR=OFF"]
        if shutil.which("ccache"):
            configure += ["-DCMAKE_C_COMPILER_LAUNCHER=ccache",
                          "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]
        run(*configure)
        run("cmake", "--build", BUILD, "-j2")
        for old in os.listdir(BUILD):
            if old.endswith(".deb"):
                os.remove(os.path.join(BUILD, old))
        run("cpack", "-G", "DEB", cwd=BUILD)
        debs = [f for f in os.listdir(BUILD) if f.endswith(".deb")]
        if len(debs) != 1:
            raise AssertionError(f"cpack made {debs}, want one .deb")
        cls.deb = os.path.join(BUILD, debs[0])
        cls.root = tempfile.mkdtemp(prefix="deskroot.")
        run("dpkg-deb", "-x", cls.deb, cls.root)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "root", None):
            shutil.rmtree(cls.root, ignore_errors=True)

    def rooted(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def test_control(self):
        info = run("dpkg-deb", "-f", self.deb, "Package", "Version", "Architecture",
                   "Depends", "Section").stdout
        self.assertRegex(info, r"(?m)^Package: deskmilter$")
        self.assertRegex(info, r"(?m)^Version: 0\.\d+\.\d+")
        depends = re.search(r"(?m)^Depends: (.*)$", info)
        self.assertIsNotNone(depends, info)
        for lib in ("libmilter", "liblmdb", "libgmime-3.0", "libmagic", "libclamav", "libarchive",
                    "libsystemd0", "libc6", "libstdc++6"):
            self.assertIn(lib, depends.group(1), "dpkg-shlibdeps missed " + lib)
        ctrl = os.path.join(self.root + ".control")
        run("dpkg-deb", "-e", self.deb, ctrl)
        try:
            with open(os.path.join(ctrl, "conffiles")) as f:
                self.assertEqual(f.read().split(), [CONFIG])
            for script in ("postinst", "prerm", "postrm"):
                path = os.path.join(ctrl, script)
                self.assertTrue(os.access(path, os.X_OK), script)
                run("sh", "-n", path)
        finally:
            shutil.rmtree(ctrl, ignore_errors=True)

    def test_files_in_place(self):
        for path in ("/usr/sbin/deskmilter", "/usr/sbin/deskctl"):
            self.assertTrue(os.access(self.rooted(path), os.X_OK), path)
        for path in (CONFIG, "/usr/lib/systemd/system/deskmilter.service",
                     "/usr/lib/sysusers.d/deskmilter.conf", "/usr/lib/tmpfiles.d/deskmilter.conf",
                     "/usr/share/man/man8/deskmilter.8.gz", "/usr/share/man/man8/deskctl.8.gz",
                     "/usr/share/man/man5/deskmilter.toml.5.gz",
                     "/usr/share/doc/deskmilter/OPERATIONS.md",
                     "/usr/share/doc/deskmilter/CONFIG.md",
                     "/usr/share/doc/deskmilter/examples/deskmilter.example.toml"):
            self.assertTrue(os.path.isfile(self.rooted(path)), path)
        self.assertEqual(os.stat(self.rooted(CONFIG)).st_mode & 0o777, 0o640)
        # Nothing outside the directories a Debian package may use.
        for top in os.listdir(self.root):
            self.assertIn(top, ("etc", "usr"))

    def test_unit_points_into_the_package(self):
        with open(self.rooted("/usr/lib/systemd/system/deskmilter.service")) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^Type=notify$")
        execs = re.findall(r"(?m)^Exec(?:Start|StartPre|Reload)=(\S+)(.*)$", unit)
        self.assertTrue(execs)
        for binary, args in execs:
            if binary == "/bin/kill":
                continue
            self.assertEqual(binary, "/usr/sbin/deskmilter")
            self.assertTrue(os.access(self.rooted(binary), os.X_OK), binary)
            self.assertIn(f"-c {CONFIG}", args)
        doc = re.search(r"file:(\S+)", unit).group(1)
        self.assertTrue(os.path.isfile(self.rooted(doc)), doc)

    def test_installed_config_passes_check(self):
        conf = self.rooted(CONFIG)
        r = subprocess.run([self.rooted("/usr/sbin/deskmilter"), "-n", "-c", conf],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.strip(), f"{conf}: ok")
        with open(conf) as f:
            text = f.read()
        self.assertIn('socket = "unix:/var/spool/postfix/deskmilter/deskmilter.sock"', text)
        self.assertIn('dir = "/var/lib/deskmilter/store"', text)
        self.assertIn('spool_dir = "/var/lib/deskmilter/spool"', text)
        # The rest is the example, line for line.
        with open(os.path.join(SOURCE_DIR, "config", "deskmilter.example.toml")) as f:
            example = f.read()
        self.assertTrue(text.endswith(example[example.index("\n[limits]\n"):]))
        # And deskmilter --version is the package version.
        version = subprocess.run([self.rooted("/usr/sbin/deskmilter"), "--version"],
                                 capture_output=True, text=True, timeout=60).stdout.split()[-1]
        pkg_version = run("dpkg-deb", "-f", self.deb, "Version").stdout.strip()
        self.assertTrue(pkg_version.startswith(version), (version, pkg_version))

    def test_installed_deskctl_reads_the_config(self):
        # deskctl opens the store named in the config; point it at an empty one in the scratch
        # root by running it on a copy whose only change is the store and spool paths.
        with open(self.rooted(CONFIG)) as f:
            text = f.read()
        store = self.rooted("/var/lib/deskmilter/store")
        text = text.replace('"/var/lib/deskmilter/', '"' + self.rooted("/var/lib/deskmilter") + "/")
        copy = os.path.join(self.root + ".deskctl.toml")
        with open(copy, "w") as f:
            f.write(text)
        try:
            os.makedirs(store, exist_ok=True)
            r = subprocess.run([self.rooted("/usr/sbin/deskctl"), "-c", copy, "tickets", "--json"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.strip(), "[]")
        finally:
            os.remove(copy)
            shutil.rmtree(self.rooted("/var"), ignore_errors=True)

    def test_man_pages_open(self):
        for section, page in (("8", "deskmilter"), ("8", "deskctl"), ("5", "deskmilter.toml")):
            r = subprocess.run(["man", "-M", self.rooted("/usr/share/man"), section, page],
                               capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, MANPAGER="cat", PAGER="cat", MAN_KEEP_FORMATTING="0"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(page, r.stdout)

    def test_postinst_in_scratch_root(self):
        """The postinst as `dpkg --root` runs it (DPKG_ROOT), on a root that has Postfix's group."""
        root = tempfile.mkdtemp(prefix="deskpostinst.")
        try:
            run("dpkg-deb", "-x", self.deb, root)
            os.makedirs(os.path.join(root, "etc"), exist_ok=True)
            with open(os.path.join(root, "etc", "passwd"), "w") as f:
                f.write("root:x:0:0:root:/root:/bin/sh\npostfix:x:101:101::/var/spool/postfix:"
                        "/usr/sbin/nologin\n")
            with open(os.path.join(root, "etc", "group"), "w") as f:
                f.write("root:x:0:\npostfix:x:101:\n")
            ctrl = root + ".control"
            run("dpkg-deb", "-e", self.deb, ctrl)
            r = run(os.path.join(ctrl, "postinst"), "configure", "",
                    env=dict(os.environ, DPKG_ROOT=root))
            shutil.rmtree(ctrl, ignore_errors=True)
            with open(os.path.join(root, "etc", "passwd")) as f:
                user = [l for l in f.read().splitlines() if l.startswith("deskmilter:")]
            self.assertEqual(len(user), 1, r.stderr)
            fields = user[0].split(":")
            self.assertEqual(fields[5], "/var/lib/deskmilter")
            with open(os.path.join(root, "etc", "group")) as f:
                group = [l for l in f.read().splitlines() if l.startswith("deskmilter:")]
            self.assertEqual(len(group), 1)
            gid = int(group[0].split(":")[2])
            sock_dir = os.stat(os.path.join(root, "var/spool/postfix/deskmilter"))
            self.assertEqual((sock_dir.st_mode & 0o7777, sock_dir.st_gid), (0o2750, 101))
            self.assertEqual(sock_dir.st_uid, int(fields[2]))
            conf_dir = os.stat(os.path.join(root, "etc/deskmilter"))
            self.assertEqual((conf_dir.st_mode & 0o777, conf_dir.st_gid), (0o750, gid))
            conf = os.stat(os.path.join(root, CONFIG.lstrip("/")))
            self.assertEqual((conf.st_mode & 0o777, conf.st_gid), (0o640, gid))
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def test_cmake_install_keeps_an_existing_config(self):
        dest = tempfile.mkdtemp(prefix="deskdestdir.")
        try:
            conf = os.path.join(dest, CONFIG.lstrip("/"))
            os.makedirs(os.path.dirname(conf))
            with open(conf, "w") as f:
                f.write("# the admin's own file\n")
            r = run("cmake", "--install", BUILD, env=dict(os.environ, DESTDIR=dest))
            with open(conf) as f:
                self.assertEqual(f.read(), "# the admin's own file\n")
            self.assertIn("Keeping existing", r.stdout)
            self.assertTrue(os.access(os.path.join(dest, "usr/sbin/deskmilter"), os.X_OK))
            # And without one, it is installed.
            shutil.rmtree(os.path.join(dest, "etc"))
            run("cmake", "--install", BUILD, env=dict(os.environ, DESTDIR=dest))
            with open(conf) as f:
                self.assertIn('dir = "/var/lib/deskmilter/store"', f.read())
        finally:
            shutil.rmtree(dest, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
