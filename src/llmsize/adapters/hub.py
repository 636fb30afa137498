"""Hugging Face Hub repo ids as models: `org/name`, `org/name@revision`, `org/name:Q4_K_M` (a GGUF
repo's file by quantization tag) or `org/name:file.gguf`.

Nothing but headers is fetched. config.json and the safetensors index come through huggingface_hub
(its cache, HF_TOKEN, HF_HUB_OFFLINE, HF_ENDPOINT); each weights file contributes only its header,
read with HTTP range requests, as hf-mem and `HfApi.parse_safetensors_file_metadata` do. The headers
are written into *sparse* local files of the weights' true size (the header bytes, then a hole), kept
per commit under the cache folder, so the ordinary file adapters read a Hub repo exactly as they read
a downloaded one, and a second run (or an offline one) needs no network.

huggingface_hub is imported only when a repo id is given: the core never needs it.
"""
from __future__ import annotations

import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmsize.errors import LlmsizeError

# Hub naming rules (huggingface_hub.utils.validate_repo_id): one '/', parts of [A-Za-z0-9._-], at most
# 96 characters in all, not starting or ending with '.' or '-'.
_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REF = re.compile(rf"^(?P<repo>{_PART}/{_PART})(?:@(?P<rev>[A-Za-z0-9._/-]{{1,200}}))?"
                  rf"(?::(?P<sel>[A-Za-z0-9._+-]{{1,200}}))?$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")
FIRST_RANGE = 16_384  # bytes: a shard of a sharded repo (~30 tensors) fits; a larger header takes one more read
GGUF_FIRST = 1 << 20  # a GGUF header holds the tokenizer: start at 1 MiB, grow 4x
MAX_HEADER_BYTES = 256 << 20  # refuse a header claimed larger than this (bounds the work)
MAX_FILES = 2_000  # shards a repo may list before we refuse it
_QUANT_STATE_MAX = 65_536


@dataclass(frozen=True, slots=True)
class RepoRef:
    """A parsed `org/name[@revision][:selector]`."""

    repo_id: str
    revision: str | None = None
    selector: str | None = None

    @property
    def name(self) -> str:
        return self.repo_id.split("/")[1]


def parse_repo_ref(ref: str) -> RepoRef | None:
    """The repo id in `ref`, or None when `ref` is not shaped like one."""
    if len(ref) > 500:
        return None
    m = _REF.match(ref)
    if m is None or ".." in m["repo"] or (m["rev"] and ".." in m["rev"]):
        return None
    return RepoRef(m["repo"], m["rev"], m["sel"])


def cache_root() -> Path:
    """Where header files live: $LLMSIZE_CACHE, else huggingface_hub's HF_HOME/llmsize."""
    env = os.environ.get("LLMSIZE_CACHE")
    if env:
        return Path(env).expanduser() / "hub"
    from huggingface_hub import constants

    return Path(constants.HF_HOME) / "llmsize" / "hub"


def _hub() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise LlmsizeError("a Hugging Face repo id needs huggingface_hub: pip install 'llmsize[hub]' "
                           "(or give a local config.json, folder or weights file)") from None
    return huggingface_hub


def _explain(e: Exception, ref: RepoRef, what: str) -> LlmsizeError:
    """One line for any failure talking to the Hub, saying what to do."""
    from huggingface_hub import constants, errors

    repo = ref.repo_id
    if isinstance(e, errors.GatedRepoError):
        return LlmsizeError(f"{repo} is gated: accept its terms at {constants.ENDPOINT}/{repo} and set HF_TOKEN "
                            f"(or run `hf auth login`)")
    if isinstance(e, errors.RepositoryNotFoundError):
        return LlmsizeError(f"{repo}: no such model repo on {constants.ENDPOINT} (check the spelling; a private "
                            f"repo needs HF_TOKEN)")
    if isinstance(e, errors.RevisionNotFoundError):
        return LlmsizeError(f"{repo}: no revision {ref.revision!r} (give a branch, tag or commit)")
    if isinstance(e, errors.EntryNotFoundError):
        return LlmsizeError(f"{repo}: {what} is not in the repo")
    if isinstance(e, errors.OfflineModeIsEnabled) or isinstance(e, errors.LocalEntryNotFoundError):
        return LlmsizeError(f"{repo}: {what} is not in the local cache and HF_HUB_OFFLINE is set (run once "
                            f"online, or unset HF_HUB_OFFLINE)")
    if isinstance(e, errors.HfHubHTTPError):
        return LlmsizeError(f"{repo}: the Hub refused {what} ({str(e).splitlines()[0]})")
    return LlmsizeError(f"{repo}: cannot reach the Hub at {constants.ENDPOINT} for {what} "
                        f"({e.__class__.__name__}); set HF_HUB_OFFLINE=1 to use the cache")


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _commit(ref: RepoRef, root: Path) -> tuple[str, list[str]]:
    """(commit sha, file names) of the revision; offline, from what an earlier run recorded."""
    rev = ref.revision or "main"
    refs = root / "refs" / rev.replace("/", "--")
    if _offline() or (_SHA.match(rev) and (root / rev / ".files.json").exists()):
        sha = rev if _SHA.match(rev) else (refs.read_text().strip() if refs.exists() else "")
        listing = root / sha / ".files.json" if sha else None
        if listing is None or not listing.exists():
            raise LlmsizeError(f"{ref.repo_id}: revision {rev!r} is not in llmsize's cache and HF_HUB_OFFLINE is "
                               f"set (run once online, or unset HF_HUB_OFFLINE)")
        return sha, json.loads(listing.read_text())
    hub = _hub()
    try:
        info = hub.HfApi().model_info(ref.repo_id, revision=ref.revision)
    except Exception as e:  # noqa: BLE001 - every Hub failure becomes one line
        raise _explain(e, ref, "the repo listing") from None
    sha = str(info.sha or rev)
    files = [s.rfilename for s in (info.siblings or [])]
    if len(files) > MAX_FILES:
        raise LlmsizeError(f"{ref.repo_id}: lists {len(files):,} files (at most {MAX_FILES:,} are read)")
    (root / sha).mkdir(parents=True, exist_ok=True)
    (root / sha / ".files.json").write_text(json.dumps(files))
    refs.parent.mkdir(parents=True, exist_ok=True)
    refs.write_text(sha)
    return sha, files


def _small_file(ref: RepoRef, sha: str, filename: str, dest: Path) -> Path:
    """A small text file (config.json, an index) through huggingface_hub's cache, copied beside the headers."""
    if dest.exists():
        return dest
    hub = _hub()
    try:
        got = hub.hf_hub_download(ref.repo_id, filename, revision=sha)
    except Exception as e:  # noqa: BLE001
        raise _explain(e, ref, filename) from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(Path(got).read_bytes())
    return dest


class _Ranges:
    """HTTP range reads of one file of the repo (token and endpoint from huggingface_hub)."""

    def __init__(self, ref: RepoRef, sha: str, filename: str) -> None:
        hub = _hub()
        self.ref, self.filename = ref, filename
        self.url = hub.hf_hub_url(ref.repo_id, filename, revision=sha)
        self.headers = hub.utils.build_hf_headers()
        self.size: int | None = None

    def get(self, start: int, end: int) -> bytes:
        """Bytes [start, end) (fewer at the end of the file); learns the file's size."""
        from huggingface_hub.utils import get_session, hf_raise_for_status

        try:
            r = get_session().get(self.url, headers={**self.headers, "range": f"bytes={start}-{end - 1}"},
                                  follow_redirects=True, timeout=30)
            hf_raise_for_status(r)
        except Exception as e:  # noqa: BLE001
            raise _explain(e, self.ref, self.filename) from None
        total = r.headers.get("content-range", "").rpartition("/")[2]
        if r.status_code != 206 or not re.fullmatch(r"[0-9]{1,18}", total):  # ASCII digits (isdigit takes '²')
            raise LlmsizeError(f"{self.ref.repo_id}: the server did not answer a range request for {self.filename} "
                               f"(status {r.status_code}); llmsize reads headers only and will not download it")
        self.size = int(total)
        body = r.content
        if len(body) > end - start:
            raise LlmsizeError(f"{self.ref.repo_id}: {self.filename}: the server sent more than the range asked")
        return body


def _sparse(dest: Path, size: int, pieces: list[tuple[int, bytes]]) -> None:
    """A file of `size` bytes holding `pieces` at their offsets and holes elsewhere (no disk used)."""
    tmp = dest.with_name(dest.name + ".part")
    with open(tmp, "wb") as f:
        for off, data in pieces:
            f.seek(off)
            f.write(data)
        f.truncate(size)
    tmp.replace(dest)


def _safetensors_header(ref: RepoRef, sha: str, filename: str, dest: Path) -> None:
    rd = _Ranges(ref, sha, filename)
    head = rd.get(0, FIRST_RANGE)
    assert rd.size is not None
    if len(head) < 8:
        raise LlmsizeError(f"{ref.repo_id}: {filename} is not a safetensors file ({rd.size} bytes)")
    (n,) = struct.unpack("<Q", head[:8])
    if n > min(MAX_HEADER_BYTES, rd.size - 8):
        raise LlmsizeError(f"{ref.repo_id}: {filename} claims a {n:,}-byte header in a {rd.size:,}-byte file")
    if 8 + n > len(head):
        head += rd.get(len(head), 8 + n)
    pieces = [(0, head[:8 + n])]
    # bitsandbytes 4-bit weights keep their original shape in a small JSON blob among the data: fetch
    # those few hundred bytes too, so the reader sees them as in a downloaded file.
    try:
        header = json.loads(head[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = {}  # the safetensors reader reports the malformed header with its own message
    if isinstance(header, dict):
        for name, e in header.items():
            if "quant_state" in name and isinstance(e, dict) and e.get("dtype") == "U8":
                offs = e.get("data_offsets")
                if isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) for o in offs) and \
                        0 <= offs[0] < offs[1] and offs[1] - offs[0] <= _QUANT_STATE_MAX:
                    start = 8 + n + offs[0]
                    pieces.append((start, rd.get(start, 8 + n + offs[1])))
    _sparse(dest, rd.size, pieces)


def _gguf_header(ref: RepoRef, sha: str, filename: str, dest: Path) -> None:
    """Fetch a growing prefix until the GGUF reader parses it wholly inside the bytes fetched."""
    from llmsize.adapters.gguf import read_header

    rd = _Ranges(ref, sha, filename)
    data = rd.get(0, GGUF_FIRST)
    assert rd.size is not None
    while True:
        _sparse(dest, rd.size, [(0, data)])
        try:
            _, tensors, _, _ = read_header(dest)
            if not tensors or min(t.offset for t in tensors) <= len(data) or len(data) >= rd.size:
                return
        except LlmsizeError:
            if len(data) >= rd.size:
                raise
        if len(data) >= MAX_HEADER_BYTES:
            dest.unlink(missing_ok=True)
            raise LlmsizeError(f"{ref.repo_id}: {filename}: GGUF header larger than {MAX_HEADER_BYTES >> 20} MiB")
        data += rd.get(len(data), min(4 * len(data), rd.size, MAX_HEADER_BYTES))


def _pick_gguf(ref: RepoRef, files: list[str]) -> list[str]:
    """The GGUF file(s) the selector names (all splits of a split model)."""
    ggufs = sorted(f for f in files if f.endswith(".gguf"))
    sel = ref.selector
    if sel is None:
        firsts = [f for f in ggufs if not _SPLIT.search(f) or _SPLIT.search(f).group(1) == "00001"]  # type: ignore[union-attr]
        if len(firsts) == 1:
            chosen = firsts
        else:
            tags = sorted({_tag(f) for f in firsts})
            raise LlmsizeError(f"{ref.repo_id} holds {len(firsts)} GGUF files: pick one as {ref.repo_id}:TAG "
                               f"(tags: {', '.join(tags[:20])})")
    elif sel.endswith(".gguf"):
        chosen = [f for f in ggufs if f == sel or f.rsplit("/", 1)[-1] == sel]
    else:
        chosen = [f for f in ggufs if re.search(rf"(?<![A-Za-z0-9]){re.escape(sel)}(?![A-Za-z0-9])", f, re.I)]
    if not chosen:
        tags = sorted({_tag(f) for f in ggufs})
        raise LlmsizeError(f"{ref.repo_id}: no GGUF file matches {sel!r} (tags: {', '.join(tags[:20]) or 'none'})")
    stems = {_SPLIT.sub("", f) for f in chosen}
    if len(stems) > 1:
        raise LlmsizeError(f"{ref.repo_id}: {sel!r} matches {len(stems)} GGUF files ({', '.join(sorted(stems)[:5])}); "
                           f"give the file name")
    return chosen


def _tag(f: str) -> str:
    stem = _SPLIT.sub("", f.rsplit("/", 1)[-1]).removesuffix(".gguf")
    m = re.search(r"(?:^|[-._])((?:UD-)?(?:I?Q\d[A-Z0-9_]*|BF16|F16|F32|MXFP4[A-Z0-9_]*))$", stem, re.I)
    return m.group(1) if m else stem


def fetch(ref: RepoRef) -> Path:
    """A local folder that mirrors the repo's headers (config.json, index, sparse weights files), for the
    file adapters to read; built once per commit."""
    try:
        return _fetch(ref)
    except OSError as e:  # the cache folder: read-only, full, or a name the file system refuses
        raise LlmsizeError(f"{ref.repo_id}: cannot write llmsize's header cache under {cache_root()} "
                           f"({e.strerror or e}); set LLMSIZE_CACHE to a writable folder") from None


def _fetch(ref: RepoRef) -> Path:
    _hub()
    root = cache_root() / ref.repo_id.replace("/", "--")
    sha, files = _commit(ref, root)
    folder = root / sha
    if ref.selector is not None or not any(f.endswith(".safetensors") for f in files):
        ggufs = [f for f in files if f.endswith(".gguf")]
        if ggufs or ref.selector is not None:
            chosen = _pick_gguf(ref, files)
            gdir = folder / "gguf"
            for f in chosen:
                dest = gdir / f.rsplit("/", 1)[-1]
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    _gguf_header(ref, sha, f, dest)
            return gdir / chosen[0].rsplit("/", 1)[-1]
    if "config.json" not in files:
        raise LlmsizeError(f"{ref.repo_id}: the repo has no config.json"
                           + (" and no .gguf file" if not any(f.endswith(".gguf") for f in files) else ""))
    _small_file(ref, sha, "config.json", folder / "config.json")
    top = [f for f in files if "/" not in f]
    index = [f for f in top if f.endswith(".safetensors.index.json")]
    shards = [f for f in top if f.endswith(".safetensors")]
    if len(index) == 1:
        _small_file(ref, sha, index[0], folder / index[0])
        wm = json.loads((folder / index[0]).read_text(encoding="utf-8")).get("weight_map", {})
        if isinstance(wm, dict):
            shards = sorted({str(v) for v in wm.values()})
    if len(shards) > MAX_FILES:
        raise LlmsizeError(f"{ref.repo_id}: {len(shards):,} shards (at most {MAX_FILES:,} are read)")
    for s in shards:
        dest = folder / s
        if not dest.exists():
            if "/" in s or s.startswith("."):
                raise LlmsizeError(f"{ref.repo_id}: shard name {s!r} is not a plain file name")
            _safetensors_header(ref, sha, s, dest)
    return folder
