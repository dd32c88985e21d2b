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
1-D ones applied to columns and then rows (F(4x4, 3x3), F(2x2, 3x3),
F(3x3, 5x5)); 1x7
and 7x1 filters use F(3, 7) along one axis and nothing along the other.

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
    body = ",\n    ".join(", ".join(lit(x) for x in row) for row in rows)
    return f"static const float {name}[{len(rows)} * {len(rows[0])}] = {{\n    {body}}};"


# The finite points. Alpha = 6 (F(4, 3), and F(2, 5) until F(3, 5) replaced it):
# of 0, 1, -1 and two more from +-1/2, +-2, +-3, +-1/3, +-3/2, +-2/3, the pairs
# (2, -1/2) and (1/2, -2) gave the smallest float32 errors over random
# 48-channel 2-D tiles of F(2x2, 5x5) (largest error 1.3e-6 of the largest
# output, against 3.9e-6 for the usual 2, -2), and for F(4x4, 3x3) 1.8e-6
# against 6.2e-6. Alpha = 8 (F(2, 7), 1-D only): 0, +-1, +-2, +-1/2, 1.4e-6 over
# 160 channels; F(4, 7) (alpha = 10, adding 3 and -1/3 or 1/4 and -4) gave
# 1e-5 and is not used. Alpha = 9 (F(3, 7), 1-D, what 1x7 and 7x1 use: 9
# products per 3 outputs against F(2, 7)'s 8 per 2): of 0, 1, -1 and five
# more from +-2, +-1/2, +-3, +-1/3, +-3/2, +-2/3, +-4, +-1/4 (all 4,368 sets
# tried on 150 tiles of 160 channels into 160 filters, the best six again on
# 1,600), 1/2, -3, 3/2, -3/2, -1/4 gave the smallest largest error, 5.3e-6
# of the largest output (mean 3.4e-7), against F(2, 7)'s 2.4e-6 (mean 2.0e-7)
# on the same tiles; it is represented exactly in float32 (no thirds).
# Alpha = 7 (F(3x3, 5x5), 49 products per 9 outputs against F(2x2, 5x5)'s
# 36 per 4): of 0, 1, -1 and three more from +-2, +-1/2, +-3, +-1/3, +-3/2
# (all 120 sets, 200 2-D tiles of 48 channels into 64 filters), -2, -1/2,
# 3/2 gave a largest error of 4.0e-6 of the largest output (mean 4.1e-7;
# -1/3 in place of -1/2: 3.8e-6, but a third is not exact in float32),
# against F(2x2, 5x5)'s 1.6e-6 (mean 2.3e-7).
POINTS7 = [0, 1, -1, -2, F(-1, 2), F(3, 2)]
# Alpha = 4 (F(2x2, 3x3), for 3x3 layers on small images): 0, 1, -1, the
# usual points.
POINTS4 = [0, 1, -1]
POINTS6 = [0, 1, -1, 2, F(-1, 2)]
POINTS8 = [0, 1, -1, 2, -2, F(1, 2), F(-1, 2)]
POINTS9 = [0, 1, -1, F(1, 2), -3, F(3, 2), F(-3, 2), F(-1, 4)]


def main():
    tables = []
    for m, r, pts in ((4, 3, POINTS6), (3, 5, POINTS7), (3, 7, POINTS9), (2, 3, POINTS4)):
        at, g, bt = toom_cook(m, r, pts)
        check(m, r, at, g, bt)
        alpha = m + r - 1
        if not any(name == f"BT{alpha}" for name, _ in tables):
            tables.append((f"BT{alpha}", bt))
        tables += [(f"AT{m}{r}", at), (f"G{m}{r}", g)]
    print("/* Generated by tools/winograd/matrices.py (checked on exact fractions):")
    print(" * alpha = 6 on the points 0, 1, -1, 2, -1/2, infinity; alpha = 7 on")
    print(" * 0, 1, -1, -2, -1/2, 3/2, infinity; alpha = 9 on 0, 1, -1, 1/2, -3,")
    print(" * 3/2, -3/2, -1/4, infinity; alpha = 4 on 0, 1, -1, infinity. */")
    for name, t in tables:
        print(c_table(name, t))


if __name__ == "__main__":
    main()
