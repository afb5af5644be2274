"""Torch-free reader for PyTorch state-dict files (.pth / .pt).

Handles both serialisation formats:
  * the zip format (torch >= 1.6): archive/data.pkl + archive/data/<key>
  * the legacy format (torch < 1.6, which is what the MiniFASNet
    checkpoints use): a stream of pickles -- magic number, protocol
    version, sys_info, the object itself, the list of storage keys --
    followed, for each storage key in that order, by an int64 element
    count and the raw little-endian element bytes.

Only what a state dict needs is supported: torch._utils._rebuild_tensor_v2,
typed storages (FloatStorage, LongStorage, ...), collections.OrderedDict.
Result: OrderedDict[str, numpy.ndarray].
"""
import collections
import io
import pickle
import struct
import sys
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64,
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """Placeholder until the bytes are known (legacy) or a resolved array."""

    def __init__(self, dtype, numel):
        self.dtype = dtype
        self.numel = numel
        self.array = None


class _LazyTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialise(self):
        base = self.storage.array
        itemsize = base.dtype.itemsize
        if len(self.size) == 0:
            return base[self.offset].copy()
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, *extra):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, *extra):
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, persistent_loader):
        super().__init__(f)
        self._persistent_loader = persistent_loader

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        return self._persistent_loader(pid)


def _load_zip(path):
    zf = zipfile.ZipFile(path)
    names = zf.namelist()
    pkl = next(n for n in names if n.endswith("/data.pkl") or n == "data.pkl")
    prefix = pkl[: -len("data.pkl")]
    storages = {}

    def loader(pid):
        # ('storage', storage_type, key, location, numel)
        _, stype, key, _location, numel = pid[:5]
        if key not in storages:
            raw = zf.read(f"{prefix}data/{key}")
            st = _Storage(stype.dtype, numel)
            st.array = np.frombuffer(raw, dtype=stype.dtype.newbyteorder("<"))
            storages[key] = st
        return storages[key]

    obj = _Unpickler(io.BytesIO(zf.read(pkl)), loader).load()
    return obj


def _load_legacy(path):
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != LEGACY_MAGIC:
            raise ValueError("not a legacy torch file (bad magic)")
        protocol = pickle.load(f)
        if protocol != 1001:
            raise ValueError(f"unsupported legacy protocol {protocol}")
        sys_info = pickle.load(f)
        if not sys_info.get("little_endian", True):
            raise ValueError("big-endian checkpoints not supported")
        storages = {}

        def loader(pid):
            typename = pid[0]
            if typename != "storage":
                raise pickle.UnpicklingError(f"unknown persistent id {typename}")
            # ('storage', storage_type, root_key, location, numel, view_metadata)
            _, stype, key, _location, numel, view_meta = pid
            if view_meta is not None:
                raise pickle.UnpicklingError("storage views not supported")
            if key not in storages:
                storages[key] = _Storage(stype.dtype, numel)
            return storages[key]

        obj = _Unpickler(f, loader).load()
        keys = pickle.load(f)
        for key in keys:
            st = storages[key]
            (numel,) = struct.unpack("<q", f.read(8))
            if numel != st.numel:
                raise ValueError(f"storage {key}: size {numel} != {st.numel}")
            raw = f.read(numel * st.dtype.itemsize)
            st.array = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<"))
        rest = f.read()
        if rest:
            raise ValueError(f"{len(rest)} trailing bytes")
    return obj


def load_state_dict(path):
    """Return OrderedDict[name -> numpy array]."""
    obj = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    if not isinstance(obj, dict):
        raise ValueError(f"expected a state dict, got {type(obj)}")
    out = collections.OrderedDict()
    for k, v in obj.items():
        out[k] = v.materialise() if isinstance(v, _LazyTensor) else v
    return out


if __name__ == "__main__":
    for p in sys.argv[1:]:
        sd = load_state_dict(p)
        n = sum(int(np.prod(a.shape)) for k, a in sd.items() if a.dtype.kind == "f")
        print(f"# {p}: {len(sd)} entries, {n} float values")
        for k, a in sd.items():
            print(f"{k}\t{a.dtype}\t{list(a.shape)}")
