"""Compare `civicgrid locate` with GEOS (shapely) on real administrative boundaries.

For each city file: import its counties as grids (civicgrid repairs the messy source), export
them back, and ask both civicgrid and shapely where a set of points lies: random points over
the city, every vertex of every boundary (shared vertices included), points on edges, and
points a hair off the edges. Both apply the documented tie rule: interior beats boundary, then
the smallest code. Any disagreement fails the run.
"""

import json
import os
import random
import subprocess
import sys
import tempfile

from shapely.geometry import Point, shape
from shapely.strtree import STRtree

PARENTS = {"44": ("440300", "深圳市"), "33": ("330100", "杭州市"), "51": ("510100", "成都市")}


def run(bin_, db, args, stdin=None):
    r = subprocess.run([bin_, "--database", db, *args], input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"civicgrid {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout


def reference(tree, geoms, codes, x, y):
    p = Point(x, y)
    best = None
    for i in tree.query(p):
        g = geoms[i]
        if g.contains(p):
            rank = 0
        elif g.touches(p):
            rank = 1
        else:
            continue
        key = (rank, codes[i])
        if best is None or key < best:
            best = key
    return best[1] if best else ""


def main():
    bin_, work, cities = sys.argv[1], sys.argv[2], sys.argv[3:]
    rng = random.Random(20261125)
    passed = failed = repaired = 0
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:{tmp}/ref.db"
        regions = os.path.join(tmp, "regions.csv")
        with open(regions, "w") as f:
            f.write("code,name\n" + "".join(f"{c},{n}\n" for c, n in PARENTS.values()))
        run(bin_, db, ["import", "regions", regions])
        for city in cities:
            src = os.path.join(work, "package/geojson/shape-with-internal-borders", city + ".geojson")
            with open(src) as f:
                fc = json.load(f)
            for ft in fc["features"]:
                ft["properties"]["code"] = ft["id"]
            parent = PARENTS[fc["features"][0]["id"][:2]][0]
            grids_in = os.path.join(tmp, city + ".geojson")
            with open(grids_in, "w") as f:
                json.dump(fc, f)
            out = run(bin_, db, ["import", "grids", grids_in, "--parent", parent])
            repaired += sum(1 for line in out.splitlines() if line.startswith("repaired"))

        exported = json.loads(run(bin_, db, ["export", "grids"]))
        codes = [ft["properties"]["code"] for ft in exported["features"]]
        geoms = [shape(ft["geometry"]) for ft in exported["features"]]
        tree = STRtree(geoms)

        points = []
        for g in geoms:
            minx, miny, maxx, maxy = g.bounds
            points += [(rng.uniform(minx, maxx), rng.uniform(miny, maxy)) for _ in range(3000)]
            for poly in g.geoms:
                ring = list(poly.exterior.coords)
                for (ax, ay), (bx, by) in zip(ring, ring[1:]):
                    points.append((ax, ay))  # vertices, shared ones included
                    if rng.random() < 0.2:
                        t = rng.choice([0.5, 0.25])
                        points.append((ax + (bx - ax) * t, ay + (by - ay) * t))  # on the edge
                        eps = 1e-9
                        points.append((ax + (bx - ax) * 0.5 + eps, ay + (by - ay) * 0.5 - eps))
        lines = "lon,lat\n" + "".join(f"{x!r},{y!r}\n" for x, y in points)
        ours = run(bin_, db, ["locate"], stdin=lines).split("\n")[:-1]
        if len(ours) != len(points):
            sys.exit(f"civicgrid answered {len(ours)} lines for {len(points)} points")
        mismatches = []
        for (x, y), got in zip(points, ours):
            want = reference(tree, geoms, codes, x, y)
            if got == want:
                passed += 1
            else:
                failed += 1
                if len(mismatches) < 10:
                    mismatches.append(f"  ({x!r}, {y!r}): civicgrid {got or '-'}, GEOS {want or '-'}")
        located = sum(1 for c in ours if c)
        print(f"reference-locate: {len(geoms)} county boundaries from {len(cities)} cities, "
              f"{repaired} repaired on import; {len(points)} points, {located} inside a county")
        for m in mismatches:
            print(m)
    print(f"reference-locate: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
