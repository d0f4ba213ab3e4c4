"""The architecture registry: what every arch is made of and what that implies, in one place.

An arch (``ARCHITECTURES[name]``, an :class:`ArchSpec`) is a backbone (:data:`BACKBONES`: how to build
G and D, which data it fits, which settings matter for it) plus a way of conditioning
(:data:`CONDITIONINGS`: tags into G, tag heads on D, or an input picture). Everything the rest of the
code asks about an arch (is it conditional, does D have tag heads, does it train on pairs, which step
strategy trains it, which form fields matter, what its curves add) is a property of the spec, never a
test of the arch's name.

Adding a plain backbone: its module under gan_core/models with a ``build(cfg, spec, num_classes,
conditioning, d_norm)`` function, and one :class:`Backbone` plus its :class:`ArchSpec` entries here.

This module imports nothing from gan_core (the backbones are imported when one is built).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Conditioning:
    """How an arch is conditioned."""

    name: str
    takes_tags: bool = False      # G and D take tags (labels (B, groups))
    projection: bool = False      # D adds <embed(tag), features> (projection discriminator)
    tag_heads: int = 0            # D's classifier heads per tag group: 1 (ACGAN), 2 (TAC-GAN: + twin heads)
    paired: bool = False          # G translates an input picture; trained on (input, target) pairs
    fields: frozenset[str] = frozenset()   # the optional settings that matter for it (a form shows them)
    drops: frozenset[str] = frozenset()    # ... and the backbone's ones that no longer matter
    curve_note: str = ""          # what it adds to the D and G loss curves (studio.runs.curve_help)


TAG_HEADS_NOTE = (" Here D's and G's losses also hold the tag classifiers' cross-entropy (aux_d, aux_g under "
                  "Loss terms), so the D loss starts far above those landmarks (about 6 for 12 hair and 11 eye "
                  "colours); the real-vs-fake part alone is d_adv.")
_TAGS = frozenset({"model.embed_dim"})
_HEADS = _TAGS | {"loss.aux_weight", "loss.aux_on_fake"}

CONDITIONINGS: dict[str, Conditioning] = {
    "none": Conditioning("none"),
    "cgan": Conditioning("cgan", takes_tags=True, projection=True, fields=_TAGS),
    "acgan": Conditioning("acgan", takes_tags=True, tag_heads=1, fields=_HEADS, curve_note=TAG_HEADS_NOTE),
    "tacgan": Conditioning("tacgan", takes_tags=True, tag_heads=2, fields=_HEADS, curve_note=TAG_HEADS_NOTE),
}

_IMAGE_NOTE = (" pix2pix: D judges (edges, picture) pairs patch by patch, and G's loss is its GAN term "
               "(g_adv) plus lambda * l1 (loss.l1_weight, 100 in the paper), so the G loss is mostly "
               "the L1 term; l1 under Loss terms is the mean |G(x) - y| in [-1, 1] units (x 127.5 for "
               "grey levels) and should fall steadily.")
CONDITIONINGS["image"] = Conditioning("image", paired=True, fields=frozenset({"loss.l1_weight", "data.hints"}),
                                      drops=frozenset({"model.g_dropout", "loss.ms_weight"}),   # dropout is G's noise; no z
                                      curve_note=_IMAGE_NOTE)
# pix2pix-tags: the U-Net G also takes the tags (model.g_cond says how); D judges pairs as in pix2pix
CONDITIONINGS["image-tags"] = Conditioning("image-tags", takes_tags=True, paired=True,
                                           fields=frozenset({"loss.l1_weight", "data.hints", "model.g_cond"}) | _TAGS,
                                           drops=CONDITIONINGS["image"].drops, curve_note=_IMAGE_NOTE)
# pix2pix-acgan: pix2pix-tags plus tag heads on D (trained on real pictures with their true tags) and a G term
# asking them for the asked tags, which may differ from the true face's on part of the batch (no L1 there)
CONDITIONINGS["image-acgan"] = Conditioning("image-acgan", takes_tags=True, tag_heads=1, paired=True,
                                            fields=CONDITIONINGS["image-tags"].fields | {"loss.aux_weight", "loss.drop_tags"},
                                            drops=CONDITIONINGS["image"].drops,
                                            curve_note=_IMAGE_NOTE + TAG_HEADS_NOTE)

_IMAGE_NET = frozenset({"model.g_width", "model.d_width", "model.d_norm", "model.spectral_norm", "model.g_dropout",
                        "model.dropout_at_test"})


@dataclass(frozen=True)
class Backbone:
    """A family of networks. ``builder``: "module:function" relative to this package; the function is
    ``build(cfg: ModelConfig, spec: DataSpec, num_classes, conditioning: str, d_norm: str) -> (G, D)``."""

    name: str
    builder: str
    points: bool = False                    # G draws 2D points (toy2d), not images
    g_conds: tuple[str, ...] = ("concat",)  # the model.g_cond values its G is built for
    spectral_norm: bool = True              # model.spectral_norm applies to its D
    fields: frozenset[str] = _IMAGE_NET     # the optional settings that matter for it

    def build(self, *args: Any) -> Any:
        module, _, fn = self.builder.partition(":")
        build: Callable[..., Any] = getattr(importlib.import_module(module, __package__), fn)
        return build(*args)


BACKBONES: dict[str, Backbone] = {
    "dcgan": Backbone("dcgan", ".dcgan:build", g_conds=("concat", "cbn", "both"),
                      fields=_IMAGE_NET | {"model.g_cond"}),
    "srresnet": Backbone("srresnet", ".srresnet:build", fields=_IMAGE_NET | {"model.res_blocks"}),
    "mlp": Backbone("mlp", ".mlp:build", points=True, spectral_norm=False, fields=frozenset({"model.mlp_hidden"})),
    "pix2pix": Backbone("pix2pix", ".pix2pix:build", g_conds=("concat", "cbn", "both")),
}


@dataclass(frozen=True)
class ArchSpec:
    backbone: str          # a key of BACKBONES
    conditioning: str      # a key of CONDITIONINGS
    description: str
    step: str = "gan"      # the trainer's step strategy (gan_core.train.steps.STEPS): "gan" | "pix2pix"

    @property
    def net(self) -> Backbone:
        return BACKBONES[self.backbone]

    @property
    def cond(self) -> Conditioning:
        return CONDITIONINGS[self.conditioning]

    @property
    def conditional(self) -> bool:
        """G takes tags (cgan, acgan, tacgan ...); not the unconditional and image-to-image archs."""
        return self.cond.takes_tags

    @property
    def tag_heads(self) -> int:
        """D's classifier heads per tag group (0: none; 1: ACGAN; 2: TAC-GAN's real and twin heads)."""
        return self.cond.tag_heads

    @property
    def paired(self) -> bool:
        """G turns an input picture into a picture (pix2pix): trained on (input, target) pairs."""
        return self.cond.paired

    @property
    def points(self) -> bool:
        return self.net.points

    @property
    def fields(self) -> frozenset[str]:
        """The optional settings that matter for this arch (the form hides the others, and the ones in
        ``cond.drops`` even when the data would show them)."""
        f = self.net.fields | self.cond.fields
        if not self.conditional:
            f = f - {"model.g_cond"}
        return f - self.cond.drops


ARCHITECTURES: dict[str, ArchSpec] = {
    "dcgan": ArchSpec("dcgan", "none", "DCGAN: ConvTranspose+BN+ReLU generator, strided conv+LeakyReLU(0.2) discriminator."),
    "cgan": ArchSpec("dcgan", "cgan", "Conditional DCGAN: label embeddings fed to G, projection discriminator."),
    "acgan": ArchSpec("dcgan", "acgan", "ACGAN: conditional G, D with auxiliary classifiers for each tag group."),
    "tacgan": ArchSpec("dcgan", "tacgan", "TAC-GAN: ACGAN plus twin tag classifiers trained on fakes, which "
                       "cancel ACGAN's pull towards easy-to-classify, alike samples (Gong et al. 2019)."),
    "srresnet": ArchSpec("srresnet", "none", "SRResNet-style generator (residual blocks + PixelShuffle), ResNet discriminator."),
    "srresnet-acgan": ArchSpec("srresnet", "acgan", "SRResNet G + ResNet D with auxiliary tag classifiers (Jin et al. 2017)."),
    "mlp": ArchSpec("mlp", "none", "Small MLP generator and discriminator for 2D toy data."),
    "pix2pix": ArchSpec("pix2pix", "image", "pix2pix (Isola et al. 2017): a U-Net G turns an edge image into a "
                        "picture (dropout is its noise), a PatchGAN D judges (edges, picture) pairs patch by "
                        "patch; G's loss adds lambda * L1 to the true picture. Needs paired data: faces-edges, "
                        "or a folder with data.pairs.", step="pix2pix"),
    "pix2pix-tags": ArchSpec("pix2pix", "image-tags", "Tag-conditional pix2pix: the pix2pix U-Net G also takes the "
                             "tags (e.g. hair and eye colours; model.g_cond says how), so the picture follows "
                             "the drawing and the chosen colours. Needs tagged paired data: faces-edges, or a "
                             "folder with data.pairs and a tags CSV.", step="pix2pix"),
    "pix2pix-acgan": ArchSpec("pix2pix", "image-acgan", "pix2pix-tags with tag heads on D (ACGAN-style): D "
                              "also learns the tags of real pictures, and G is asked to make them read as the "
                              "asked tags, also on pairs given other tags than the true ones (no L1 there), so "
                              "small parts such as the eyes follow the pickers. Same G as pix2pix-tags.",
                              step="pix2pix"),
}
