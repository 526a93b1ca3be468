"""The Data Docs offline: the scripts, styles and fonts GX's pages load from CDNs, taken from the npm
registry at build time (`make setup` → `python -m quality.docs_assets fetch`) into var/vendor/docs-assets,
copied beside the docs and referenced there, so a page opens without any request leaving the machine.

Each CDN URL GX writes maps to one file of one pinned npm package. GX's logo (an S3 image carrying the
project's id) and its newsletter link are removed. Run `localise(docs_dir)` after every docs build.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from hub.settings import REPO_ROOT

log = logging.getLogger(__name__)

VENDOR_DIR = Path(os.environ.get("HUB_DOCS_ASSETS_DIR") or REPO_ROOT / "var" / "vendor" / "docs-assets")
SITE_FOLDER = "static/vendor"  # under the docs root

# package@version → files to take from the tarball (paths inside the package).
PACKAGES = {
    "jquery@3.7.1": ["dist/jquery.min.js"],
    "bootstrap@4.3.1": ["dist/css/bootstrap.min.css", "dist/js/bootstrap.min.js"],
    "bootstrap-table@1.19.1": [
        "dist/bootstrap-table.min.css",
        "dist/bootstrap-table.min.js",
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    ],
    "popper.js@1.12.9": ["dist/umd/popper.min.js"],
    "bootstrap-datepicker@1.9.0": ["dist/css/bootstrap-datepicker.min.css", "dist/js/bootstrap-datepicker.min.js"],
    "@fortawesome/fontawesome-free@6.6.0": [
        "css/all.min.css",
        *(
            f"webfonts/{name}"
            for name in ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")
            for name in (f"{name}.woff2", f"{name}.ttf")
        ),
    ],
    "@forevolve/bootstrap-dark@1.1.0": ["dist/css/bootstrap-prefers-dark.css"],
    "vega@5.33.1": ["build/vega.min.js"],
    "vega-lite@5.23.0": ["build/vega-lite.min.js"],
    "vega-embed@6.29.0": ["build/vega-embed.min.js"],
}

# The URLs GX 1.x's templates write → (package folder, file). bootstrap-table's filter-control CSS is
# referenced from the 1.19.0 release; 1.19.1's file is the same stylesheet.
CDN_FILES = {
    "https://code.jquery.com/jquery-3.7.1.min.js": ("jquery", "dist/jquery.min.js"),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap",
        "dist/css/bootstrap.min.css",
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": ("bootstrap", "dist/js/bootstrap.min.js"),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table",
        "dist/bootstrap-table.min.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table",
        "dist/bootstrap-table.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.js",
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.css",
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table",
        "dist/extensions/filter-control/bootstrap-table-filter-control.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js",
        "dist/umd/popper.min.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker",
        "dist/css/bootstrap-datepicker.min.css",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker",
        "dist/js/bootstrap-datepicker.min.js",
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free",
        "css/all.min.css",
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark",
        "dist/css/bootstrap-prefers-dark.css",
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": ("vega", "build/vega.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-lite@5": ("vega-lite", "build/vega-lite.min.js"),
    "https://cdn.jsdelivr.net/npm/vega-embed@6": ("vega-embed", "build/vega-embed.min.js"),
}
# GX's logo from S3 (its URL carries the project's id: a beacon) and its newsletter form link.
_GX_LOGO = re.compile(r'<img[^>]+src="https://great-expectations-web-assets[^"]*"[^>]*>')
_GX_LINK = re.compile(r'href="https://greatexpectations\.io[^"]*"')
# One definition of pass rate: GX's "Success Percent" counts expectations, the catalogue's 通过率 counts rows.
PASS_RATE_NOTE = (
    '<div class="alert alert-info m-2" data-hub="pass-rate-note" lang="zh-CN">说明：本页的 Success Percent 是'
    "通过的检查（期望）占全部检查的比例；目录与覆盖率报告中的“通过率”是通过全部关键检查的行数 ÷（落地行数 + 死信行数）。"
    "一条关键检查在不合格行不超过 1 − 质量阈值（资源页所示，默认 95%）时判为通过，所以两者可以不同。</div>"
)
_BODY = re.compile(r"(<body[^>]*>)")
# GX writes its icon's path one folder short on validation pages (it counts the suite's dots, not the
# page's depth): every page gets it from its own depth.
_GX_ICON = re.compile(r'href="(?:\.{1,2}/)*static/images/favicon\.ico"')
_EXTERNAL = re.compile(r'(?:src|href)="(https?://[^"]+)"')


class DocsAssetsError(RuntimeError):
    """The assets could not be fetched from the npm registry (build time)."""


def _package_folder(spec: str) -> str:
    return spec.rsplit("@", 1)[0]


def fetch(vendor_dir: Path = VENDOR_DIR) -> Path:
    """Take each pinned package from the npm registry (`npm pack`) and keep the files the docs use."""
    npm = shutil.which("npm")
    if npm is None:
        raise DocsAssetsError("npm is not installed: install it (apt-get install npm) to vendor the Data Docs assets")
    with tempfile.TemporaryDirectory(prefix="hub-docs-assets-") as scratch:
        for spec, files in PACKAGES.items():
            target = vendor_dir / _package_folder(spec)
            if all((target / name).is_file() for name in files):
                continue
            done = subprocess.run(
                [npm, "pack", "--silent", spec, "--pack-destination", scratch], capture_output=True, text=True
            )
            if done.returncode != 0:
                raise DocsAssetsError(f"npm pack {spec} failed: {done.stderr.strip()[-500:]}")
            tarball = Path(scratch) / done.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as archive:
                for name in files:
                    member = archive.extractfile(f"package/{name}")
                    if member is None:
                        raise DocsAssetsError(f"{spec} has no {name}")
                    (target / name).parent.mkdir(parents=True, exist_ok=True)
                    (target / name).write_bytes(member.read())
    return vendor_dir


def localise(docs_dir: Path, vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Copy the vendored assets beside the docs and point every page at them; returns the external URLs
    still referenced (should be none)."""
    site_vendor = docs_dir / SITE_FOLDER
    if vendor_dir.is_dir():
        shutil.copytree(vendor_dir, site_vendor, dirs_exist_ok=True)
    else:
        log.warning("no vendored Data Docs assets in %s: run `make setup` (npm) — pages will lack styles", vendor_dir)
    left = set()
    for page in docs_dir.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        prefix = "../" * (len(page.relative_to(docs_dir).parts) - 1)
        localised = _GX_LINK.sub('href="#"', _GX_LOGO.sub("", html))
        localised = _GX_ICON.sub(f'href="{prefix}static/images/favicon.ico"', localised)
        if 'data-hub="pass-rate-note"' not in localised:
            localised = _BODY.sub(lambda found: found.group(1) + PASS_RATE_NOTE, localised, count=1)
        for url, (package, name) in CDN_FILES.items():
            localised = localised.replace(f'"{url}"', f'"{prefix}{SITE_FOLDER}/{package}/{name}"')
        if localised != html:
            page.write_text(localised, encoding="utf-8")
        left.update(_EXTERNAL.findall(localised))
    if left:
        log.warning("Data Docs still reference external URLs: %s", ", ".join(sorted(left)))
    return sorted(left)


if __name__ == "__main__":  # build time: `python -m quality.docs_assets fetch`
    if sys.argv[1:] != ["fetch"]:
        sys.exit("usage: python -m quality.docs_assets fetch")
    print(f"Data Docs assets in {fetch()}")
