"""test_dockerfiles.py - the images' build stages can build what the Makefile asks for, without a
Docker engine (tests/compose/ builds them for real): every Kaiin Dockerfile installs the same
shared layer of build packages, in the same order (one cached layer for all), and that layer
holds the Debian package of every pkg-config module the Makefile checks before it builds
anything (PKGS and SERVICE_PKGS, in every image) and protoc-c. A library added to the
Makefile and to one Dockerfile only fails the gateway's image build (the Makefile then tries
to install it there, where scripts/ is not copied): found here instead."""

import os
import re
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCKERFILES = ["gateway/Dockerfile", "deploy/service/Dockerfile"]


def shared_layer(path):
    """The packages of the Dockerfile's first apt-get install, in order."""
    with open(os.path.join(REPO, path)) as f:
        text = f.read().replace("\\\n", " ")
    run = re.search(r"apt-get install -y --no-install-recommends ([^&]*)&&", text)
    assert run, path
    return run.group(1).split()


def makefile_modules():
    with open(os.path.join(REPO, "Makefile")) as f:
        text = f.read()
    modules = []
    for name in ("PKGS", "SERVICE_PKGS"):
        line = re.search(r"^%s\s*:=(.*)$" % name, text, re.M)
        assert line, name
        modules += line.group(1).split()
    return modules


def owner(path):
    """The Debian package that installed path."""
    r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
    assert r.returncode == 0, (path, r.stderr)
    return r.stdout.split(":")[0]


def test_every_dockerfile_installs_the_same_shared_layer():
    layers = {path: shared_layer(path) for path in DOCKERFILES}
    assert layers[DOCKERFILES[0]] == layers[DOCKERFILES[1]], layers


@pytest.mark.skipif(not shutil.which("dpkg") or not shutil.which("pkg-config"), reason="needs dpkg and pkg-config")
def test_the_shared_layer_holds_every_library_the_makefile_checks():
    layer = set(shared_layer(DOCKERFILES[0]))
    needed = {}
    for module in makefile_modules():
        directory = subprocess.run(["pkg-config", "--variable=pcfiledir", module],
                                   capture_output=True, text=True).stdout.strip()
        assert directory, "pkg-config does not know %s (make deps installs it)" % module
        needed[module] = owner(os.path.join(directory, module + ".pc"))
    needed["protoc-c"] = owner(shutil.which("protoc-c"))
    missing = {module: package for module, package in needed.items() if package not in layer}
    assert not missing, missing
