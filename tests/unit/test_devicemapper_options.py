"""The devicemapper driver's direct-lvm, autoextend and logging options (parsing only: the rest
needs device-mapper, tested in the VM by tests/devicemapper/test_direct_lvm.py)."""

from __future__ import annotations

import pytest

from bb.drivers.devicemapper.options import parse_options
from bb.errors import InvalidArgument


def test_direct_lvm_defaults_are_mobys():
    parsed = parse_options({"dm.directlvm_device": "/dev/vdb"})
    assert parsed.directlvm_device == "/dev/vdb" and not parsed.directlvm_force
    assert (parsed.thinp_percent, parsed.thinp_metapercent) == (95, 1)
    assert (parsed.autoextend_threshold, parsed.autoextend_percent) == (80, 20)
    assert parsed.xfs_nospace_max_retries is None and parsed.log_level == 0


def test_direct_lvm_options():
    parsed = parse_options(
        {
            "dm.directlvm_device": "/dev/vdb",
            "dm.directlvm_device_force": "true",
            "dm.thinp_percent": "60%",
            "dm.thinp_metapercent": "2",
            "dm.thinp_autoextend_threshold": "100",
            "dm.thinp_autoextend_percent": "10",
            "dm.xfs_nospace_max_retries": "0",
            "dm.libdm_log_level": "7",
        }
    )
    assert parsed.directlvm_force and (parsed.thinp_percent, parsed.thinp_metapercent) == (60, 2)
    assert (parsed.autoextend_threshold, parsed.autoextend_percent) == (100, 10)
    assert parsed.xfs_nospace_max_retries == 0 and parsed.log_level == 7


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dm.directlvm_device": "vdb"}, "expected a block device under /dev"),
        ({"dm.directlvm_device": "/dev/vdb", "dm.thinpooldev": "p"}, "give one, not both"),
        (
            {
                "dm.directlvm_device": "/dev/vdb",
                "dm.thinp_percent": "95",
                "dm.thinp_metapercent": "6",
            },
            "must not exceed 100",
        ),
        ({"dm.thinp_percent": "100"}, 'dm.thinp_percent="100": expected a number from 1 to 99'),
        ({"dm.thinp_autoextend_threshold": "x"}, "from 1 to 100"),
        ({"dm.libdm_log_level": "8"}, "from 0 to 7"),
        ({"dm.directlvm_device_force": "maybe"}, "expected true or false"),
    ],
)
def test_bad_direct_lvm_options(options, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_options(options)
