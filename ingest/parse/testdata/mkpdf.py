#!/usr/bin/env python3
"""Writes sample.pdf: 4 pages with text, a running footer and an outline.
Regenerate with: python3 mkpdf.py && qpdf --encrypt user owner 256 -- sample.pdf encrypted.pdf"""

pages = [
    ["1 Introduction", "This manual explains the spindle setup for the", "milling machine. Read it before you start.", "Page 1"],
    ["2 Setup", "Connect the spindle drive to the controller and", "check the wiring twice.", "Axis | Scale | Limit", "X | 1000 | 200", "Y | 1000 | 150", "Z | 800 | 100", "Page 2"],
    ["The encoder counts must match the config-", "uration file exactly.", "Page 3"],
    ["2.1 Wiring", "Use shielded cable for the encoder signals.", "Page 4"],
]
outline = [("Introduction", 0, []), ("Setup", 1, [("Encoder", 2), ("Wiring", 3)])]

objs = {}
n_pages = len(pages)
# 1 catalog, 2 pages, 3 font, 4 outlines, then page/content pairs, then outline items
first_page = 5
page_ids = [first_page + 2 * i for i in range(n_pages)]
for i, lines in enumerate(pages):
    ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for j, l in enumerate(lines[:-1]):
        ops.append("(%s) Tj T*" % l.replace("(", "\\(").replace(")", "\\)"))
    ops += ["ET", "BT", "/F1 10 Tf", "280 40 Td", "(%s) Tj" % lines[-1], "ET"]
    stream = "\n".join(ops).encode()
    pid = page_ids[i]
    objs[pid] = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (pid + 1)
    objs[pid + 1] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
objs[1] = b"<< /Type /Catalog /Pages 2 0 R /Outlines 4 0 R /PageMode /UseOutlines >>"
objs[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % p for p in page_ids), n_pages)
objs[0] = None
objs[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
nid = first_page + 2 * n_pages
top_ids = []
items = {}
for title, pg, kids in outline:
    oid = nid; nid += 1
    kid_ids = []
    for kt, kp in kids:
        kid_ids.append((nid, kt, kp)); nid += 1
    top_ids.append((oid, title, pg, kid_ids))
objs[4] = b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>" % (top_ids[0][0], top_ids[-1][0], len(top_ids))
def item(oid, title, pg, parent, prev, nxt, extra=b""):
    d = b"<< /Title (%s) /Parent %d 0 R /Dest [%d 0 R /XYZ 0 792 0]" % (title.encode(), parent, page_ids[pg])
    if prev: d += b" /Prev %d 0 R" % prev
    if nxt: d += b" /Next %d 0 R" % nxt
    return d + extra + b" >>"
for i, (oid, title, pg, kid_ids) in enumerate(top_ids):
    prev = top_ids[i - 1][0] if i > 0 else 0
    nxt = top_ids[i + 1][0] if i + 1 < len(top_ids) else 0
    extra = b""
    if kid_ids:
        extra = b" /First %d 0 R /Last %d 0 R /Count %d" % (kid_ids[0][0], kid_ids[-1][0], len(kid_ids))
    objs[oid] = item(oid, title, pg, 4, prev, nxt, extra)
    for j, (kid, kt, kp) in enumerate(kid_ids):
        kprev = kid_ids[j - 1][0] if j > 0 else 0
        knxt = kid_ids[j + 1][0] if j + 1 < len(kid_ids) else 0
        objs[kid] = item(kid, kt, kp, oid, kprev, knxt)

info = max(objs) + 1
objs[info] = b"<< /Title (Spindle Manual) >>"
del objs[0]
out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
offsets = {}
for k in sorted(objs):
    offsets[k] = len(out)
    out += b"%d 0 obj\n" % k + objs[k] + b"\nendobj\n"
xref = len(out)
size = max(objs) + 1
out += b"xref\n0 %d\n0000000000 65535 f \n" % size
for k in range(1, size):
    out += b"%010d 00000 n \n" % offsets[k]
out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, info, xref)
open("sample.pdf", "wb").write(out)
