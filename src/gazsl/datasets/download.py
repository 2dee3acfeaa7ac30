"""The GAZSL release archive: fetched with resume after a broken transfer, checked, unpacked once."""

from __future__ import annotations

import http.client
import shutil
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from gazsl.io import GazslError, data_error, one_line, sha256_file

# The GAZSL release as re-published with CIZSL (the authors' group): one archive, both datasets.
# The original link in the GAZSL README is a Google Drive folder, which needs an interactive
# confirmation for large files; this copy downloads directly.
RELEASE_URL = "https://www.dropbox.com/s/9qovr86kgogkl6r/CUB_NAB_Data.zip?dl=1"
RELEASE_ARCHIVE = "CUB_NAB_Data.zip"
# Unknown offline: this machine never saw the archive. Until it is filled in, `download`
# prints the SHA-256 it computed and asks the user to compare it with a trusted copy
# (or to pin it with --sha256 on later runs).
RELEASE_SHA256: str | None = None


def download_file(url: str, dest, sha256: str | None = None, retries: int = 5, backoff: float = 2.0,
                  chunk: int = 1 << 20) -> Path:
    """Fetch ``url`` to ``dest``, resuming from ``dest.part`` (HTTP Range) after a broken transfer.

    A broken transfer is retried ``retries`` times with a growing pause; a first connection that fails (no network,
    an unknown host) stops at once, as waiting would not bring the network back."""
    from tqdm import tqdm

    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            response = urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as err:
            if err.code == 416 and have:  # nothing left to fetch: the part is complete
                break
            raise GazslError(f"{url}: HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            if attempt == 0:
                reason = err.reason if isinstance(err, urllib.error.URLError) else err
                raise GazslError(f"{url}: cannot connect ({one_line(reason)}); is this machine online?"
                                 + (f" Run again to resume from {part}" if have else "")) from None
            broken = err
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                with response:
                    if have and getattr(response, "status", 200) != 206:  # the server ignored the range
                        have = 0
                    length = response.headers.get("Content-Length")
                    total = have + int(length) if length and length.isdigit() else None
                    with open(part, "ab" if have else "wb") as f, tqdm(total=total, initial=have, unit="B",
                                                                       unit_scale=True, desc=dest.name) as bar:
                        while block := response.read(chunk):
                            f.write(block)
                            bar.update(len(block))
                if total is not None and part.stat().st_size < total:
                    raise http.client.IncompleteRead(b"", total - part.stat().st_size)
                break
            except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
                broken = err
        if attempt == retries:
            raise GazslError(f"{url}: download failed after {retries + 1} attempts ({one_line(broken)}); "
                             f"run again to resume from {part}") from None
        print(f"transfer broken ({type(broken).__name__}); resuming from byte {part.stat().st_size if part.exists() else 0}")
        time.sleep(backoff * 2 ** attempt)
    digest = sha256_file(part)
    if sha256 is not None and digest != sha256.lower():
        part.unlink()
        raise data_error(dest, f"SHA-256 mismatch: got {digest}, expected {sha256.lower()}; the download was removed")
    if sha256 is None:
        print(f"{dest.name}: sha256={digest}\n  no known checksum for this archive: please compare it with a trusted "
              f"copy, and pin it with --sha256 {digest} on later runs")
    part.replace(dest)
    return dest


def extract_zip(archive, target) -> Path:
    """Unpack ``archive`` into ``target`` (once; a finished unpack is marked by ``target/.complete``)."""
    archive, target = Path(archive), Path(target)
    if (target / ".complete").exists():
        return target
    try:
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise data_error(archive, f"unsafe path in archive: {member}")
            if target.exists():
                shutil.rmtree(target)
            z.extractall(target)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise data_error(archive, f"not a readable zip archive ({one_line(err)})") from None
    (target / ".complete").write_text("ok\n")
    return target


# ------------------------------------------------------------------ CLI
