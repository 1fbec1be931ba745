"""The man pages vswitchd(8) and vswitch-ctl(8), built from docs/*.md by
pandoc (docs/man/CMakeLists.txt): man renders them, with the sections and
options of the docs they come from."""
import os
import re
import subprocess

import pytest

from conftest import BUILD, TOP

PAGES = ["vswitchd", "vswitch-ctl"]


@pytest.mark.parametrize("page", PAGES)
def test_man_page_renders(page):
    path = BUILD / "docs" / "man" / f"{page}.8"
    assert path.exists(), f"{path} was not built (is pandoc installed?)"
    env = dict(os.environ, MANWIDTH="100")
    res = subprocess.run(["man", "-l", str(path)], capture_output=True,
                         text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    text = re.sub(r".\x08", "", res.stdout)  # overstrike (bold)
    # The header line names the page and its section.
    assert text.lstrip().startswith(f"{page}(8)")
    # Every level-2 heading of the doc is a section of the page.
    doc = (TOP / "docs" / f"{page}.md").read_text()
    headings = re.findall(r"^## (.+)$", doc, re.M)
    assert "NAME" in headings and "SYNOPSIS" in headings
    for heading in headings:
        plain = re.sub(r"[`*]", "", heading)
        assert re.search(rf"^{re.escape(plain)}$", text, re.M), heading
    # Every long option of the synopsis is described.
    for option in set(re.findall(r"--[a-z][a-z-]+", doc.split("## ")[2])):
        assert option in text, option
    # The page is current: the doc is not newer than the page.
    assert (path.stat().st_mtime
            >= (TOP / "docs" / f"{page}.md").stat().st_mtime)
