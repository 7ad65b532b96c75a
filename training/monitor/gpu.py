"""GPU utilisation, memory, temperature and power through NVML (nvidia-ml-py); "no GPU" otherwise."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GpuStat:
    index: int
    name: str
    utilization: float  # percent
    memory_used: float  # GiB
    memory_total: float  # GiB
    temperature: float  # Celsius
    power: float  # watts
    power_limit: float  # watts


class GpuProbe:
    """`read()` gives one GpuStat per device, or [] with `.reason` saying why there is none."""

    def __init__(self, enabled: bool = True):
        self.reason = "GPU monitoring off"
        self._nvml = None
        self._handles: list = []
        if not enabled:
            return
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            self._nvml = pynvml
            self.reason = "" if self._handles else "no GPU found by NVML"
        except ImportError:
            self.reason = "no GPU: nvidia-ml-py is not installed (pip install nvidia-ml-py)"
        except Exception as err:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
            self.reason = f"no GPU: NVML unavailable ({err})"

    def read(self) -> list[GpuStat]:
        if self._nvml is None:
            return []
        nv, out = self._nvml, []
        for i, h in enumerate(self._handles):
            try:
                mem = nv.nvmlDeviceGetMemoryInfo(h)
                name = nv.nvmlDeviceGetName(h)
                out.append(GpuStat(
                    index=i,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    utilization=float(nv.nvmlDeviceGetUtilizationRates(h).gpu),
                    memory_used=mem.used / 2**30,
                    memory_total=mem.total / 2**30,
                    temperature=float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)),
                    power=nv.nvmlDeviceGetPowerUsage(h) / 1000.0,
                    power_limit=nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0,
                ))
            except Exception as err:
                self.reason = f"NVML read failed: {err}"
        return out
