"""Read a piw site's simple index the way installers do, with pypi-simple, and print what it
understood as one JSON document; the Rust test compares that with the rows.

    python -W error read_simple.py BASE_URL DOWNLOAD_DIR PACKAGE...

Every page is asked for twice, once accepting only HTML and once only PEP 691 JSON, so that each
of `simple/index.html`, `simple/index.json` and each package's `index.html` and `index.json` is
parsed (nginx picks the file by the Accept header); each file is downloaded and its core metadata
read, both checked against the digests the page gave. Run with `-W error`: any warning pypi-simple
gives (an unexpected repository version, a malformed attribute) ends the run with a traceback.
"""
import json
import sys
import warnings

from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, PyPISimple

warnings.simplefilter("error")

FORMATS = {"html": ACCEPT_HTML_ONLY, "json": ACCEPT_JSON_ONLY}


def package(p):
    return {
        "filename": p.filename,
        "url": p.url,
        "project": p.project,
        "version": p.version,
        "package_type": p.package_type,
        "digests": p.digests,
        "requires_python": p.requires_python,
        "has_sig": p.has_sig,
        "is_yanked": p.is_yanked,
        "yanked_reason": p.yanked_reason,
        "has_metadata": p.has_metadata,
        "metadata_digests": p.metadata_digests,
        "size": p.size,
        "upload_time": p.upload_time.isoformat() if p.upload_time else None,
    }


def fetched(client, p, directory):
    """Download the wheel and its core metadata, each checked against the digests the page gave
    (pypi-simple raises on a mismatch); the metadata's Name and Version."""
    client.download_package(p, directory + "/" + p.filename, verify=True)
    metadata = client.get_package_metadata(p, verify=True) if p.has_metadata else ""
    fields = dict(line.split(": ", 1) for line in metadata.splitlines() if ": " in line)
    return {"name": fields.get("Name"), "version": fields.get("Version")}


def main(base, directory, packages):
    out = {"root": {}, "projects": {}}
    for name, accept in FORMATS.items():
        with PyPISimple(endpoint=base + "/simple/", accept=accept) as client:
            index = client.get_index_page()
            out["root"][name] = {"repository_version": index.repository_version, "projects": index.projects}
            for project in packages:
                page = client.get_project_page(project)
                out["projects"].setdefault(project, {})[name] = {
                    "project": page.project,
                    "repository_version": page.repository_version,
                    "versions": page.versions,
                    "packages": [package(p) for p in page.packages],
                    "fetched": {p.filename: fetched(client, p, directory) for p in page.packages},
                }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
