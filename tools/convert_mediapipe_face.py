"""Convert mediapipe's face .tflite models to the safetensors files in playmate_core/face/weights/.

Run once by a maintainer; the pack itself never needs mediapipe, TensorFlow or this script.

Source: the mediapipe 0.10.21 wheel (Apache-2.0, Google LLC), the last release that ships the
models inside the package:

    pip download --no-deps mediapipe==0.10.21 -d /tmp/mp && unzip -q /tmp/mp/mediapipe-*.whl -d /tmp/mp/x

| file in the wheel                                              | sha256                                                           |
|----------------------------------------------------------------|------------------------------------------------------------------|
| mediapipe/modules/face_detection/face_detection_short_range.tflite | bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8 |
| mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite | 2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1 |
| mediapipe/modules/face_landmark/face_landmark.tflite           | 1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814 |

Requirements (a throwaway venv is enough): torch, safetensors, numpy and the pure-Python
flatbuffers reader `tflite` (pip install tflite==2.18.0). Optional: `ai-edge-litert` (the TFLite
runtime) for --check, which runs each .tflite and our port on the same inputs and prints the
differences.

    python tools/convert_mediapipe_face.py --models /tmp/mp/x/mediapipe/modules [--check IMAGE]
        [--golden astronaut_512x512.png]   # record TFLite outputs: tests/data/face_tflite_golden.safetensors

How the conversion works: every constant tensor is decoded (float16 -> float32 DEQUANTIZE, CSR
DENSIFY for the sparse full-range model), the weighted operators (CONV_2D, DEPTHWISE_CONV_2D,
PRELU) are grouped by which graph outputs they feed (shared trunk / each head), and zipped in
execution order with the layers of our module in the order its forward pass calls them (recorded
with hooks), every shape checked. Layouts: conv OHWI -> OIHW, depthwise 1HWC -> C1HW, PReLU
[1,1,C] -> [C]. The weights are stored as float16, exactly the values in the .tflite files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from dataclasses import dataclass

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from playmate_core.face.config import BlazeFaceConfig, FaceMeshConfig  # noqa: E402
from playmate_core.face.weights import WEIGHTS_DIR, build_network  # noqa: E402

MEDIAPIPE_VERSION = "0.10.21"


@dataclass(frozen=True)
class Source:
    relative_path: str
    sha256: str
    config: object
    # our top-level submodule prefixes for: the shared trunk, then each graph output's own head
    groups: dict


SOURCES = {
    "short_range": Source(
        "face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        BlazeFaceConfig.short_range(),
        {"trunk": ("stem", "blocks"), "classificators": ("classifiers",), "regressors": ("regressors",)},
    ),
    "full_range": Source(
        "face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        BlazeFaceConfig.full_range(),
        {"trunk": ("stem", "stages", "laterals", "top", "top_down", "reduce"),
         "Identity_1": ("classifier",), "Identity": ("regressor",)},
    ),
    "facemesh": Source(
        "face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        FaceMeshConfig(),
        {"trunk": ("stem", "stem_act", "trunk"), "conv2d_21": ("landmark_head",), "conv2d_31": ("presence_head",)},
    ),
}


# ----------------------------------------------------------------------------- .tflite reading

def _op_name(tflite, model, op) -> str:
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    code = model.OperatorCodes(op.OpcodeIndex())
    return names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]


def _densify(tflite, model, tensor) -> np.ndarray:
    """Decode a sparse tensor stored as dense leading dims + one CSR last dim (no block map)."""
    sparsity = tensor.Sparsity()
    shape = [int(s) for s in tensor.ShapeAsNumpy()]
    if sparsity.BlockMapLength() or list(sparsity.TraversalOrderAsNumpy()) != list(range(len(shape))):
        raise NotImplementedError(f"unsupported sparsity layout in {tensor.Name()}")
    dims = [sparsity.DimMetadata(d) for d in range(len(shape))]
    if any(d.Format() != 0 for d in dims[:-1]) or dims[-1].Format() != 1:
        raise NotImplementedError(f"unsupported sparsity formats in {tensor.Name()}")

    def index_vector(table_type, table):
        vector = {1: tflite.Int32Vector, 2: tflite.Uint16Vector, 3: tflite.Uint8Vector}[table_type]()
        vector.Init(table.Bytes, table.Pos)
        return vector.ValuesAsNumpy().astype(np.int64)

    last = dims[-1]
    segments = index_vector(last.ArraySegmentsType(), last.ArraySegments())
    indices = index_vector(last.ArrayIndicesType(), last.ArrayIndices())
    values = np.frombuffer(model.Buffers(tensor.Buffer()).DataAsNumpy().tobytes(), np.float16)
    dense = np.zeros((int(np.prod(shape[:-1])), shape[-1]), np.float16)
    for row in range(dense.shape[0]):
        start, stop = segments[row], segments[row + 1]
        dense[row, indices[start:stop]] = values[start:stop]
    return dense.reshape(shape)


def read_weighted_ops(path: str):
    """[(op kind, output-group key, [float16 arrays])] in execution order, plus the graph output names."""
    import tflite

    model = tflite.Model.GetRootAsModel(open(path, "rb").read(), 0)
    graph = model.Subgraphs(0)
    tensors = [graph.Tensors(i) for i in range(graph.TensorsLength())]
    constants: dict[int, np.ndarray] = {}
    for index, tensor in enumerate(tensors):
        data = model.Buffers(tensor.Buffer()).DataAsNumpy()
        if tensor.Sparsity() is None and not isinstance(data, int) and tensor.Type() == tflite.TensorType.FLOAT16:
            shape = [int(s) for s in tensor.ShapeAsNumpy()]
            constants[index] = np.frombuffer(data.tobytes(), np.float16).reshape(shape)
    ops = [graph.Operators(i) for i in range(graph.OperatorsLength())]
    for op in ops:
        name = _op_name(tflite, model, op)
        source, target = int(op.Inputs(0)), int(op.Outputs(0))
        if name == "DENSIFY":
            constants[target] = _densify(tflite, model, tensors[source])
        elif name == "DEQUANTIZE":
            constants[target] = constants[source]

    outputs = {int(graph.Outputs(i)): tensors[graph.Outputs(i)].Name().decode() for i in range(graph.OutputsLength())}
    consumers: dict[int, list[int]] = {}
    for position, op in enumerate(ops):
        for t in op.InputsAsNumpy():
            consumers.setdefault(int(t), []).append(position)
    reaches: list[frozenset] = [frozenset()] * len(ops)
    for position in range(len(ops) - 1, -1, -1):
        found = set()
        for t in ops[position].OutputsAsNumpy():
            t = int(t)
            if t in outputs:
                found.add(outputs[t])
            for consumer in consumers.get(t, ()):
                found |= reaches[consumer]
        reaches[position] = frozenset(found)

    weighted = []
    for position, op in enumerate(ops):
        name = _op_name(tflite, model, op)
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "PRELU"):
            continue
        arrays = [constants[int(t)] for t in op.InputsAsNumpy()[1:] if int(t) >= 0]
        group = "trunk" if len(reaches[position]) > 1 else next(iter(reaches[position]))
        weighted.append((name, group, arrays))
    return weighted, sorted(outputs.values())


# ----------------------------------------------------------------------------- mapping

def layers_in_call_order(net: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """Leaf layers with parameters, in the order a forward pass calls them."""
    order, handles = [], []
    for name, module in net.named_modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.PReLU)):
            handles.append(module.register_forward_hook(lambda m, i, o, n=name: order.append((n, m))))
    size = net.config.input_size
    with torch.no_grad():
        net(torch.zeros(1, 3, size, size))
    for handle in handles:
        handle.remove()
    return order


def _as_torch(kind: str, module: torch.nn.Module, arrays: list[np.ndarray]) -> dict[str, np.ndarray]:
    if kind == "PRELU":
        if not isinstance(module, torch.nn.PReLU):
            raise ValueError(f"expected PReLU, got {module}")
        return {"weight": arrays[0].reshape(-1)}
    if not isinstance(module, torch.nn.Conv2d):
        raise ValueError(f"expected a convolution, got {module}")
    weight, bias = arrays
    depthwise = kind == "DEPTHWISE_CONV_2D"
    if depthwise != (module.groups > 1):
        raise ValueError(f"{kind} does not match {module}")
    weight = weight.transpose(3, 0, 1, 2) if depthwise else weight.transpose(0, 3, 1, 2)
    return {"weight": weight, "bias": bias}


def convert(source: Source, path: str) -> dict[str, torch.Tensor]:
    weighted, _ = read_weighted_ops(path)
    net = build_network(source.config)
    layers = layers_in_call_order(net)
    expected = net.state_dict()
    state: dict[str, torch.Tensor] = {}
    for group, prefixes in source.groups.items():
        ours = [(n, m) for n, m in layers if n.split(".")[0] in prefixes]
        theirs = [(k, a) for k, g, a in weighted if g == group]
        if len(ours) != len(theirs):
            raise ValueError(f"{group}: {len(ours)} layers here, {len(theirs)} in the .tflite")
        for (name, module), (kind, arrays) in zip(ours, theirs):
            for key, array in _as_torch(kind, module, arrays).items():
                full = f"{name}.{key}"
                if tuple(expected[full].shape) != array.shape:
                    raise ValueError(f"{full}: shape {tuple(expected[full].shape)} vs {array.shape} ({kind})")
                state[full] = torch.from_numpy(np.array(array, order="C"))
    missing = set(expected) - set(state)
    if missing:
        raise ValueError(f"not filled: {sorted(missing)}")
    return state


def run_checks(models_dir: str, image_path: str) -> None:
    """Run every .tflite with the TFLite runtime and our loaded port on the same inputs; print the gaps."""
    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image

    from playmate_core.face.weights import load_network

    generator = np.random.default_rng(0)
    for key, source in SOURCES.items():
        size = source.config.input_size
        low = 0.0 if isinstance(source.config, FaceMeshConfig) else -1.0
        photo = np.asarray(Image.open(image_path).convert("RGB").resize((size, size), Image.BILINEAR), np.float32)
        inputs = {"image": photo / 255.0 * (1.0 - low) + low,
                  "noise": generator.uniform(low, 1.0, (size, size, 3)).astype(np.float32)}
        interpreter = Interpreter(model_path=os.path.join(models_dir, source.relative_path))
        interpreter.allocate_tensors()
        net = load_network(source.config)
        for name, array in inputs.items():
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], array[None])
            interpreter.invoke()
            reference = {d["name"]: interpreter.get_tensor(d["index"]).reshape(-1) for d in interpreter.get_output_details()}
            with torch.no_grad():
                ours = [t.reshape(-1).numpy() for t in net(torch.from_numpy(array).permute(2, 0, 1)[None])]
            for output in ours:
                match = [r for r in reference.values() if r.shape == output.shape][0]
                rel = np.linalg.norm(output - match) / max(np.linalg.norm(match), 1e-12)
                print(f"  {key:11s} {name:5s} [{output.size:5d}] max|diff| {np.abs(output - match).max():.3e}"
                      f"  rel L2 {rel:.3e}")


GOLDEN_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data",
                           "face_tflite_golden.safetensors")
GOLDEN_TOP = 64


def golden_inputs(probe: np.ndarray) -> dict[str, np.ndarray]:
    """Network inputs [1, S, S, 3] float32 from a 192x192 uint8 RGB probe image: FaceMesh and the
    full-range detector take all of it, the short-range detector its central 128x128."""
    full = probe.astype(np.float32) / 255.0
    return {
        "short_range": full[32:160, 32:160][None] * 2 - 1,
        "full_range": full[None] * 2 - 1,
        "facemesh": full[None],
    }


def write_golden(models_dir: str, image_path: str, box: tuple[int, int, int, int]) -> None:
    """Record the TFLite runtime's raw outputs on a face probe (the tests compare our port to them)."""
    from ai_edge_litert.interpreter import Interpreter
    from PIL import Image
    from safetensors.numpy import save_file as save_numpy

    photo = Image.open(image_path).convert("RGB")
    probe = np.asarray(photo.crop(box).resize((192, 192), Image.LANCZOS), np.uint8)
    tensors = {"probe": probe}
    for key, array in golden_inputs(probe).items():
        interpreter = Interpreter(model_path=os.path.join(models_dir, SOURCES[key].relative_path))
        interpreter.allocate_tensors()
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], array)
        interpreter.invoke()
        outputs = sorted((interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()), key=np.size)
        if key == "facemesh":
            tensors["facemesh.presence"], tensors["facemesh.landmarks"] = (o.reshape(-1) for o in outputs)
        else:
            scores, boxes = outputs[0].reshape(-1), outputs[1].reshape(-1, 16)
            top = np.argsort(-scores, kind="stable")[:GOLDEN_TOP].astype(np.int64)
            tensors.update({f"{key}.scores": scores, f"{key}.top": top, f"{key}.top_boxes": boxes[top]})
    save_numpy({k: np.ascontiguousarray(v) for k, v in tensors.items()}, GOLDEN_PATH,
               metadata={"source": f"TFLite runtime (ai-edge-litert) on the mediapipe {MEDIAPIPE_VERSION} models",
                         "probe": f"{os.path.basename(image_path)} box {box} resized to 192x192"})
    print(f"golden outputs -> {GOLDEN_PATH}")


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main() -> None:
    from safetensors.torch import save_file

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", required=True, help="the wheel's mediapipe/modules folder")
    parser.add_argument("--out", default=WEIGHTS_DIR)
    parser.add_argument("--check", metavar="IMAGE", help="compare with the TFLite runtime on this image")
    parser.add_argument("--golden", metavar="IMAGE", help="record TFLite outputs on this image for the tests")
    parser.add_argument("--golden-box", default="130,20,330,220", help="x0,y0,x1,y1 of the probe square")
    args = parser.parse_args()
    for key, source in SOURCES.items():
        path = os.path.join(args.models, source.relative_path)
        digest = sha256(path)
        if digest != source.sha256:
            raise SystemExit(f"{path}: sha256 {digest} is not the mediapipe {MEDIAPIPE_VERSION} file")
        state = convert(source, path)
        metadata = {
            "source": f"mediapipe {MEDIAPIPE_VERSION} wheel (PyPI): mediapipe/modules/{source.relative_path}",
            "source_sha256": digest,
            "license": "Apache-2.0",
            "copyright": "Copyright 2020-2025 The MediaPipe Authors (Google LLC)",
            "converted_by": "tools/convert_mediapipe_face.py",
            "layout": "PyTorch OIHW, float16 as in the source",
        }
        out = os.path.join(args.out, source.config.weights_file)
        save_file(state, out, metadata=metadata)
        params = sum(t.numel() for t in state.values())
        print(f"{key}: {len(state)} tensors, {params} parameters -> {out} ({os.path.getsize(out)} bytes)")
    if args.check:
        run_checks(args.models, args.check)
    if args.golden:
        write_golden(args.models, args.golden, tuple(int(v) for v in args.golden_box.split(",")))


if __name__ == "__main__":
    main()
