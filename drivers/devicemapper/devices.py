"""Which thin device holds which layer, and the transaction that keeps records and pool in step.

Files under the driver's home, all written atomically:
  pool.json          next device id, the base device's id, size, filesystem and UUID
  devices/<id>.json  one layer's device: thin id, size, parent
  transaction.json   the open transaction: its id, the device id, the layer, create or delete
  deferred/<device id>.json  a removed layer's device still busy, to delete later (deferred
                     deletion): its thin id and the layer it held

Every create or delete is one pool transaction: (1) record the open
transaction (pool transaction id + 1), (2) message the pool, (3) write or
remove the layer's record, (4) commit the id in the pool. At start, an open
transaction the pool has not committed is undone (a create) or finished
(a delete), so a kill at any point leaves no device without a record and no
record without a device.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

from bb.drivers.devicemapper.pool import ThinPool
from bb.errors import DriverError
from bb.system.atomic import read_json, remove_file, write_json_atomic

MAX_DEVICE_ID = (1 << 24) - 1


@dataclass
class DeviceRecord:
    """The thin device of one layer."""

    device_id: int
    size: int
    parent: str | None


@dataclass
class PoolRecord:
    """Store-wide facts about the pool."""

    next_device_id: int = 1
    base_device_id: int | None = None
    base_size: int = 0
    filesystem: str = ""
    base_uuid: str = ""


class DeviceStore:
    """Device records and pool transactions (the caller holds the driver's pool lock)."""

    def __init__(self, home: str, pool: ThinPool):
        self.home = home
        self.pool = pool
        self.devices_dir = os.path.join(home, "devices")
        os.makedirs(self.devices_dir, mode=0o700, exist_ok=True)
        self.deferred_dir = os.path.join(home, "deferred")
        self._pool_file = os.path.join(home, "pool.json")
        self._transaction_file = os.path.join(home, "transaction.json")

    # --- records ------------------------------------------------------------------

    def pool_record(self) -> PoolRecord:
        """The store-wide record (defaults for a new store)."""
        if not os.path.exists(self._pool_file):
            return PoolRecord()
        return PoolRecord(**read_json(self._pool_file))

    def save_pool_record(self, record: PoolRecord) -> None:
        """Write the store-wide record."""
        write_json_atomic(self._pool_file, asdict(record))

    def _device_file(self, layer_id: str) -> str:
        return os.path.join(self.devices_dir, layer_id + ".json")

    def get(self, layer_id: str) -> DeviceRecord | None:
        """The device record of a layer, if it has one."""
        try:
            return DeviceRecord(**read_json(self._device_file(layer_id)))
        except FileNotFoundError:
            return None

    def layers(self) -> list[str]:
        """Every layer with a device."""
        return [name[:-5] for name in os.listdir(self.devices_dir) if name.endswith(".json")]

    # --- transactions ---------------------------------------------------------------

    def _allocate_id(self, record: PoolRecord) -> int:
        device_id = record.next_device_id
        record.next_device_id = device_id + 1 if device_id < MAX_DEVICE_ID else 1
        return device_id

    def create(
        self,
        layer_id: str | None,
        origin: tuple[int, str] | None,
        size: int,
        parent: str | None = None,
    ) -> int:
        """A new thin device (snapshot of `origin` if given) recorded for `layer_id`; return its id.

        layer_id None creates the base device, recorded in pool.json.
        """
        record = self.pool_record()
        for _ in range(MAX_DEVICE_ID):
            device_id = self._allocate_id(record)
            transaction_id = self.pool.status().transaction_id
            self._open(transaction_id + 1, device_id, layer_id, "create", record)
            if self.pool.create_device(device_id, origin):
                break
            self._close()  # the kernel knows that id already: try the next
        else:
            raise DriverError("thin pool: no free device id")
        if layer_id is None:
            record.base_device_id, record.base_size = device_id, size
            self.save_pool_record(record)
        else:
            write_json_atomic(
                self._device_file(layer_id), asdict(DeviceRecord(device_id, size, parent))
            )
        self.pool.set_transaction_id(transaction_id, transaction_id + 1)
        self._close()
        return device_id

    def delete(self, layer_id: str) -> None:
        """Delete a layer's device and its record."""
        record = self.get(layer_id)
        if record is not None:
            self._delete(record.device_id, layer_id, self._device_file(layer_id))

    def _delete(self, device_id: int, layer_id: str | None, record_file: str) -> None:
        transaction_id = self.pool.status().transaction_id
        self._open(transaction_id + 1, device_id, layer_id, "delete", None)
        self.pool.delete_device(device_id)
        remove_file(record_file)
        self.pool.set_transaction_id(transaction_id, transaction_id + 1)
        self._close()

    # --- deferred deletion ------------------------------------------------------------

    def _deferred_file(self, device_id: int) -> str:
        return os.path.join(self.deferred_dir, f"{device_id}.json")

    def defer(self, layer_id: str) -> int:
        """The layer is gone, its busy device to be deleted later; return the device's id."""
        record = self.get(layer_id)
        assert record is not None
        os.makedirs(self.deferred_dir, mode=0o700, exist_ok=True)
        write_json_atomic(
            self._deferred_file(record.device_id),
            {"device_id": record.device_id, "layer": layer_id},
        )
        remove_file(self._device_file(layer_id))
        return record.device_id

    def deferred(self) -> list[tuple[int, str]]:
        """(device id, layer id) of each device waiting for deletion."""
        if not os.path.isdir(self.deferred_dir):
            return []
        entries = []
        for name in sorted(os.listdir(self.deferred_dir)):
            if name.endswith(".json"):
                entry = read_json(os.path.join(self.deferred_dir, name))
                entries.append((entry["device_id"], entry["layer"]))
        return entries

    def delete_deferred(self, device_id: int) -> None:
        """Delete a device whose deletion was deferred, and its record."""
        self._delete(device_id, None, self._deferred_file(device_id))

    def _open(
        self,
        transaction_id: int,
        device_id: int,
        layer_id: str | None,
        action: str,
        record: PoolRecord | None,
    ) -> None:
        if record is not None:
            self.save_pool_record(record)
        write_json_atomic(
            self._transaction_file,
            {
                "transaction_id": transaction_id,
                "device_id": device_id,
                "layer": layer_id,
                "action": action,
            },
        )

    def _close(self) -> None:
        remove_file(self._transaction_file)

    def recover(self) -> None:
        """Undo an interrupted create, finish an interrupted delete."""
        if not os.path.exists(self._transaction_file):
            return
        open_transaction = read_json(self._transaction_file)
        status = self.pool.status()
        if open_transaction["transaction_id"] > status.transaction_id:
            device_id, layer_id = open_transaction["device_id"], open_transaction["layer"]
            self.pool.delete_device(device_id)
            if layer_id is None:
                record = self.pool_record()
                if record.base_device_id == device_id:
                    record.base_device_id = None
                    self.save_pool_record(record)
            else:
                existing = self.get(layer_id)
                if existing is None or existing.device_id == device_id:
                    remove_file(self._device_file(layer_id))
            if open_transaction["action"] == "delete":
                remove_file(self._deferred_file(device_id))
            self.pool.set_transaction_id(status.transaction_id, open_transaction["transaction_id"])
        self._close()
