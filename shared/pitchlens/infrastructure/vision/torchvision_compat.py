"""A minimal `torchvision` stand-in for ultralytics, installed only when torchvision cannot be imported.

Why: PyPI's `torchvision` wheel is a CUDA build. Next to the CPU build of torch that the `vision`
extra pins, `import torchvision` fails with ``RuntimeError: operator torchvision::nms does not
exist``. ultralytics cannot simply do without it:

- it needs torchvision's *metadata* to import at all (`ultralytics.utils.TORCHVISION_VERSION`), so
  the broken package has to stay installed;
- its predictor imports torchvision during warm-up (`AutoBackend.warmup`, and `BasePredictor.setup_source`
  for videos and streams), so `YOLO(...).predict(...)` and `YOLO(...).track(...)` crash even though
  detection itself never needs it;
- its NMS (`ultralytics.utils.nms.non_max_suppression`) calls `torchvision.ops.nms` when
  `"torchvision" in sys.modules`, and otherwise falls back to its own exact equivalent, `TorchNMS.nms`.

So the stand-in is a module named `torchvision` whose `ops.nms` (plus `ops.batched_nms` and
`ops.box_iou`) is ultralytics' own `TorchNMS`: the warm-up import succeeds and NMS gives the same
boxes as the real kernel. Nothing else of torchvision is provided (models, transforms, datasets,
TorchScript custom ops); code needing those fails with an `AttributeError`/`ImportError` that names
the stand-in. When the real torchvision imports, it is used and nothing is installed.

PitchLens' own OpenVINO path needs none of this; it is for `.pt` models and for baselines that call
`YOLO(...).predict` / `.track` directly.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import logging
import sys
import types
from typing import Any

STAND_IN_ATTRIBUTE = "__pitchlens_stand_in__"
"""Set to True on the stand-in module (and its `ops`) so callers can tell it from the real package."""

_log = logging.getLogger(__name__)


def ensure_torchvision() -> bool:
    """Make `import torchvision` work for ultralytics. True when the real torchvision is in use, False
    when the stand-in was (or already had been) installed. Idempotent and cheap after the first call."""
    loaded = sys.modules.get("torchvision")
    if loaded is not None:
        return not getattr(loaded, STAND_IN_ATTRIBUTE, False)
    try:
        import torchvision  # noqa: F401
    except (ImportError, RuntimeError, OSError) as error:
        _forget_partial_import()
        install_stand_in()
        _log.info("torchvision cannot be imported (%s); using the NMS-only stand-in", error)
        return False
    return True


def install_stand_in() -> types.ModuleType:
    """Put the stand-in in `sys.modules` as `torchvision` and `torchvision.ops`, replacing what is there."""
    _forget_partial_import()
    package = _module("torchvision", is_package=True)
    ops = _module("torchvision.ops", is_package=False)
    ops.nms = _nms  # type: ignore[attr-defined]
    ops.batched_nms = _batched_nms  # type: ignore[attr-defined]
    ops.box_iou = _box_iou  # type: ignore[attr-defined]
    package.ops = ops  # type: ignore[attr-defined]
    package.__version__ = _installed_version()  # type: ignore[attr-defined]
    sys.modules["torchvision"] = package
    sys.modules["torchvision.ops"] = ops
    return package


def is_stand_in_installed() -> bool:
    return bool(getattr(sys.modules.get("torchvision"), STAND_IN_ATTRIBUTE, False))


def _module(name: str, *, is_package: bool) -> types.ModuleType:
    module = types.ModuleType(name, f"PitchLens stand-in for {name}: NMS only (see {__name__}).")
    module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None, is_package=is_package)
    if is_package:
        module.__path__ = []
    setattr(module, STAND_IN_ATTRIBUTE, True)
    return module


def _forget_partial_import() -> None:
    # A failed `import torchvision` leaves half-initialised submodules behind; drop them so the next
    # `import torchvision.x` fails cleanly instead of returning a broken module.
    for name in [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]:
        del sys.modules[name]


def _installed_version() -> str:
    try:
        return importlib.metadata.version("torchvision")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def _nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """`torchvision.ops.nms`: indices of the boxes kept, by descending score."""
    from ultralytics.utils.nms import TorchNMS

    return TorchNMS.nms(boxes, scores, iou_threshold)


def _batched_nms(boxes: Any, scores: Any, idxs: Any, iou_threshold: float) -> Any:
    """`torchvision.ops.batched_nms`: NMS within each category, by offsetting categories apart."""
    if boxes.numel() == 0:
        return _nms(boxes, scores, iou_threshold)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    return _nms(boxes + offsets[:, None], scores, iou_threshold)


def _box_iou(boxes1: Any, boxes2: Any) -> Any:
    """`torchvision.ops.box_iou`: the N x M IoU matrix of two xyxy box sets."""
    from ultralytics.utils.metrics import box_iou

    return box_iou(boxes1, boxes2)
