#!/usr/bin/env python3
"""Torch-free converter: MiniFASNet (V1/V2/V1SE/V2SE) state dict -> ONNX.

Builds the inference graph with onnx.helper directly from the weights read
by pth_reader (no PyTorch). Every BatchNorm is folded into the preceding
Conv / Gemm, dropout is dropped (eval mode), and a Softmax is appended so
the output is the 3-class probability vector (class 1 = real face).

Usage:
  convert_minifasnet.py IN.pth OUT.onnx [--logits] [--opset 11]

The variant is detected from the state dict: SE blocks are present iff keys
contain 'se_module'. Channel counts are taken from the weight shapes and
checked against the published 'keep' lists.
"""
import argparse
import re
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pth_reader import load_state_dict

BN_EPS = 1e-5  # torch BatchNorm default; the model code never changes it

# Channel lists ('keep') of the two pruned widths, as used by the reference
# model constructors: V1/V1SE use KEEP_18M, V2/V2SE use KEEP_18M_.
KEEP_18M = [32, 32, 103, 103, 64, 13, 13, 64, 26, 26, 64, 13, 13, 64, 52, 52, 64,
            231, 231, 128, 154, 154, 128, 52, 52, 128, 26, 26, 128, 52, 52, 128,
            26, 26, 128, 26, 26, 128, 308, 308, 128, 26, 26, 128, 26, 26, 128, 512, 512]
KEEP_18M_ = [32, 32, 103, 103, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64,
             231, 231, 128, 231, 231, 128, 52, 52, 128, 26, 26, 128, 77, 77, 128,
             26, 26, 128, 26, 26, 128, 308, 308, 128, 26, 26, 128, 26, 26, 128, 512, 512]

# (stage name, number of residual blocks or None for a stride-2 transition)
STAGES = [("conv_23", None), ("conv_3", 4), ("conv_34", None), ("conv_4", 6),
          ("conv_45", None), ("conv_5", 2)]


class Builder:
    def __init__(self, sd):
        self.sd = sd
        self.nodes = []
        self.inits = []
        self.n = 0
        self.used = set()

    def w(self, key):
        self.used.add(key)
        return self.sd[key].astype(np.float32)

    def uniq(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr, dtype=np.float32), name))
        return name

    def bn_params(self, prefix):
        g, b = self.w(prefix + ".weight"), self.w(prefix + ".bias")
        m, v = self.w(prefix + ".running_mean"), self.w(prefix + ".running_var")
        self.used.add(prefix + ".num_batches_tracked")
        s = g / np.sqrt(v + BN_EPS)
        return s, b - m * s

    def conv_bn(self, x, conv_key, bn_prefix, stride=1, pad=0, groups=1, name=None):
        """Conv(bias=False) followed by BatchNorm2d, folded into one Conv."""
        W = self.w(conv_key)
        s, t = self.bn_params(bn_prefix)
        Wf = W * s[:, None, None, None]
        name = name or conv_key.rsplit(".", 1)[0]
        k = W.shape[2]
        out = name
        self.nodes.append(helper.make_node(
            "Conv", [x, self.const(name + ".W", Wf), self.const(name + ".B", t)], [out], name=name,
            kernel_shape=[k, W.shape[3]], strides=[stride, stride], pads=[pad] * 4,
            group=groups, dilations=[1, 1]))
        return out

    def prelu(self, x, key):
        a = self.w(key)
        out = key.rsplit(".", 1)[0]
        self.nodes.append(helper.make_node("PRelu", [x, self.const(out + ".slope", a.reshape(-1, 1, 1))],
                                           [out], name=out))
        return out

    def conv_block(self, x, p, stride=1, pad=0, dw=False):
        """Conv -> BN -> PReLU (the reference 'Conv_block')."""
        W = self.sd[p + ".conv.weight"]
        groups = W.shape[0] if dw else 1
        if dw:
            assert W.shape[1] == 1, p
        y = self.conv_bn(x, p + ".conv.weight", p + ".bn", stride, pad, groups, name=p + ".conv")
        return self.prelu(y, p + ".prelu.weight")

    def linear_block(self, x, p, pad=0, dw=False):
        """Conv -> BN, no activation (the reference 'Linear_block')."""
        W = self.sd[p + ".conv.weight"]
        groups = W.shape[0] if dw else 1
        return self.conv_bn(x, p + ".conv.weight", p + ".bn", 1, pad, groups, name=p + ".conv")

    def se(self, x, p):
        """Squeeze-excitation: GAP -> 1x1(+BN) -> ReLU -> 1x1(+BN) -> sigmoid -> scale x."""
        gap = self.uniq(p + ".gap")
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [gap], name=gap))
        h = self.conv_bn(gap, p + ".fc1.weight", p + ".bn1", name=p + ".fc1")
        r = p + ".relu"
        self.nodes.append(helper.make_node("Relu", [h], [r], name=r))
        h2 = self.conv_bn(r, p + ".fc2.weight", p + ".bn2", name=p + ".fc2")
        sg = p + ".sigmoid"
        self.nodes.append(helper.make_node("Sigmoid", [h2], [sg], name=sg))
        out = p + ".scale"
        self.nodes.append(helper.make_node("Mul", [x, sg], [out], name=out))
        return out

    def depth_wise(self, x, p, stride, residual):
        y = self.conv_block(x, p + ".conv")                              # 1x1 expand
        y = self.conv_block(y, p + ".conv_dw", stride=stride, pad=1, dw=True)  # 3x3 depthwise
        y = self.linear_block(y, p + ".project")                          # 1x1 project
        if residual:
            if (p + ".se_module.fc1.weight") in self.sd:
                y = self.se(y, p + ".se_module")
            out = p + ".add"
            self.nodes.append(helper.make_node("Add", [x, y], [out], name=out))
            return out
        return y


def strip_prefix(sd):
    if all(k.startswith("module.") for k in sd):
        return {k[len("module."):]: v for k, v in sd.items()}, True
    return dict(sd), False


def channel_list(sd):
    """Recover the 49-entry keep list from weight shapes (out channels in order)."""
    keep = [sd["conv1.conv.weight"].shape[0], sd["conv2_dw.conv.weight"].shape[0]]
    for stage, nblk in STAGES:
        blocks = [stage] if nblk is None else [f"{stage}.model.{i}" for i in range(nblk)]
        for b in blocks:
            c1 = sd[b + ".conv.conv.weight"].shape[0]
            c2 = sd[b + ".conv_dw.conv.weight"].shape[0]
            c3 = sd[b + ".project.conv.weight"].shape[0]
            keep += [c1, c2, c3]
    keep += [sd["conv_6_sep.conv.weight"].shape[0], sd["conv_6_dw.conv.weight"].shape[0]]
    return keep


def build(sd, with_softmax=True, opset=11, input_hw=(80, 80), graph_name="MiniFASNet"):
    sd, had_prefix = strip_prefix(sd)
    keep = channel_list(sd)
    if keep == KEEP_18M:
        width = "1.8M (V1)"
    elif keep == KEEP_18M_:
        width = "1.8M_ (V2)"
    else:
        raise SystemExit(f"unexpected channel list {keep}")
    has_se = any("se_module" in k for k in sd)

    b = Builder(sd)
    x = "input"
    x = b.conv_block(x, "conv1", stride=2, pad=1)
    x = b.conv_block(x, "conv2_dw", stride=1, pad=1, dw=True)
    for stage, nblk in STAGES:
        if nblk is None:
            x = b.depth_wise(x, stage, stride=2, residual=False)
        else:
            for i in range(nblk):
                x = b.depth_wise(x, f"{stage}.model.{i}", stride=1, residual=True)
    x = b.conv_block(x, "conv_6_sep")
    kdw = sd["conv_6_dw.conv.weight"].shape[2]
    x = b.linear_block(x, "conv_6_dw", dw=True)  # k x k depthwise, no padding -> 1x1
    b.nodes.append(helper.make_node("Flatten", [x], ["flat"], name="flatten", axis=1))
    # linear (no bias) followed by BatchNorm1d -> one Gemm with bias
    L = b.w("linear.weight")
    s, t = b.bn_params("bn")
    b.nodes.append(helper.make_node("Gemm", ["flat", b.const("linear.W", L * s[:, None]), b.const("linear.B", t)],
                                    ["embedding"], name="linear_bn", transB=1))
    P = b.w("prob.weight")
    b.nodes.append(helper.make_node("Gemm", ["embedding", b.const("prob.W", P),
                                             b.const("prob.B", np.zeros(P.shape[0], np.float32))],
                                    ["logits"], name="prob", transB=1))
    out_name = "logits"
    if with_softmax:
        b.nodes.append(helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=1))
        out_name = "prob"

    unused = sorted(set(sd) - b.used)
    if unused:
        raise SystemExit(f"state-dict keys not consumed: {unused}")

    h, w = input_hw
    graph = helper.make_graph(
        b.nodes, graph_name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, h, w])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, P.shape[0]])],
        initializer=b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="facegate scripts/convert-pad-models")
    model.ir_version = 6 if opset <= 11 else 7
    model.doc_string = (f"MiniFASNet width={width} se={has_se} conv6_kernel={kdw} "
                        f"input=BGR float 0..255 NCHW 1x3x{h}x{w}; output={out_name}; "
                        f"BN folded; source state dict had 'module.' prefix={had_prefix}")
    return model, dict(width=width, se=has_se, keep=keep, prefix=had_prefix, nodes=len(b.nodes),
                       params=int(sum(np.prod(i.dims) for i in b.inits)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--logits", action="store_true", help="output raw logits instead of softmax")
    ap.add_argument("--opset", type=int, default=11)
    a = ap.parse_args(argv)
    m = re.search(r"_(\d+)x(\d+)_", a.src)
    hw = (int(m.group(1)), int(m.group(2))) if m else (80, 80)
    model, info = build(load_state_dict(a.src), with_softmax=not a.logits, opset=a.opset, input_hw=hw)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, a.dst)
    print(f"{a.dst}: {info}")


if __name__ == "__main__":
    sys.exit(main())
