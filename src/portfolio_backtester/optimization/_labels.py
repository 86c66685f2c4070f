"""Encode index and column labels as JSON plus .npy arrays, and rebuild them exactly."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from portfolio_backtester.errors import DataError
from portfolio_backtester.optimization._metadata import (
    VALUE_KINDS,
    json_object,
    numeric_dtype,
    optional,
    plain_file_name,
    required,
)

__all__ = ["decode_labels", "encode_labels"]

_TIME_UNITS = ("s", "ms", "us", "ns")


def encode_labels(
    labels: pd.Index, prefix: str, where: str, arrays: dict[str, npt.NDArray[Any]]
) -> dict[str, Any]:
    """The JSON description of ``labels``; numeric labels go into ``arrays`` as
    ``{prefix}….npy`` files. Labels that cannot be rebuilt exactly raise a DataError."""
    if not isinstance(labels, pd.MultiIndex):
        return _encode_flat(labels, prefix, where, arrays)
    levels, codes = [], []
    for i, (level, level_codes) in enumerate(zip(labels.levels, labels.codes, strict=True)):
        levels.append(_encode_flat(level, f"{prefix}.level{i}", f"{where} level {i}", arrays))
        file = f"{prefix}.codes{i}.npy"
        arrays[file] = np.asarray(level_codes, dtype="<i8")
        codes.append(file)
    names = [_checked_name(name, where) for name in labels.names]
    return {"kind": "multi", "names": names, "levels": levels, "codes": codes}


def decode_labels(spec: Mapping[str, Any], directory: Path, where: str) -> pd.Index:
    """The labels ``spec`` describes, their arrays mapped from ``directory``."""
    if required(spec, "kind", str, where) != "multi":
        return _decode_flat(spec, directory, where)
    names = required(spec, "names", list, where)
    level_specs = required(spec, "levels", list, where)
    code_files = required(spec, "codes", list, where)
    if not len(names) == len(level_specs) == len(code_files) or not level_specs:
        raise DataError(f"{where}: names, levels and codes should be equally long and not empty")
    levels: list[Any] = [
        _decode_flat(json_object(level, where), directory, f"{where} level {i}")
        for i, level in enumerate(level_specs)
    ]
    codes: list[Any] = [_load_labels(directory, file, "i", where) for file in code_files]
    try:
        return pd.MultiIndex(
            levels=levels, codes=codes, names=[_name(n, where) for n in names],
            verify_integrity=True,
        )  # fmt: skip
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: invalid MultiIndex: {exc}") from exc


# --- encoding ---------------------------------------------------------------------------


def _encode_flat(
    labels: pd.Index, prefix: str, where: str, arrays: dict[str, npt.NDArray[Any]]
) -> dict[str, Any]:
    name = _checked_name(labels.name, where)
    file = f"{prefix}.npy"
    if isinstance(labels, pd.RangeIndex):
        return {"kind": "range", "start": labels.start, "stop": labels.stop,
                "step": labels.step, "name": name}  # fmt: skip
    if isinstance(labels, pd.DatetimeIndex | pd.TimedeltaIndex):
        arrays[file] = np.asarray(labels.asi8, dtype="<i8")
        spec = {"kind": "datetime", "unit": labels.unit, "tz": None, "freq": labels.freqstr,
                "name": name, "file": file, "length": len(labels)}  # fmt: skip
        if isinstance(labels, pd.TimedeltaIndex):
            spec["kind"] = "timedelta"
        else:
            spec["tz"] = _tz_name(labels, where)
        return spec
    dtype = labels.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in VALUE_KINDS:
        arrays[file] = labels.to_numpy()
        return {"kind": "numeric", "dtype": dtype.name, "name": name, "file": file,
                "length": len(labels)}  # fmt: skip
    if isinstance(dtype, pd.StringDtype):
        values = [None if value is pd.NA else value for value in labels.tolist()]
        spec = {"kind": "text", "dtype": "string", "storage": dtype.storage,
                "na_value": "NA" if dtype.na_value is pd.NA else "nan"}  # fmt: skip
    elif dtype == np.dtype(object):
        values = labels.tolist()
        spec = {"kind": "text", "dtype": "object"}
    else:
        raise DataError(
            f"{where}: labels of dtype {dtype} cannot be saved; use dates, numbers or text "
            "(e.g. frame.columns = frame.columns.astype(str))"
        )
    for value in values:
        if not _is_text_label(value):
            raise DataError(
                f"{where}: the label {value!r} ({type(value).__name__}) is among text labels; "
                "only text and missing labels can be saved with it: convert them with .astype(str)"
            )
    return {**spec, "name": name, "values": values}


def _is_text_label(value: object) -> bool:
    return (
        value is None or isinstance(value, str) or (isinstance(value, float) and math.isnan(value))
    )


def _checked_name(name: object, where: str) -> str | int | None:
    if name is None or isinstance(name, str | int):
        return name
    if isinstance(name, np.integer):
        return int(name)
    raise DataError(f"{where}: the name {name!r} cannot be saved; use text, an int or None")


def _tz_name(labels: pd.DatetimeIndex, where: str) -> str | None:
    """An IANA name or UTC offset that rebuilds exactly this time zone, or a DataError."""
    tz = labels.tz
    if tz is None:
        return None
    name = getattr(tz, "key", None) or getattr(tz, "zone", None) or str(tz)
    try:
        same = isinstance(name, str) and pd.DatetimeTZDtype(labels.unit, name) == labels.dtype
    except (KeyError, ValueError, TypeError):  # ZoneInfoNotFoundError is a KeyError
        same = False
    if not same:
        raise DataError(
            f"{where}: the time zone {tz!r} cannot be saved by name; convert the labels "
            "to an IANA zone (e.g. .tz_convert('America/New_York')) or to UTC"
        )
    return str(name)


# --- decoding ---------------------------------------------------------------------------


def _decode_flat(spec: Mapping[str, Any], directory: Path, where: str) -> pd.Index:
    kind = required(spec, "kind", str, where)
    name = _name(spec.get("name"), where)
    if kind == "range":
        start, stop, step = (required(spec, key, int, where) for key in ("start", "stop", "step"))
        if step == 0:
            raise DataError(f"{where}: a range step cannot be 0")
        return pd.RangeIndex(start, stop, step, name=name)
    if kind == "text":
        return _decode_text(spec, name, where)
    if kind not in ("datetime", "timedelta", "numeric"):
        raise DataError(f"{where}: unknown label kind {kind!r}")
    file = required(spec, "file", str, where)
    if kind == "numeric":
        dtype = numeric_dtype(required(spec, "dtype", str, where), where)
        values = _load_labels(directory, file, dtype.kind, where)
        if values.dtype != dtype:
            raise DataError(f"{where}: {file} holds {values.dtype}, the metadata says {dtype}")
        labels: pd.Index = pd.Index(values, name=name)
    else:
        unit = required(spec, "unit", str, where)
        if unit not in _TIME_UNITS:
            raise DataError(f"{where}: unit {unit!r} is not one of {_TIME_UNITS}")
        ticks = _load_labels(directory, file, "i", where).astype(np.int64, copy=False)
        freq = optional(spec, "freq", str, where)
        tz = optional(spec, "tz", str, where)
        try:
            if kind == "timedelta":
                labels = pd.TimedeltaIndex(ticks.view(f"m8[{unit}]"), copy=False)
                if freq is not None:  # pandas checks that the labels follow the frequency
                    labels = pd.TimedeltaIndex(labels, freq=freq)
            else:
                # copy=False: pandas 3 copies by default; the mapped labels stay shared.
                labels = pd.DatetimeIndex(ticks.view(f"M8[{unit}]"), copy=False)
                if tz is not None:
                    labels = labels.tz_localize("UTC").tz_convert(tz)
                if freq is not None:
                    labels = pd.DatetimeIndex(labels, freq=freq)
            labels = labels.rename(name)
        except (ValueError, TypeError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise DataError(f"{where}: cannot rebuild the {kind} labels: {exc}") from exc
    if len(labels) != required(spec, "length", int, where):
        raise DataError(f"{where}: {file} holds {len(labels)} labels, expected {spec['length']}")
    return labels


def _decode_text(spec: Mapping[str, Any], name: str | int | None, where: str) -> pd.Index:
    values = required(spec, "values", list, where)
    if not all(_is_text_label(value) for value in values):
        raise DataError(f"{where}: text labels must be strings or null")
    dtype_name = required(spec, "dtype", str, where)
    if dtype_name == "object":
        return pd.Index(values, dtype=object, name=name)
    storage = required(spec, "storage", str, where)
    na_value = required(spec, "na_value", str, where)
    if (
        dtype_name != "string"
        or storage not in ("python", "pyarrow")
        or na_value not in ("NA", "nan")
    ):
        raise DataError(f"{where}: unknown text dtype {dtype_name!r}/{storage!r}/{na_value!r}")
    try:
        dtype = pd.StringDtype(
            cast(Literal["python", "pyarrow"], storage),
            na_value=pd.NA if na_value == "NA" else np.nan,
        )
        labels: pd.Index = pd.Index(values, dtype=dtype, name=name)
        return labels
    except ImportError as exc:  # pyarrow storage on a machine without pyarrow
        raise DataError(f"{where}: cannot rebuild {storage} string labels: {exc}") from exc


def _load_labels(directory: Path, file: object, kinds: str, where: str) -> npt.NDArray[Any]:
    """A 1-D label array, mapped like the values: a long date index is then neither read
    nor copied when a worker opens the data, so opening costs the same at any size."""
    path = directory / plain_file_name(file, where)
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{where}: cannot read {path}: {exc}") from exc
    if not isinstance(array, np.ndarray):
        array.close()
        raise DataError(f"{where}: {path} is not a .npy array file")
    if array.ndim != 1 or array.dtype.kind not in kinds:
        raise DataError(f"{where}: {path} holds a {array.ndim}-D {array.dtype} array")
    return array


def _name(value: object, where: str) -> str | int | None:
    if value is None or isinstance(value, str | int):
        return value
    raise DataError(f"{where}: a label name must be text, an int or null, found {value!r:.60}")
