"""Does a tag pix2pix generator read colour dabs? (issue 21; an ad-hoc probe, not a benchmark)

    OMP_NUM_THREADS=1 PYTHONPATH=. python bench/probe_pix2pix_dabs.py CHECKPOINT [N=100]

Prints the MAE (grey levels / 255) to the true face of N held-out faces (data seed 3) with the true tags,
with unknown tags (-1: a pix2pix-acgan generator trained with loss.drop_tags), and with the hair unknown,
each without and with 8 dabs of 2 x 2 px of the true colours (gan_core.data.hints.eval_hints, seed 0); a
generator that reads dabs gets a lower MAE with them. Then the Sketch page test's blue dab: a 3 x 3 px dab of
(30, 70, 225) in the top-left background of random face 3's edges, and the mean distance of the output's
5 x 5 corner to that colour before and after the dab (random-picked tags of seed 0, then unknown tags)."""
import sys, torch, numpy as np
sys.path.insert(0, "bench")
from gan_core.data.edges import canny
from gan_core.data.hints import eval_hints
from gan_core.data.faces import generate_faces
from gan_core.data.images import to_float, to_uint8
from gan_core.metrics.paired import mean_abs_error
from gan_core.img2img.translate import load_translator, translate, random_face_edges
torch.set_num_threads(1)
G, cfg, spec = load_translator(sys.argv[1], with_spec=True)
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100
imgs, labels = generate_faces(n, 32, seed=3)
truth = torch.as_tensor(imgs) if not isinstance(imgs, torch.Tensor) else imgs
if truth.shape[-1] == 3: truth = truth.permute(0, 3, 1, 2).contiguous()
labels = torch.as_tensor(labels).long()
edges = canny(truth)
hints = eval_hints(truth, 8, seed=0)
def run(lab, h):
    x = torch.cat([edges, h if h is not None else torch.zeros_like(hints)], 1)
    G.eval(); torch.manual_seed(0)
    with torch.no_grad():
        return to_uint8(G(to_float(x), lab))
unk = torch.full_like(labels, -1)
for name, lab, h in [("true, no dabs", labels, None), ("true, 8 dabs", labels, hints),
                     ("unknown, no dabs", unk, None), ("unknown, 8 dabs", unk, hints),
                     ("hair unknown, 8 dabs", torch.stack([unk[:, 0], labels[:, 1]], 1), hints)]:
    out = run(lab, h)
    print(f"{name:22s} MAE {mean_abs_error(out, truth):.4f}")
# the page test: a blue 3x3 dab in the top-left background, random-picked tags (seed 0)
_, e = random_face_edges(3, 32)
e = torch.as_tensor(np.asarray(e))
if e.dim() == 2: e = e[None]
blue = torch.tensor([30, 70, 225], dtype=torch.uint8)
hp = torch.zeros(4, 32, 32, dtype=torch.uint8); hp[:3, 0:3, 0:3] = blue[:, None, None]; hp[3, 0:3, 0:3] = 255
for tags in (None, torch.tensor([-1, -1])):
    res = []
    for h in (None, hp):
        if tags is None:
            o = translate(G, e, seed=0, hints=h, tags=None)
        else:
            x = torch.cat([e[None], (h if h is not None else torch.zeros_like(hp))[None]], 1)
            G.eval(); torch.manual_seed(0)
            with torch.no_grad(): o = to_uint8(G(to_float(x), tags[None]))[0]
        res.append((o[:, :5, :5].int() - blue[:, None, None].int()).abs().float().mean().item())
    print("page dab test, tags", "random" if tags is None else "unknown", "far-from-blue before/after %.1f / %.1f" % tuple(res))
