#!/usr/bin/env python3
"""The Winograd matrices of CKernels/conv_winograd.c, derived and checked.

F(m, r) computes m outputs of a 1-D correlation with an r-tap filter from
alpha = m + r - 1 inputs as  y = A^T [(G g) * (B^T d)].  Given alpha - 1
finite points and the point at infinity, the Toom-Cook construction gives

  A^T[i][k] = a_k^i                 (row m-1 has a 1 in the infinity column)
  G[k][j]   = a_k^j / prod_{l!=k} (a_k - a_l)     (infinity row: e_{r-1})
  B^T[k]    = coefficients of prod_{l!=k} (x - a_l)  (infinity row: of prod_l (x - a_l))

This script derives them on exact fractions, checks y against the direct
correlation on random integer vectors (exact, so any error in a table is
caught), and prints the tables as C initialisers. The 2-D transforms are the
1-D ones applied to rows and then columns. For F(2, 3) the C file uses Lavin
and Gray's form, which differs from this construction's by signs (the first
rows of G and B^T both negated; the last row of B^T negated and the last
column of A^T with it); the script checks that form too.

  python3 tools/winograd/matrices.py
"""
from fractions import Fraction as F
import random


def polymul(a, b):
    out = [F(0)] * (len(a) + len(b) - 1)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] += x * y
    return out


def product(points, skip=None):
    poly = [F(1)]
    for l, p in enumerate(points):
        if l != skip:
            poly = polymul(poly, [-p, F(1)])
    return poly


def toom_cook(m, r, points):
    alpha = m + r - 1
    pts = [F(p) for p in points]
    assert len(pts) == alpha - 1, "alpha - 1 finite points"
    at = [[p ** i for p in pts] + [F(int(i == m - 1))] for i in range(m)]
    g = []
    for k, a in enumerate(pts):
        n = F(1)
        for l, b in enumerate(pts):
            if l != k:
                n *= a - b
        g.append([a ** j / n for j in range(r)])
    g.append([F(int(j == r - 1)) for j in range(r)])
    bt = [product(pts, k) + [F(0)] for k in range(len(pts))] + [product(pts)]
    return at, g, bt


def check(m, r, at, g, bt, trials=200):
    alpha = m + r - 1
    rng = random.Random(1)
    for _ in range(trials):
        d = [F(rng.randint(-99, 99)) for _ in range(alpha)]
        w = [F(rng.randint(-99, 99)) for _ in range(r)]
        u = [sum(g[k][j] * w[j] for j in range(r)) for k in range(alpha)]
        v = [sum(bt[k][i] * d[i] for i in range(alpha)) for k in range(alpha)]
        y = [sum(at[i][k] * u[k] * v[k] for k in range(alpha)) for i in range(m)]
        if y != [sum(d[i + j] * w[j] for j in range(r)) for i in range(m)]:
            raise SystemExit(f"F({m}, {r}): the tables do not compute the correlation")


def c_table(name, rows):
    def lit(x):
        if x.denominator == 1:
            return str(x.numerator)
        return f"{x.numerator}.0f / {x.denominator}"
    body = ", ".join(lit(x) for row in rows for x in row)
    return f"static const float {name}[{len(rows)} * {len(rows[0])}] = {{{body}}};"


# The finite points of F(2, 5). Of 0, 1, -1 and two more from +-1/2, +-2,
# +-3, +-1/3, +-3/2, +-2/3, the pairs (2, -1/2) and (1/2, -2) gave the
# smallest float32 errors over random 48-channel tiles (largest error 1.3e-6
# of the largest output, against 3.9e-6 for the usual 2, -2; the "points"
# experiment in Benchmarks/README.md).
POINTS5 = [0, 1, -1, 2, F(-1, 2)]


def main():
    lavin = ([[1, 1, 1, 0], [0, 1, -1, -1]],
             [[1, 0, 0], [F(1, 2), F(1, 2), F(1, 2)], [F(1, 2), F(-1, 2), F(1, 2)], [0, 0, 1]],
             [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
    lavin = tuple([[F(x) for x in row] for row in t] for t in lavin)
    check(2, 3, *lavin)
    print("/* F(2x2, 3x3): Lavin and Gray's matrices (checked). */")
    for name, t in zip(("AT3", "G3", "BT3"), lavin):
        print(c_table(name, t))
    at, g, bt = toom_cook(2, 5, POINTS5)
    check(2, 5, at, g, bt)
    print("/* F(2x2, 5x5): points 0, 1, -1, 2, -1/2, infinity (checked). */")
    for name, t in zip(("AT5", "G5", "BT5"), (at, g, bt)):
        print(c_table(name, t))


if __name__ == "__main__":
    main()
