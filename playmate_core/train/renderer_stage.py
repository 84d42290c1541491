"""Renderer fine-tuning (Playmate Sec. 3.1) as a training job for the shared loop.

Per row, two frames i, j of one clip. With x = keypoints(canonical kp, motion) and motion = [exp | pose]:
- reconstruction: frame j rendered from frame i's source (j's motion on i's canonical keypoints), against the
  512 px target of j: l1 * |.|_1 + perceptual * VGG19 feature L1;
- transfer loss L_p: the image "pose of i, expression of j" rendered two ways, from i's source with j's
  expression swapped in (I_exp) and from j's source with i's pose swapped in (I_pose):
  transfer * sum over VGG19 layers of mean (V(I_pose) - V(I_exp))^2 (VASA-1's pairwise transfer idea);
- optional, off by default (see train.adversarial): identity (frozen appearance-extractor features of the
  reconstruction against the target's, a proxy) and gan (hinge loss of a patch discriminator on the reconstruction,
  trained in the same loop with its own optimiser).
Every network stays in eval mode (BatchNorm statistics frozen: rows are few and frames of one clip alike); only
the chosen networks get gradients. The result is a complete LivePortrait set in the pack's single-file format
(the untrained networks and the stitching MLPs copied from the base set) with the base files' hashes and the
fine-tune config in its metadata.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from ..checkpoint.io import load_strict, write_safetensors
from ..download import file_sha256
from ..implicit.checkpoints import FORMAT_VERSION, NETWORKS, OUR_FORMAT, find_renderer_files, infer_renderer_config, \
    read_renderer_states
from ..implicit.config import RendererConfig
from ..implicit.keypoints import keypoints_from_motion, motion_from_head_outputs
from ..implicit.motion_vector import EXP, POSE
from ..implicit.renderer import build_networks
from .adversarial import PatchDiscriminator, discriminator_hinge, generator_hinge, identity_distance
from .renderer_config import NETWORK_LETTERS, RendererLossConfig, RendererTrainConfig
from .renderer_data import FramePairSampler, PairBatch
from .trainer import Adversary, Trainer, TrainingJob
from .vgg import VGG19Features, perceptual_distance, resize_for_vgg

TRAINABLE = NETWORKS[:4]  # the stitching MLPs are not part of rendering here
SAMPLE_SIDE = 192


class RendererNetworks(nn.Module):
    """F, M, W, G of one set (attributes named as the networks, so parameter names are the file's keys), the
    frozen VGG19 of the losses and, when their terms are on, the discriminator and a frozen copy of the base F
    (identity_extractor; None when F does not train: F itself is then frozen)."""

    def __init__(self, networks: dict[str, nn.Module], vgg: VGG19Features, discriminator: nn.Module | None = None,
                 identity_extractor: nn.Module | None = None):
        super().__init__()
        for name in TRAINABLE:
            setattr(self, name, networks[name])
        self.vgg = vgg
        self.discriminator = discriminator
        self.identity_extractor = identity_extractor

    def motion(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Crops [B, 3, S, S] -> (canonical kp [B, 21, 3], motion [B, 70]), float32."""
        raw = self.motion_extractor(crops)
        with torch.autocast(crops.device.type, enabled=False):
            return motion_from_head_outputs({k: v.float() for k, v in raw.items()})

    def render(self, appearance: torch.Tensor, kp_source: torch.Tensor, kp_driving: torch.Tensor) -> torch.Tensor:
        """Warp + decode -> [B, 3, 2S, 2S] in [0, 1]."""
        return self.spade_generator(self.warping_module(appearance, kp_source=kp_source, kp_driving=kp_driving)["out"])


@dataclass
class PairRenders:
    """recon: frame j from i's source; exp: pose i + expression j from i's source; pose: the same from j's source."""

    recon: torch.Tensor
    exp: torch.Tensor
    pose: torch.Tensor


def render_pair(model: RendererNetworks, batch: PairBatch) -> PairRenders:
    crops = torch.cat([batch.crop_i, batch.crop_j])
    appearance = model.appearance_feature_extractor(crops)
    kp_canonical, motion = model.motion(crops)
    with torch.autocast(crops.device.type, enabled=False):
        (f_i, f_j), (c_i, c_j), (m_i, m_j) = appearance.chunk(2), kp_canonical.chunk(2), motion.chunk(2)
        mixed = torch.cat([m_j[:, EXP], m_i[:, POSE]], dim=1)
        source = torch.cat([keypoints_from_motion(c_i, m_i)] * 2 + [keypoints_from_motion(c_j, m_j)])
        driving = torch.cat([keypoints_from_motion(c_i, m_j), keypoints_from_motion(c_i, mixed),
                             keypoints_from_motion(c_j, mixed)])
    images = model.render(torch.cat([f_i, f_i, f_j]), source, driving).float()
    return PairRenders(*images.chunk(3))


def pair_losses(model: RendererNetworks, batch: PairBatch, weights: RendererLossConfig) -> dict[str, torch.Tensor]:
    """{"loss": weighted total (with grad), "l1", "perceptual", "transfer", and when on "identity", "gan":
    detached scalars; with gan on also "discriminator": the discriminator's hinge loss, with grad (to D only)}."""
    renders = render_pair(model, batch)
    target = batch.target_j.float()
    features = model.vgg(resize_for_vgg(torch.cat([renders.recon, target, renders.exp, renders.pose]),
                                        weights.perceptual_size))
    recon_f, target_f, exp_f, pose_f = zip(*(f.chunk(4) for f in features))
    l1 = (renders.recon - target).abs().mean()
    perceptual = perceptual_distance(list(recon_f), list(target_f), squared=False)
    transfer = perceptual_distance(list(pose_f), list(exp_f), squared=True)
    total = weights.l1 * l1 + weights.perceptual * perceptual + weights.transfer * transfer
    terms = {"l1": l1.detach(), "perceptual": perceptual.detach(), "transfer": transfer.detach()}
    if weights.identity > 0:
        extractor = model.identity_extractor if model.identity_extractor is not None else \
            model.appearance_feature_extractor
        identity = identity_distance(extractor, renders.recon, target, batch.crop_i.shape[-1])
        total, terms["identity"] = total + weights.identity * identity, identity.detach()
    if weights.gan > 0:
        adversarial = generator_hinge(model.discriminator, renders.recon)
        total, terms["gan"] = total + weights.gan * adversarial, adversarial.detach()
        terms["discriminator"] = discriminator_hinge(model.discriminator, target, renders.recon)
    return {"loss": total, **terms}


@dataclass
class BaseSet:
    """The LivePortrait set being fine-tuned: its networks (float32), config, stitching weights and file hashes."""

    networks: dict[str, nn.Module]
    config: RendererConfig
    stitching: dict[str, torch.Tensor]
    files: dict[str, dict[str, str]]  # network -> {"file": base name, "sha256": hex}


def load_base_set(source: str) -> BaseSet:
    """Any accepted LivePortrait set (a folder, one of its files, or our single file), strictly, in float32."""
    files = find_renderer_files(source)
    states = read_renderer_states(files)
    config = infer_renderer_config(states, files)
    networks = build_networks(config)
    for name in NETWORKS:
        load_strict(networks[name], states[name], files.paths[name], name)
    hashes = {path: file_sha256(path).hexdigest() for path in set(files.paths.values())}
    return BaseSet(networks, config, dict(states["stitching_retargeting_module"]),
                   {n: {"file": os.path.basename(p), "sha256": hashes[p]} for n, p in files.paths.items()})


def save_renderer_set(model: RendererNetworks, path: str, base: BaseSet, metadata: dict) -> None:
    """A complete set in the pack's single-file format (loads with load_renderer, Load LivePortrait, --liveportrait)."""
    tensors = {f"{name}.{k}": v.detach().float().cpu() for name in TRAINABLE
               for k, v in getattr(model, name).state_dict().items()}
    tensors.update({f"stitching_retargeting_module.{k}": v for k, v in base.stitching.items()})
    write_safetensors(path, tensors, {
        "format": "pt", "playmate_format": OUR_FORMAT, "format_version": FORMAT_VERSION,
        "config": base.config.to_dict(),
        "source_layout": "playmate-finetune", "source_files": sorted({f["file"] for f in base.files.values()}),
        "dtype": "float32", "base_files": base.files, **metadata})


def sample_grid(model: RendererNetworks, batch: PairBatch) -> torch.Tensor:
    """One row per pair: source i, target j, reconstruction, I_exp, I_pose ([H, W, 3] in 0..1)."""
    with torch.no_grad():
        renders = render_pair(model, batch)
    columns = (("source i", batch.target_i), ("target j", batch.target_j), ("recon j", renders.recon),
               ("I_exp", renders.exp), ("I_pose", renders.pose))
    rows = batch.target_i.shape[0]
    figure = Image.new("RGB", (len(columns) * SAMPLE_SIDE, rows * SAMPLE_SIDE + 16), (255, 255, 255))
    draw, font = ImageDraw.Draw(figure), ImageFont.load_default()
    for c, (title, images) in enumerate(columns):
        draw.text((c * SAMPLE_SIDE + 6, 2), title, fill=(20, 20, 20), font=font)
        small = torch.nn.functional.interpolate(images.float().cpu(), size=(SAMPLE_SIDE, SAMPLE_SIDE), mode="area")
        for r in range(rows):
            pixels = (small[r].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype("uint8")
            figure.paste(Image.fromarray(pixels), (c * SAMPLE_SIDE, 16 + r * SAMPLE_SIDE))
    return torch.from_numpy(np.asarray(figure, dtype="float32") / 255.0)


def renderer_job(config: RendererTrainConfig, base: BaseSet, vgg: VGG19Features, dataset,
                 out_path: str) -> tuple[TrainingJob, dict]:
    """The job, and a snapshot of the frozen networks' weights (check_frozen_untouched compares against it)."""
    chosen = [NETWORK_LETTERS[letter] for letter in config.networks]
    discriminator = None
    if config.loss.gan > 0:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            discriminator = PatchDiscriminator(config.discriminator.channels, config.discriminator.layers)
    identity_extractor = None
    if config.loss.identity > 0 and "appearance_feature_extractor" in chosen:
        identity_extractor = copy.deepcopy(base.networks["appearance_feature_extractor"])
    model = RendererNetworks(base.networks, vgg, discriminator, identity_extractor).eval()
    model.requires_grad_(False)
    trainable = {f"{n}.{k}": p for n in chosen for k, p in getattr(model, n).named_parameters()}
    for parameter in trainable.values():
        parameter.requires_grad_(True)
    frozen = {f"{n}.{k}": v.detach().clone() for n in TRAINABLE + ("identity_extractor",) if n not in chosen
              and getattr(model, n) is not None for k, v in getattr(model, n).state_dict().items()}
    adversary = None
    if discriminator is not None:
        discriminator.requires_grad_(True)
        d = config.discriminator
        adversary = Adversary({f"discriminator.{k}": p for k, p in discriminator.named_parameters()}, d.lr,
                              tuple(d.betas), d.weight_decay)
    sampler = FramePairSampler(dataset)
    count = int(dataset.clips[sampler.indices[0]]["renderer_frames"])
    shown = PairBatch(*(t[None] for t in sampler.pair(sampler.indices[0], 0, count - 1)))
    job = TrainingJob(
        name="renderer", model=model, trainable=trainable, config=config, stage=config.renderer, out_path=out_path,
        batches=partial(sampler.sample, config.batch_size),
        loss=lambda m, batch, generator: pair_losses(m, batch, config.loss),
        save=lambda m, path, meta: save_renderer_set(m, path, base, meta),
        sample=lambda m: sample_grid(m, shown.to(next(m.parameters()).device)), train_mode=lambda m: m.eval(),
        metadata={"stage": "renderer", "finetuned_networks": ",".join(config.networks),
                  "data_set": os.path.abspath(dataset.root), "clips": str(len(sampler.indices))},
        adversary=adversary,
    )
    return job, frozen


def check_frozen_untouched(model: RendererNetworks, frozen: dict[str, torch.Tensor]) -> None:
    """The networks not chosen for training are bit-identical to the base set's."""
    state = model.state_dict()
    changed = sorted(k for k, v in frozen.items() if not torch.equal(state[k].cpu(), v.cpu()))
    if changed:
        raise RuntimeError(f"renderer fine-tuning changed frozen weights: {changed[:5]} ({len(changed)} tensors)")


def run_renderer(config: RendererTrainConfig, base: BaseSet, vgg: VGG19Features, dataset, out_path: str, *,
                 device="cpu", resume=False, log=print, accumulate: int = 1, stop_at: int | None = None) -> dict:
    job, frozen = renderer_job(config, base, vgg, dataset, out_path)
    log(f"renderer: fine-tuning {', '.join(NETWORK_LETTERS[n] for n in config.networks)} "
        f"({sum(p.numel() for p in job.trainable.values()) / 1e6:.2f} M parameters) on "
        f"{job.metadata['clips']} clips; {config.renderer.steps} steps of batch "
        f"{config.batch_size} on {device}; config {json.dumps(config.to_dict())}")
    record = Trainer(job, device, log, accumulate).run(resume, stop_at)
    check_frozen_untouched(job.model, frozen)
    return record
