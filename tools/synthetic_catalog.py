#!/usr/bin/python3
"""Synthetic catalogs at scale: N items as JSON Lines for `semrec import` (items.jsonl format).

Each item is {"id", "text", "categories", "attributes"}; with --embedding-dim D it also carries
"embedding": a random unit vector of D floats (seeded, normally distributed then normalized),
for servers that take precomputed embeddings and so skip the encoder (1M items in minutes).
With --latent-dim R the vectors come from an R-dimensional subspace plus isotropic noise
(--latent-noise of each component's spread), closer to text embeddings, whose intrinsic
dimension is low, than isotropic vectors (on which HNSW recall is poor at any practical ef); the
same model as index_scale_benchmark's --latent_dim.

Item i is "item-<i>" (--id-prefix) in category "cat-<i % categories>" (so a filter on the first p categories
of 100 keeps p% of the items, as index_scale_benchmark's filters do) and in a topic drawn from
the seed; its text is a few words of that topic's vocabulary plus common words, so that items of
one topic share words (lexical similarity the demo encoder can see). The same seed gives the same
file.

  /usr/bin/python3 tools/synthetic_catalog.py --items 1000000 --out /tmp/items-1m.jsonl
  /usr/bin/python3 tools/synthetic_catalog.py --items 100000 --embedding-dim 384 --out items.jsonl
  /usr/bin/python3 tools/synthetic_catalog.py --items 1000000 --embedding-dim 384 \
      --latent-dim 24 --out /tmp/items-1m-latent.jsonl
  /usr/bin/python3 tools/synthetic_catalog.py --items 10 --out -        # to stdout
"""
import argparse
import json
import random
import sys
import time

TOPICS = {
    "space": "galaxy star planet orbit rocket nebula astronaut comet telescope moon",
    "cooking": "recipe pasta sauce garlic oven bread spice soup grill dessert",
    "music": "guitar album song drum melody jazz piano concert rhythm vinyl",
    "travel": "island beach mountain city journey hotel map trail coast harbor",
    "history": "empire war king ancient castle revolution dynasty treaty ruins era",
    "sports": "football tennis marathon league coach stadium bike climbing race goal",
    "tech": "laptop phone camera battery screen robot chip network cloud sensor",
    "nature": "forest river bird ocean wolf garden flower desert rain glacier",
    "crime": "detective murder heist police mystery spy thief trial clue witness",
    "romance": "love wedding letter heart summer kiss promise dance secret reunion",
}
COMMON = ("guide story deluxe classic new complete illustrated modern little great "
          "edition collection handbook journey tale world life art").split()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, required=True, help="number of items")
    parser.add_argument("--out", required=True, help="output .jsonl path, or - for stdout")
    parser.add_argument("--categories", type=int, default=100, help="cat-<i %% categories>")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--id-prefix", default="item-", help="item i is <prefix><i>")
    parser.add_argument("--embedding-dim", type=int, default=0,
                        help="also write a random unit vector of this dimension per item")
    parser.add_argument("--latent-dim", type=int, default=0,
                        help="draw embeddings from a subspace of this dimension plus noise")
    parser.add_argument("--latent-noise", type=float, default=0.3,
                        help="with --latent-dim: isotropic noise, relative")
    parser.add_argument("--words", type=int, default=8, help="words per text")
    args = parser.parse_args(argv)
    if (args.items < 0 or args.categories < 1 or args.embedding_dim < 0 or args.words < 1
            or args.latent_dim < 0 or args.latent_noise < 0):
        parser.error("--items, --embedding-dim, --latent-dim, --latent-noise must be >= 0; "
                     "--categories, --words >= 1")
    if args.latent_dim and not args.embedding_dim:
        parser.error("--latent-dim needs --embedding-dim")

    rng = random.Random(args.seed)
    np_rng = None
    if args.embedding_dim:
        import numpy as np  # only needed for embeddings
        np_rng = np.random.default_rng(args.seed)
        if args.latent_dim:  # dim x rank, entries N(0, 1/rank)
            basis = np.random.default_rng(77).standard_normal(
                (args.embedding_dim, args.latent_dim), dtype=np.float32)
            basis /= np.float32(args.latent_dim ** 0.5)
    topics = list(TOPICS)
    vocab = {t: w.split() for t, w in TOPICS.items()}
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")
    start = time.time()
    block = 4096
    for first in range(0, args.items, block):
        count = min(block, args.items - first)
        vectors = None
        if np_rng is not None:
            if args.latent_dim:
                z = np_rng.standard_normal((count, args.latent_dim), dtype=np.float32)
                vectors = z @ basis.T + np.float32(args.latent_noise) * np_rng.standard_normal(
                    (count, args.embedding_dim), dtype=np.float32)
            else:
                vectors = np_rng.standard_normal((count, args.embedding_dim), dtype=np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        lines = []
        for j in range(count):
            i = first + j
            topic = topics[rng.randrange(len(topics))]
            words = [rng.choice(vocab[topic]) if rng.random() < 0.7 else rng.choice(COMMON)
                     for _ in range(args.words)]
            item = {
                "id": f"{args.id_prefix}{i}",
                "text": " ".join(words).capitalize(),
                "categories": [f"cat-{i % args.categories:02d}", topic],
                "attributes": {"price": str(rng.randrange(1, 500)), "topic": topic},
            }
            if vectors is not None:
                item["embedding"] = [round(float(x), 6) for x in vectors[j]]
            lines.append(json.dumps(item, separators=(",", ":")))
        out.write("\n".join(lines) + "\n")
        if out is not sys.stdout and args.items >= 100000 and (first // block) % 50 == 0:
            done = first + count
            print(f"\r{done}/{args.items} items, {done / max(time.time() - start, 1e-9):.0f}/s",
                  end="", file=sys.stderr, flush=True)
    if out is not sys.stdout:
        out.close()
        if args.items >= 100000:
            print(file=sys.stderr)
        print(f"wrote {args.items} items to {args.out} in {time.time() - start:.1f} s",
              file=sys.stderr)


if __name__ == "__main__":
    main()
