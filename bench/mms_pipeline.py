"""The MMS pipeline for a 1 MB and a 5 MB photo, stage by stage, beside bare Pillow and raw AES-GCM.

    .venv/bin/python -m bench.mms_pipeline --reps 10

Each rep runs what the worker runs for one attachment: fetch from a local Twilio-like server (basic auth,
tests/fake_twilio.py), sniff + decode + strip EXIF + thumbnail + re-encode (media.process), then seal and
write both blobs with fsync (attachments.write_blob). Baselines from the same run: bare Pillow (open,
save as JPEG, nothing else) and raw `cryptography` AESGCM.encrypt on the same bytes, so AES-GCM's share
of the pipeline and the keyring's overhead over raw AES-GCM are ratios, not absolute times.
Writes bench/results/mms_pipeline.json.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import time

from PIL import Image

from bench.common import AppEnv, machine, percentiles, save

MB = 1024 * 1024


def photo(target_bytes: int, seed: int = 1) -> bytes:
    """A camera-like JPEG of about target_bytes (gradient plus sensor noise) with EXIF GPS and rotation."""
    rng = random.Random(seed)
    scale = 1.0
    for _ in range(8):
        width, height = int(1600 * scale), int(1200 * scale)
        base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
        noise = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        image = Image.blend(base, noise, 0.35)
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotate 90 (exercises exif_transpose)
        exif[0x010F] = "BenchCam"
        exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 46.0, 30.0), 3: "W", 4: (122.0, 25.0, 10.0)})
        out = io.BytesIO()
        image.save(out, "JPEG", quality=92, exif=exif.tobytes())
        data = out.getvalue()
        if abs(len(data) - target_bytes) / target_bytes < 0.04:
            return data
        scale *= (target_bytes / len(data)) ** 0.5
    return data


def timed(func, *args):
    """(result, milliseconds)."""
    started = time.perf_counter()
    result = func(*args)
    return result, (time.perf_counter() - started) * 1000


def bench_size(label: str, data: bytes, reps: int, fake, env: AppEnv) -> dict:
    """Time each stage of the pipeline and the baselines over `reps` runs."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from inbox.crypto import keyring
    from inbox.media import processing as media
    from inbox.media.attachments import write_blob
    from inbox.models import Attachment

    url = fake.add_media("MM" + "0" * 32, data, "image/jpeg")
    origins = media.parse_origins(fake.url)
    auth = (fake.account_sid, fake.auth_token)
    raw_aes = AESGCM(os.urandom(32))
    stages: dict[str, list[float]] = {
        k: [] for k in ("fetch", "process", "seal", "write", "total", "bare_pillow", "raw_aesgcm")
    }
    for _ in range(reps):
        fetched, t_fetch = timed(lambda: media.fetch(url, allowed_origins=origins, auth=auth))
        processed, t_process = timed(media.process, fetched)
        att = Attachment(uid=os.urandom(16).hex())
        _, t_write = timed(
            lambda a=att, p=processed: (
                write_blob(a, "original", p.data),
                write_blob(a, "thumb", p.thumbnail),
            )
        )
        # AES-GCM's part of write_blob, timed alone on the same two blobs.
        _, t_seal = timed(lambda p=processed: (keyring().seal(p.data, "x"), keyring().seal(p.thumbnail, "x")))
        _, t_raw = timed(
            lambda p=processed: (
                raw_aes.encrypt(os.urandom(12), p.data, b"x"),
                raw_aes.encrypt(os.urandom(12), p.thumbnail, b"x"),
            )
        )
        _, t_bare = timed(lambda f=fetched: Image.open(io.BytesIO(f)).save(io.BytesIO(), "JPEG", quality=88))
        stages["fetch"].append(t_fetch)
        stages["process"].append(t_process)
        stages["write"].append(t_write)
        stages["seal"].append(t_seal)
        stages["raw_aesgcm"].append(t_raw)
        stages["bare_pillow"].append(t_bare)
        stages["total"].append(t_fetch + t_process + t_write)
    summary = {k: {p: round(v, 2) for p, v in percentiles(vals).items()} for k, vals in stages.items()}
    med = {k: summary[k]["p50"] for k in summary}
    return {
        "label": label,
        "input_bytes": len(data),
        "stored_bytes": len(processed.data),
        "size": f"{processed.width}x{processed.height}",
        "ms": summary,
        "aes_share_of_total": round(med["seal"] / med["total"], 4),
        "seal_over_raw_aesgcm": round(med["seal"] / med["raw_aesgcm"], 2),
        "raw_aesgcm_mib_per_s": round((len(processed.data) / MB) / (med["raw_aesgcm"] / 1000), 1),
        "process_over_bare_pillow": round(med["process"] / med["bare_pillow"], 2),
    }


def main() -> None:
    """1 MB and 5 MB photos; prints and saves medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()

    from tests.fake_twilio import FakeTwilio

    env = AppEnv()
    results = {"machine": machine(), "config": vars(args).copy(), "sizes": []}
    try:
        with FakeTwilio() as fake, env.app_context():
            # Decimal megabytes: a "5 MB" photo must stay under the 5 MiB download cap.
            for label, size in (("1 MB", 1_000_000), ("5 MB", 5_000_000)):
                data = photo(size)
                result = bench_size(label, data, args.reps, fake, env)
                results["sizes"].append(result)
                med = {k: v["p50"] for k, v in result["ms"].items()}
                print(
                    f"{label} ({len(data) / 1e6:.2f} MB, {result['size']}): total p50 {med['total']:.0f} ms "
                    f"(fetch {med['fetch']:.0f}, process {med['process']:.0f}, write {med['write']:.0f}); "
                    f"AES share {100 * result['aes_share_of_total']:.1f}%, seal/raw "
                    f"{result['seal_over_raw_aesgcm']}x, process/bare Pillow {result['process_over_bare_pillow']}x",
                    flush=True,
                )
    finally:
        env.cleanup()
    print("saved", save("mms_pipeline", results))


if __name__ == "__main__":
    main()
