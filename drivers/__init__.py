"""Storage drivers: one module per driver behind `bb.drivers.base.Driver`."""

from bb.drivers.base import register


def _overlay():  # type: ignore[no-untyped-def]
    from bb.drivers.overlay import OverlayDriver

    return OverlayDriver


def _vfs():  # type: ignore[no-untyped-def]
    from bb.drivers.vfs import VfsDriver

    return VfsDriver


def _devicemapper():  # type: ignore[no-untyped-def]
    from bb.drivers.devicemapper.driver import DeviceMapperDriver

    return DeviceMapperDriver


register("overlay", _overlay)
register("vfs", _vfs)
register("devicemapper", _devicemapper)
