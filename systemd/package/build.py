"""Build the Debian package: ``canteen-agent_<version>_<arch>.deb``.

    python systemd/package/build.py --fetch            # download the wheels (network)
    python systemd/package/build.py [--arch arm64]     # build, offline, from those wheels

The package holds the agent and every Python dependency in a private virtual environment,
``/opt/canteen-agent/venv``, built from wheels only (``pip install --no-index --target``),
so one machine builds both ``amd64`` and ``arm64`` (Raspberry Pi OS bookworm): pip picks
the target's manylinux wheels with ``--platform``. Every runtime dependency publishes
manylinux aarch64 wheels for CPython 3.11 except ``evdev`` (HID badge readers), which
ships only a source archive: its wheel is compiled here for amd64 and, for arm64, with the
cross compiler (``gcc-aarch64-linux-gnu`` and ``libpython3.11-dev:arm64``) when present,
else taken from the wheel directory, where a wheel built on a Pi is put
(``pip wheel evdev -w .build/wheels/arm64``; see systemd/package/README.md).

The virtual environment is laid out by hand (``pyvenv.cfg`` and ``bin/python`` pointing at
Debian's ``/usr/bin/python3``): nothing in it names the build machine, and a copy of it
elsewhere still runs with ``venv/bin/python -m agent`` (remote updates install releases
beside it that way). Byte code is compiled at build time with unchecked hashes, because
``ProtectSystem=strict`` keeps the service from writing ``__pycache__``.

Everything the build makes goes under ``build/package`` and the ``.deb`` into ``dist/``.
"""

from __future__ import annotations

import argparse
import email.parser
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
NAME = "canteen-agent"
PY = "3.11"
PLATFORMS = {
    "amd64": ["manylinux2014_x86_64", "manylinux_2_28_x86_64", "manylinux_2_34_x86_64",
              "manylinux_2_36_x86_64", "linux_x86_64"],
    "arm64": ["manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64",
              "manylinux_2_36_aarch64", "linux_aarch64"],
}
SOURCE_ONLY = ["evdev"]
BUILD_REQUIRES = ["setuptools>=77", "wheel"]  # pyproject.toml [build-system], installed offline  # dependencies that publish no wheels: built here (see above)


def say(text: str) -> None:
    print(f"build.py: {text}", file=sys.stderr, flush=True)


def run(*args: str | Path, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]


def host_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def project_version(source: Path) -> str:
    text = (source / "pyproject.toml").read_text()
    found = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if not found:
        raise SystemExit("no version in pyproject.toml")
    return found.group(1)


def runtime_requirements(source: Path) -> list[str]:
    """``[project] dependencies`` of pyproject.toml (tomllib: Python >= 3.11)."""
    import tomllib

    with open(source / "pyproject.toml", "rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


# --- source: the tracked files only, as a clean checkout has them -------------------------

def clean_source(dest: Path, version: str | None, origin: Path = REPO) -> Path:
    """The tracked files of ``origin`` (a git checkout), or all of a tree that is none."""
    if (origin / ".git").exists():
        listed = subprocess.run(["git", "-C", str(origin), "ls-files", "-z"], capture_output=True,
                                check=True).stdout.decode().split("\0")
    else:
        listed = [str(p.relative_to(origin)) for p in origin.rglob("*") if p.is_file()]
    for rel in filter(None, listed):
        src = origin / rel
        if not src.is_file():
            continue  # deleted in the working tree
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    if version:
        pyproject = dest / "pyproject.toml"
        pyproject.write_text(re.sub(r'^version\s*=\s*"[^"]+"', f'version = "{version}"',
                                    pyproject.read_text(), count=1, flags=re.M))
    return dest


# --- wheels ---------------------------------------------------------------------------------

def pip(*args: str | Path, env: dict[str, str] | None = None, python: str = sys.executable) -> None:
    run(python, "-m", "pip", "--disable-pip-version-check", *args, env=env)


def platform_flags(arch: str) -> list[str]:
    flags: list[str] = []
    for tag in PLATFORMS[arch]:
        flags += ["--platform", tag]
    return flags + ["--python-version", PY, "--implementation", "cp", "--abi", "cp311",
                    "--abi", "abi3", "--abi", "none", "--only-binary=:all:"]


def fetch(arch: str, wheels: Path, source: Path) -> None:
    """Download every runtime dependency's wheel for ``arch`` (needs the package index)."""
    wheels.mkdir(parents=True, exist_ok=True)
    reqs = [r for r in runtime_requirements(source)
            if not any(r.lower().startswith(s) for s in SOURCE_ONLY)]
    pip("download", "-q", "-d", wheels, *platform_flags(arch), *reqs)
    pip("download", "-q", "-d", wheels, "--only-binary=:all:", *BUILD_REQUIRES)  # the project's own
    pip("download", "-q", "-d", wheels, "--no-binary=:all:", "--no-deps",
        *[r for r in runtime_requirements(source) if any(r.lower().startswith(s) for s in SOURCE_ONLY)])
    build_source_only(arch, wheels)


def build_source_only(arch: str, wheels: Path) -> None:
    """Wheels for the dependencies that publish none, from their sdists in ``wheels``."""
    for name in SOURCE_ONLY:
        if list(wheels.glob(f"{name}-*.whl")):
            continue
        sdists = sorted(wheels.glob(f"{name}-*.tar.gz"))
        if not sdists:
            raise SystemExit(f"no {name} source archive in {wheels}: run with --fetch first")
        say(f"building the {name} wheel for {arch} from {sdists[-1].name}")
        if arch == host_arch():
            # Debian's interpreter and headers, as on the box (another Python would leave its
            # own library path in the extension's RUNPATH); its own build deps, isolated
            pip("wheel", "-q", "--no-deps", "-w", wheels, sdists[-1], python="/usr/bin/python3")
        else:
            cross_wheel(arch, wheels, sdists[-1])


CROSS = {"arm64": ("aarch64-linux-gnu", "linux-aarch64")}
CROSS_DEBS = ["libpython3.11-dev", "libpython3.11-minimal", "libpython3.11-stdlib"]


def cross_wheel(arch: str, wheels: Path, sdist: Path) -> None:
    """A C extension for ``arch`` built here, the way Debian cross-builds Python modules:
    the cross compiler and the target's own ``pyconfig.h`` and ``_sysconfigdata`` (from its
    libpython3.11 packages, downloaded, never installed) tell setuptools the compiler, the
    extension suffix and the platform tag."""
    if arch not in CROSS:
        raise SystemExit(f"no cross build for {arch}")
    triplet, platform = CROSS[arch]
    if shutil.which(f"{triplet}-gcc") is None:
        raise SystemExit(f"{sdist.name} publishes no {arch} wheel: install gcc-{triplet} to cross-compile it "
                         f"(./dev.sh package --arch {arch} does), or build it on the target "
                         f"(pip wheel {sdist.name.split('-')[0]} -w {wheels}) and copy the wheel here")
    cross = REPO / "build" / "cross" / arch
    sysroot = cross / "root"
    sysconfig = f"_sysconfigdata__{platform.replace('-', '_', 1)}-linux-gnu"
    if not (sysroot / "usr/lib/python3.11" / f"_sysconfigdata__{triplet}.py").exists():
        debs = cross / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        try:
            run("apt-get", "download", *[f"{d}:{arch}" for d in CROSS_DEBS], cwd=debs, stdout=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, FileNotFoundError):
            raise SystemExit(f"cannot download {', '.join(CROSS_DEBS)} for {arch}: as root, "
                             f"dpkg --add-architecture {arch} && apt-get update (./dev.sh package --arch {arch} does)") from None
        for deb in debs.glob("*.deb"):
            run("dpkg-deb", "-x", deb, sysroot)
    venv = cross / "venv"
    if not (venv / "bin/python").exists():
        run("/usr/bin/python3", "-m", "venv", venv)
        pip("install", "-q", "--no-index", "--find-links", wheels, *BUILD_REQUIRES, python=str(venv / "bin/python"))
    site = venv / "lib" / f"python{PY}" / "site-packages"
    shutil.copyfile(sysroot / "usr/lib/python3.11" / f"{sysconfig}.py", site / f"{sysconfig}.py")
    # evdev generates its key codes from the input headers it finds and compiles them
    # against the compiler's: give both the same copy (the cross sysroot's are older)
    headers = cross / "input-headers" / "linux"
    headers.mkdir(parents=True, exist_ok=True)
    for name in ("input.h", "input-event-codes.h", "uinput.h"):
        shutil.copyfile(Path("/usr/include/linux") / name, headers / name)
    env = dict(os.environ, _PYTHON_HOST_PLATFORM=platform, _PYTHON_SYSCONFIGDATA_NAME=sysconfig,
               CPATH=str(headers.parent), CFLAGS=f"-I{sysroot / 'usr/include'}")
    pip("wheel", "-q", "--no-build-isolation", "--no-deps", "-w", wheels, sdist, env=env,
        python=str(venv / "bin/python"))


def project_wheel(source: Path, out: Path, wheels: Path) -> Path:
    pip("wheel", "-q", "--no-deps", "--no-index", "--find-links", wheels, "-w", out, source)
    return next(out.glob("canteen_agent-*.whl"))


# --- the staged tree ------------------------------------------------------------------------

def settle_target_leftovers(venv: Path, site: Path) -> None:
    """``pip --target`` leaves the console scripts (with this machine's interpreter) and the
    data files in site-packages. The scripts go (the venv's own are written below); the data
    files (the Modbus profiles) go where the agent looks for them, ``sys.prefix/share``."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    if (site / "share").is_dir():
        shutil.rmtree(venv / "share", ignore_errors=True)
        shutil.move(str(site / "share"), venv / "share")


def reuse_venv(venv: Path, source_venv: Path, arch: str, wheels: Path, agent_wheel: Path) -> None:
    """The dependencies of an earlier build's venv, with only this agent put in: for a
    second package of another agent version from the same wheels (the tests' updates)."""
    shutil.copytree(source_venv, venv, symlinks=True)
    site = venv / "lib" / f"python{PY}" / "site-packages"
    for old in site.glob("canteen_agent-*.dist-info"):
        for top in (old / "top_level.txt").read_text().split():
            shutil.rmtree(site / top, ignore_errors=True)
        shutil.rmtree(old)
    pip("install", "-q", "--no-index", "--no-deps", "--target", site, "--no-compile", *platform_flags(arch),
        agent_wheel)
    tops = next(site.glob("canteen_agent-*.dist-info")).joinpath("top_level.txt").read_text().split()
    settle_target_leftovers(venv, site)
    run("/usr/bin/python3", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
        "-s", str(venv), "-p", f"/opt/{NAME}/venv", *[site / t for t in tops], stdout=subprocess.DEVNULL)


def make_venv(venv: Path, arch: str, wheels: Path, agent_wheel: Path) -> None:
    site = venv / "lib" / f"python{PY}" / "site-packages"
    site.mkdir(parents=True)
    (venv / "lib64").symlink_to("lib")
    bindir = venv / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to("/usr/bin/python3")
    (bindir / "python").symlink_to("python3")
    (bindir / f"python{PY}").symlink_to("python3")
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\ninclude-system-site-packages = false\n"
                                     f"version = {PY}\n")
    pip("install", "-q", "--no-index", "--find-links", wheels, "--target", site, "--no-compile",
        *platform_flags(arch), agent_wheel)
    settle_target_leftovers(venv, site)
    for script, module in (("canteen-agent", "agent.cli.main"), ("canteen-sim", "simulator.cli")):
        path = bindir / script
        path.write_text(f"#!/opt/{NAME}/venv/bin/python\nimport sys\nfrom {module} import main\n\n"
                        f"if __name__ == \"__main__\":\n    sys.exit(main())\n")
        path.chmod(0o755)
    run("/usr/bin/python3", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
        "-s", str(venv), "-p", f"/opt/{NAME}/venv", site, stdout=subprocess.DEVNULL)


def installed_size_kib(root: Path) -> int:
    total = 0
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
    return total // 1024 + 1


def write_control(stage: Path, version: str, arch: str) -> None:
    debian = stage / "DEBIAN"
    debian.mkdir()
    template = (HERE / "control.in").read_text()
    control = (template.replace("@VERSION@", version).replace("@ARCH@", arch)
               .replace("@SIZE@", str(installed_size_kib(stage))))
    (debian / "control").write_text(control)
    for script in ("postinst", "prerm", "postrm"):
        shutil.copy2(HERE / script, debian / script)
        (debian / script).chmod(0o755)


def stage_tree(stage: Path, source: Path, version: str, arch: str, wheels: Path, work: Path,
               venv_from: Path | None = None) -> None:
    opt = stage / "opt" / NAME
    agent_wheel = project_wheel(source, work / "agent-wheel", wheels)
    if venv_from is not None:
        reuse_venv(opt / "venv", venv_from, arch, wheels, agent_wheel)
    else:
        make_venv(opt / "venv", arch, wheels, agent_wheel)
    install(source / "systemd/canteen-agent-launch", opt / "bin/canteen-agent", 0o755)
    (stage / "usr/bin").mkdir(parents=True)
    (stage / "usr/bin/canteen-agent").symlink_to(f"/opt/{NAME}/bin/canteen-agent")
    install(source / "systemd/canteen-agent.service", stage / f"lib/systemd/system/{NAME}.service", 0o644)
    share = stage / "usr/share" / NAME
    install(source / "config/example.yaml", share / "agent.yaml.example", 0o644)
    install(source / "config/minimal.yaml", share / "agent.minimal.yaml", 0o644)
    for profile in sorted((source / "config/profiles").glob("*.yaml")):
        install(profile, share / "profiles" / profile.name, 0o644)
    install(source / "config/certs/make-test-certs.sh", share / "make-certs.sh", 0o755)
    doc = stage / "usr/share/doc" / NAME
    install(HERE / "copyright", doc / "copyright", 0o644)
    gzip_to(source / "README.md", doc / "README.md.gz")
    gzip_to(HERE / "changelog", doc / "changelog.gz")
    gzip_to(HERE / f"{NAME}.1", stage / "usr/share/man/man1" / f"{NAME}.1.gz")
    install(HERE / "lintian-overrides", stage / "usr/share/lintian/overrides" / NAME, 0o644)
    write_control(stage, version, arch)


def install(src: Path, dest: Path, mode: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    dest.chmod(mode)


def gzip_to(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dest, "wb") as raw:
        # mtime 0 and no file name: the same input gives the same bytes
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as out:
            shutil.copyfileobj(fin, out)
    dest.chmod(0o644)


def normalise(stage: Path) -> None:
    """Modes as dpkg and lintian expect: directories 0755; files 0644, but for the
    launcher and the venv's own scripts (nothing in site-packages is run directly:
    wheels mark modules and shared objects executable at random)."""
    site = stage / "opt" / NAME / "venv" / "lib"
    for path in stage.rglob("*"):
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            executable = path.stat().st_mode & 0o111 and not path.is_relative_to(site)
            path.chmod(0o755 if executable else 0o644)


def build_deb(stage: Path, out: Path, compress: str, level: int | None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    control = email.parser.Parser().parsestr((stage / "DEBIAN/control").read_text())
    deb = out / f"{control['Package']}_{control['Version']}_{control['Architecture']}.deb"
    args = ["dpkg-deb", "--root-owner-group", f"-Z{compress}"]
    if level is not None:
        args.append(f"-z{level}")
    env = dict(os.environ, SOURCE_DATE_EPOCH=os.environ.get("SOURCE_DATE_EPOCH", "1767225600"))
    run(*args, "--build", stage, deb, stdout=subprocess.DEVNULL, env=env)
    return deb


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default=None, help="default: this machine's")
    parser.add_argument("--fetch", action="store_true", help="download the wheels first (network)")
    parser.add_argument("--version", help="package this version instead of pyproject.toml's")
    parser.add_argument("--source", type=Path, default=REPO, help="the tree to package (default: this checkout)")
    parser.add_argument("--wheels", type=Path, help="wheel directory (default build/wheels/<arch>)")
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "package")
    parser.add_argument("--compress", choices=["xz", "gzip"], default="xz")
    parser.add_argument("--level", type=int, help="compression level (default: dpkg-deb's)")
    parser.add_argument("--keep-stage", action="store_true", help="leave the staged tree in --work")
    parser.add_argument("--venv-from", type=Path, help="take the dependencies from this staged venv "
                                                        "(a --keep-stage build of the same arch) and put in only the agent")
    args = parser.parse_args(argv)
    arch = args.arch or host_arch()
    if arch not in PLATFORMS:
        raise SystemExit(f"no build for {arch}: amd64 or arm64")
    wheels = (args.wheels or REPO / "build" / "wheels" / arch).resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=args.work, prefix=f"{arch}-") as tmp:
        work = Path(tmp)
        source = clean_source(work / "src", args.version, args.source.resolve())
        version = project_version(source)
        if args.fetch:
            fetch(arch, wheels, source)
        build_source_only(arch, wheels)
        stage = work / "stage"
        say(f"staging {NAME} {version} for {arch} from {wheels}")
        stage_tree(stage, source, version, arch, wheels, work, args.venv_from)
        normalise(stage)
        deb = build_deb(stage, args.out, args.compress, args.level)
        if args.keep_stage:
            kept = args.work / f"stage-{arch}"
            shutil.rmtree(kept, ignore_errors=True)
            shutil.move(str(stage), kept)
    say(f"built {deb} ({deb.stat().st_size / 1e6:.1f} MB, sha256 {sha256(deb)}) "
        f"in {time.monotonic() - started:.0f} s")
    print(deb)
    return 0


if __name__ == "__main__":
    sys.exit(main())

